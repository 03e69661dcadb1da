"""First and last frame with the official `runware-sdk`, pointed at cinefuse.

pip install runware-sdk==1.8.0; usage: python first_last_frame.py first.png last.png
"""

import asyncio
import os
import sys
import urllib.request
import uuid

from runware import Runware, file_to_data_uri

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
            "positivePrompt": "a smooth transition from day to night",
            "inputs": {
                "frameImages": [
                    {"image": file_to_data_uri(sys.argv[1]), "frame": "first"},
                    {"image": file_to_data_uri(sys.argv[2]), "frame": "last"},
                ]
            },
            "resolution": "360p",
            "duration": 5,
        }
        [video] = await runware.run(task)  # submits, then polls getResponse until the result is there
        urllib.request.urlretrieve(video["videoURL"], "clip.mp4")
        print(f"wrote clip.mp4 (seed {video['seed']})")
    finally:
        await runware.close()


asyncio.run(main())
