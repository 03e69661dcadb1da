#!/usr/bin/env bash
# Image to video with curl: upload the image (imageUpload), animate it from that first frame.
# Usage: image_to_video.sh first.png   (needs curl, jq, python3; GNU base64)
set -euo pipefail
URL=${CINEFUSE_URL:-http://127.0.0.1:8000}
AUTH="Authorization: Bearer ${CINEFUSE_API_KEY:?set CINEFUSE_API_KEY (cinefuse keys prints it)}"
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }

# The image as a data URI, streamed from stdin: no command-line length limit.
IMAGE=$({ printf '[{"taskType": "imageUpload", "taskUUID": "%s", "image": "data:image/png;base64,' "$(uuid)"
  base64 -w0 "$1"; printf '"}]'; } | curl -sS --fail-with-body "$URL/v1" -H "$AUTH" --data-binary @- |
  jq -r '.data[0].imageUUID')

TASK=$(uuid)
curl -sS --fail-with-body "$URL/v1" -H "$AUTH" -d '[{
  "taskType": "videoInference", "taskUUID": "'"$TASK"'", "model": "pixverse:1@3",
  "positivePrompt": "the camera slowly pushes in, soft evening light",
  "inputs": {"frameImages": [{"image": "'"$IMAGE"'", "frame": "first"}]},
  "resolution": "360p", "duration": 5
}]'
echo

while :; do
  REPLY=$(curl -sS "$URL/v1" -H "$AUTH" -d '[{"taskType": "getResponse", "taskUUID": "'"$TASK"'"}]')
  [ "$(jq -r '[(.data // [])[], (.errors // [])[]][0].status' <<<"$REPLY")" = processing ] || break
  sleep 1
done
VIDEO=$(jq -r '.data[0].videoURL // empty' <<<"$REPLY")
[ -n "$VIDEO" ] || { echo "$REPLY" >&2; exit 1; }
curl -sS --fail -o clip.mp4 "$VIDEO" && echo "wrote clip.mp4"
