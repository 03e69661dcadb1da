"""Webhook signatures in the Standard Webhooks scheme (https://www.standardwebhooks.com).

Headers on every call: ``webhook-id`` (stable across retries, so receivers can drop
duplicates), ``webhook-timestamp`` (unix seconds of this attempt) and, when the API key
has a signing secret, ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``"{id}.{timestamp}.{body}"``. Secrets look like ``whsec_<base64>``; the HMAC key is the
decoded part (a secret without the prefix is used as raw UTF-8 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"


def secret_bytes(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret_bytes(secret), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(message_id: str, timestamp: int, body: bytes, secret: str | None) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
    }
    if secret:
        headers["webhook-signature"] = sign(secret, message_id, timestamp, body)
    return headers
