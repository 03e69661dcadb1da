#!/usr/bin/env bash
# An effect on a photo with curl (providerSettings.pixverse.effect; not with cameraMovement).
# Usage: effect.sh photo.png   (needs curl, jq, python3; GNU base64)
set -euo pipefail
URL=${CINEFUSE_URL:-http://127.0.0.1:8000}
AUTH="Authorization: Bearer ${CINEFUSE_API_KEY:?set CINEFUSE_API_KEY (cinefuse keys prints it)}"
TASK=$(python3 -c 'import uuid; print(uuid.uuid4())')

{ printf '[{"taskType": "videoInference", "taskUUID": "%s", "model": "pixverse:1@3",' "$TASK"
  printf ' "positivePrompt": "the scene bursts into motion", "resolution": "360p", "duration": 5,'
  printf ' "providerSettings": {"pixverse": {"effect": "boom drop"}},'
  printf ' "inputs": {"frameImages": ["data:image/png;base64,'; base64 -w0 "$1"; printf '"]}}]'
} | curl -sS --fail-with-body "$URL/v1" -H "$AUTH" --data-binary @-
echo

while :; do
  REPLY=$(curl -sS "$URL/v1" -H "$AUTH" -d '[{"taskType": "getResponse", "taskUUID": "'"$TASK"'"}]')
  [ "$(jq -r '[(.data // [])[], (.errors // [])[]][0].status' <<<"$REPLY")" = processing ] || break
  sleep 1
done
VIDEO=$(jq -r '.data[0].videoURL // empty' <<<"$REPLY")
[ -n "$VIDEO" ] || { echo "$REPLY" >&2; exit 1; }
curl -sS --fail -o clip.mp4 "$VIDEO" && echo "wrote clip.mp4"
