"""First and last frame with the official `runware` SDK, pointed at cinefuse.

pip install runware==0.5.24 "websockets>=14"; usage: python first_last_frame.py first.png last.png
"""

import asyncio
import os
import sys
import urllib.request
import uuid

from runware import IInputFrame, IVideoInference, IVideoInputs, Runware

WS_URL = os.environ.get("CINEFUSE_URL", "http://127.0.0.1:8000").replace("http", "ws", 1) + "/v1"


async def main() -> None:
    runware = Runware(api_key=os.environ["CINEFUSE_API_KEY"], url=WS_URL)
    await runware.connect()
    try:
        first, last = [await runware.uploadImage(path) for path in sys.argv[1:3]]
        frames = [IInputFrame(image=first.imageUUID, frame="first"), IInputFrame(image=last.imageUUID, frame="last")]
        request = IVideoInference(
            taskUUID=str(uuid.uuid4()),
            model="pixverse:1@3",
            positivePrompt="a smooth transition from day to night",
            inputs=IVideoInputs(frameImages=frames),
            resolution="360p",
            duration=5,
            numberResults=1,
        )
        await runware.videoInference(requestVideo=request)  # the acknowledgement (async delivery)
        [video] = await runware.getResponse(taskUUID=request.taskUUID, numberResults=1)
        urllib.request.urlretrieve(video.videoURL, "clip.mp4")
        print(f"wrote clip.mp4 (seed {video.seed})")
    finally:
        await runware.disconnect()


asyncio.run(main())
