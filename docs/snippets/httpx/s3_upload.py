"""Deliver results straight to S3: a presigned PUT URL as the task's uploadEndpoint.

The server PUTs the finished file there (with Content-Length, as presigned URLs require) and
retries on errors; a final failure makes that result ``uploadFailed``, and the file stays at
its videoURL. Needs ``pip install httpx boto3`` and AWS credentials (or S3_ENDPOINT_URL for an
S3-compatible store). The server must be allowed to reach the bucket's host: a private address
needs CINEFUSE_OUTBOUND_ALLOW.

Usage: S3_BUCKET=my-bucket python s3_upload.py
"""

import os
import time
import uuid

import boto3
import httpx

URL = os.environ.get("CINEFUSE_URL", "http://127.0.0.1:8000")
client = httpx.Client(headers={"Authorization": f"Bearer {os.environ['CINEFUSE_API_KEY']}"}, timeout=120)
s3 = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL"))
bucket, key = os.environ["S3_BUCKET"], f"renders/{uuid.uuid4()}.mp4"
upload_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)

task = {
    "taskType": "videoInference",
    "taskUUID": str(uuid.uuid4()),
    "model": "pixverse:1@3",
    "positivePrompt": "a red paper boat drifting on a calm lake",
    "uploadEndpoint": upload_url,
    "resolution": "360p",
    "duration": 5,
}
reply = client.post(f"{URL}/v1", json=[task]).json()
if "errors" in reply:
    raise SystemExit(f"refused: {reply['errors']}")

deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    reply = client.post(f"{URL}/v1", json=[{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]).json()
    if reply.get("errors"):  # e.g. uploadFailed
        raise SystemExit(f"failed: {reply['errors']}")
    if reply["data"] and reply["data"][0]["status"] == "success":
        try:  # rendered; the upload follows within moments
            size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except s3.exceptions.ClientError:
            size = None
        if size:
            print(f"uploaded s3://{bucket}/{key} ({size} bytes)")
            break
    time.sleep(1)
else:
    raise SystemExit("no upload within 10 minutes")
