"""An effect on a photo with the official `runware` SDK, pointed at cinefuse.

pip install runware==0.5.24 "websockets>=14"; usage: python effect.py photo.png
"""

import asyncio
import os
import sys
import urllib.request
import uuid

from runware import IInputFrame, IPixverseProviderSettings, IVideoInference, IVideoInputs, Runware

WS_URL = os.environ.get("CINEFUSE_URL", "http://127.0.0.1:8000").replace("http", "ws", 1) + "/v1"


async def main() -> None:
    runware = Runware(api_key=os.environ["CINEFUSE_API_KEY"], url=WS_URL)
    await runware.connect()
    try:
        upload = await runware.uploadImage(sys.argv[1])
        request = IVideoInference(
            taskUUID=str(uuid.uuid4()),
            model="pixverse:1@3",
            positivePrompt="the scene bursts into motion",
            providerSettings=IPixverseProviderSettings(effect="boom drop"),
            inputs=IVideoInputs(frameImages=[IInputFrame(image=upload.imageUUID)]),
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
