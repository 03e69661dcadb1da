#!/usr/bin/env bash
# Deliver the result to S3 with curl: UPLOAD_URL is a presigned PUT URL (made with any S3 SDK,
# see ../httpx/s3_upload.py); the server PUTs the finished file there. Needs curl, jq, python3.
set -euo pipefail
URL=${CINEFUSE_URL:-http://127.0.0.1:8000}
AUTH="Authorization: Bearer ${CINEFUSE_API_KEY:?set CINEFUSE_API_KEY (cinefuse keys prints it)}"
TASK=$(python3 -c 'import uuid; print(uuid.uuid4())')

jq -n --arg task "$TASK" --arg upload "${UPLOAD_URL:?set UPLOAD_URL to a presigned S3 PUT URL}" '[{
  taskType: "videoInference", taskUUID: $task, model: "pixverse:1@3",
  positivePrompt: "a red paper boat drifting on a calm lake", uploadEndpoint: $upload,
  resolution: "360p", duration: 5
}]' | curl -sS --fail-with-body "$URL/v1" -H "$AUTH" --data-binary @-
echo

while :; do  # success means rendered; the upload follows (a failed one turns the result into uploadFailed)
  REPLY=$(curl -sS "$URL/v1" -H "$AUTH" -d '[{"taskType": "getResponse", "taskUUID": "'"$TASK"'"}]')
  [ "$(jq -r '[(.data // [])[], (.errors // [])[]][0].status' <<<"$REPLY")" = processing ] || break
  sleep 1
done
jq -e '.data[0].status == "success"' <<<"$REPLY" >/dev/null || { echo "$REPLY" >&2; exit 1; }
echo "rendered $TASK; the server uploads it to the presigned URL"
