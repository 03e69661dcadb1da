"""A webhook receiver that checks Standard Webhooks signatures (standard library only).

cinefuse POSTs every result to the task's ``webhookURL`` with ``webhook-id``,
``webhook-timestamp`` and, when the operator set a secret for the API key
(``CINEFUSE_WEBHOOK_SECRETS=<api key>:whsec_...``), ``webhook-signature: v1,<base64 HMAC-SHA256
of "<id>.<timestamp>.<body>">``. Retries keep the same ``webhook-id``: drop duplicates.

Usage: WEBHOOK_SECRET=whsec_... python webhook_receiver.py [PORT]
Then submit with "webhookURL": "http://THIS-HOST:PORT/hooks/cinefuse".
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["WEBHOOK_SECRET"]
KEY = base64.b64decode(SECRET.removeprefix("whsec_")) if SECRET.startswith("whsec_") else SECRET.encode()
TOLERANCE_S = 5 * 60  # refuse old (replayed) timestamps
seen: set[str] = set()


def verified(headers, body: bytes) -> bool:
    message_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not message_id or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_S:
        return False
    digest = hmac.new(KEY, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    signatures = headers.get("webhook-signature", "").split()  # several when secrets rotate
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], expected) for s in signatures)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not verified(self.headers, body):
            self.send_response(401)
            self.end_headers()
            return
        self.send_response(204)  # answer fast (any 2xx); a non-2xx or a timeout is retried
        self.end_headers()
        if self.headers["webhook-id"] in seen:
            return
        seen.add(self.headers["webhook-id"])
        reply = json.loads(body)
        for item in reply.get("data", []) + reply.get("errors", []):
            print(f"verified {self.headers['webhook-id']}: {item['status']} {item.get('videoURL', item.get('code'))}")
        sys.stdout.flush()

    def log_message(self, *args) -> None:  # quiet
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    print(f"listening on port {port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
