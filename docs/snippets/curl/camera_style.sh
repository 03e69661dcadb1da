#!/usr/bin/env bash
# Camera movement and style with curl (providerSettings.pixverse). With either, the duration
# must be 5 s and the size at most 720p. Needs curl, jq and python3.
set -euo pipefail
URL=${CINEFUSE_URL:-http://127.0.0.1:8000}
AUTH="Authorization: Bearer ${CINEFUSE_API_KEY:?set CINEFUSE_API_KEY (cinefuse keys prints it)}"
TASK=$(python3 -c 'import uuid; print(uuid.uuid4())')

curl -sS --fail-with-body "$URL/v1" -H "$AUTH" -d '[{
  "taskType": "videoInference", "taskUUID": "'"$TASK"'", "model": "pixverse:1@3",
  "positivePrompt": "a neon city at night, rain on the streets",
  "providerSettings": {"pixverse": {"cameraMovement": "zoom_in", "style": "cyberpunk"}},
  "resolution": "360p", "duration": 5, "seed": 42
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
