"""API keys: where they come from and how a request's key is recognised.

Keys come from ``CINEFUSE_API_KEYS``; when that is unset, one key is created at first
start, kept in ``<data dir>/api_key`` (mode 0600) and printed. The store keeps only
SHA-256 hashes (``api.auth.KeyRing`` recognises a presented key). The media URL secret is
made the same way.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from cinefuse.jobs.store.keys import KeyRepository, hash_key
from cinefuse.settings import Settings

KEY_FILE = "api_key"


SECRET_FILE = "media.secret"


def configured_keys(settings: Settings) -> tuple[list[str], bool]:
    """(keys, created): the configured keys, or the data dir's key (created if absent).
    Raises ``ValueError`` rather than start with no usable key (a setting of separators
    only, a blank key file)."""
    if settings.api_keys:
        keys = [k.strip() for k in settings.api_keys.split(",") if k.strip()]
        if not keys:
            raise ValueError("CINEFUSE_API_KEYS names no key (only separators or blanks)")
        return keys, False
    key, created = _read_or_create(settings.data_dir / KEY_FILE, lambda: secrets.token_urlsafe(32))
    return [key], created


def load_or_create_secret(settings: Settings) -> bytes:
    """The media URL signing secret: configured, or generated once per data dir. Raises
    ``ValueError`` for a blank secret file rather than sign URLs with an empty key."""
    if settings.media_secret:
        return settings.media_secret.encode()
    secret, _ = _read_or_create(settings.data_dir / SECRET_FILE, lambda: secrets.token_hex(32))
    return secret.encode()


def _read_or_create(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """(the value in ``path``, whether this call created it). The file appears complete or
    not at all (written aside, then linked into place), so processes starting together on
    one data dir all read the same value; a blank file is refused with ``ValueError``."""
    created = False
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp's file is 0600 already
                handle.write(make() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)  # fails if another process got there first: read theirs
            created = True
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"{path} is empty: remove it to have a new one made, or put a value in it")
    return value, created


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
