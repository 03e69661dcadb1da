"""API keys: where they come from and how a request's key is recognised.

Keys come from ``CINEFUSE_API_KEYS``; when that is unset, one key is created at first
start, kept in ``<data dir>/api_key`` (mode 0600) and printed. The store keeps only
SHA-256 hashes (``api.auth.KeyRing`` recognises a presented key). The media URL secret is
made the same way.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cinefuse.jobs.store.keys import KeyRepository, hash_key
from cinefuse.settings import Settings

KEY_FILE = "api_key"


def configured_keys(settings: Settings) -> tuple[list[str], bool]:
    """(keys, created): the configured keys, or the data dir's key (created if absent)."""
    if settings.api_keys:
        return [k.strip() for k in settings.api_keys.split(",") if k.strip()], False
    path = settings.data_dir / KEY_FILE
    if path.exists():
        return [path.read_text().strip()], False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    _write_private(path, key)
    return [key], True


def load_or_create_secret(settings: Settings) -> bytes:
    """The media URL signing secret: configured, or generated once per data dir."""
    if settings.media_secret:
        return settings.media_secret.encode()
    path = settings.data_dir / "media.secret"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _write_private(path, secrets.token_hex(32))
    return path.read_text().strip().encode()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def webhook_secrets(settings: Settings, keys: KeyRepository) -> dict[int, str]:
    """key id -> webhook signing secret, from ``CINEFUSE_WEBHOOK_SECRETS``."""
    ids = keys.ids()
    out: dict[int, str] = {}
    for pair in filter(None, (p.strip() for p in settings.webhook_secrets.split(","))):
        api_key, _, secret = pair.partition(":")
        key_id = ids.get(hash_key(api_key))
        if key_id is None or not secret:
            raise ValueError("CINEFUSE_WEBHOOK_SECRETS: each entry must be <known api key>:<secret>")
        out[key_id] = secret
    return out
