"""Text to video with the official `runware-sdk`, pointed at cinefuse.

pip install runware-sdk==1.8.0; usage: python text_to_video.py
"""

import asyncio
import os
import urllib.request
import uuid

from runware import Runware

URL = os.environ.get("CINEFUSE_URL", "http://127.0.0.1:8000")


async def main() -> None:
    # REST; for WebSocket: transport="websocket", ws_base_url=URL.replace("http", "ws", 1) + "/v1"
    runware = Runware(api_key=os.environ["CINEFUSE_API_KEY"], transport="rest", http_base_url=f"{URL}/v1")
    await runware.connect()
    try:
        task = {
            "taskType": "videoInference",  # explicit: no lookup of the model's task type online
            "taskUUID": str(uuid.uuid4()),
            "model": "pixverse:1@3",
            "positivePrompt": "a lighthouse on a cliff at sunset, waves crashing, cinematic",
            "resolution": "360p",
            "duration": 5,
        }
        [video] = await runware.run(task)  # submits, then polls getResponse until the result is there
        urllib.request.urlretrieve(video["videoURL"], "clip.mp4")
        print(f"wrote clip.mp4 (seed {video['seed']})")
    finally:
        await runware.close()


asyncio.run(main())
