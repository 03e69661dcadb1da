#!/usr/bin/env bash
# Text to video with curl: submit a videoInference task, poll getResponse, download the clip.
# Needs curl, jq and python3 (for a UUID). CINEFUSE_URL defaults to http://127.0.0.1:8000.
set -euo pipefail
URL=${CINEFUSE_URL:-http://127.0.0.1:8000}
AUTH="Authorization: Bearer ${CINEFUSE_API_KEY:?set CINEFUSE_API_KEY (cinefuse keys prints it)}"
TASK=$(python3 -c 'import uuid; print(uuid.uuid4())')

curl -sS --fail-with-body "$URL/v1" -H "$AUTH" -H 'Content-Type: application/json' -d '[{
  "taskType": "videoInference", "taskUUID": "'"$TASK"'", "model": "pixverse:1@3",
  "positivePrompt": "a lighthouse on a cliff at sunset, waves crashing, cinematic",
  "resolution": "360p", "duration": 5
}]'
echo

while :; do  # every result is "processing" (with "progress") until it is "success" or an error
  REPLY=$(curl -sS "$URL/v1" -H "$AUTH" -d '[{"taskType": "getResponse", "taskUUID": "'"$TASK"'"}]')
  [ "$(jq -r '[(.data // [])[], (.errors // [])[]][0].status' <<<"$REPLY")" = processing ] || break
  sleep 1
done
VIDEO=$(jq -r '.data[0].videoURL // empty' <<<"$REPLY")
[ -n "$VIDEO" ] || { echo "$REPLY" >&2; exit 1; }
curl -sS --fail -o clip.mp4 "$VIDEO" && echo "wrote clip.mp4"
