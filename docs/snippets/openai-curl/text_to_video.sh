#!/usr/bin/env bash
# Text to video through the OpenAI-style API with curl: create, poll, download.
# Needs curl and jq. CINEFUSE_URL defaults to http://127.0.0.1:8000.
set -euo pipefail
URL=${CINEFUSE_URL:-http://127.0.0.1:8000}
AUTH="Authorization: Bearer ${CINEFUSE_API_KEY:?set CINEFUSE_API_KEY (cinefuse keys prints it)}"

VIDEO=$(curl -sS --fail-with-body "$URL/v1/videos" -H "$AUTH" \
  -F model=sora-2 -F prompt="a lighthouse on a cliff at sunset, waves crashing, cinematic" \
  -F seconds=4 -F size=640x360)
ID=$(jq -r .id <<<"$VIDEO")

while :; do  # queued, then in_progress (with progress), then completed or failed
  VIDEO=$(curl -sS --fail-with-body "$URL/v1/videos/$ID" -H "$AUTH")
  case $(jq -r .status <<<"$VIDEO") in completed | failed) break ;; esac
  sleep 1
done
[ "$(jq -r .status <<<"$VIDEO")" = completed ] || { echo "$VIDEO" >&2; exit 1; }
curl -sS --fail -o clip.mp4 "$URL/v1/videos/$ID/content" -H "$AUTH" && echo "wrote clip.mp4 ($(jq -r .seconds <<<"$VIDEO") s)"
