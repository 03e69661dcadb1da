"""Text to video with the official OpenAI Python SDK (pip install openai==3.51.0), pointed at cinefuse.

Usage: python text_to_video.py
"""

import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("CINEFUSE_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ["CINEFUSE_API_KEY"],
)
video = client.videos.create_and_poll(
    model="sora-2",  # an alias of the server's fastest engine (docs/openai.md); any cinefuse model id works too
    prompt="a lighthouse on a cliff at sunset, waves crashing, cinematic",
    seconds="4",  # the model's nearest duration is rendered: video.seconds says which
    size="640x360",
)
if video.status != "completed":
    raise SystemExit(f"video {video.id} {video.status}: {video.error}")
client.videos.download_content(video.id).write_to_file("clip.mp4")
print(f"wrote clip.mp4 ({video.seconds} s, {video.size})")
