"""A media store in a local directory, with HMAC-signed expiring URLs served by this server.

A URL is ``{public_base_url}/media/{key}?expires={expires_at}&sig={sig}`` where ``sig`` is
HMAC-SHA256(secret, ``f"{key}\\n{expires_at}"``) in URL-safe base64 without padding. The
media route (``api/media.py``) checks it with ``verify`` and serves the file.

Writes are atomic: data goes to a temporary file beside the target (a name that no valid
key can take, see ``storage.base``) and is renamed over it with ``os.replace``, so a reader
sees the old object or the whole new one, never a partial file.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import hmac
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

from cinefuse.storage.base import MediaStore, validate_key

_TEMP_PREFIX = ".tmp-"  # a leading dot: never a valid key segment
# Unix seconds fit in 19 digits until long after the sun goes out; longer "expires" values
# are not ours, and parsing them would let a client make int() chew on megabytes.
_MAX_EXPIRES_DIGITS = 19

Verdict = Literal["ok", "expired", "invalid"]
_Writer = Callable[[BinaryIO], object]


def sign(secret: bytes, key: str, expires_at: int) -> str:
    """The ``sig`` query value for ``key`` expiring at ``expires_at`` (unix seconds)."""
    digest = hmac.new(secret, f"{key}\n{expires_at}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class LocalMediaStore(MediaStore):
    """Files under ``root``; links under ``public_base_url`` (no trailing slash needed).

    ``secret`` signs the links: keep it stable across restarts, or every issued URL stops
    working. ``content_type`` arguments are not recorded: the media route derives the type
    from the key's extension, so keys must carry the right one.
    """

    def __init__(self, root: Path, public_base_url: str, secret: bytes) -> None:
        if not secret:
            raise ValueError("the signing secret must not be empty")
        self.root = root
        self.public_base_url = public_base_url.rstrip("/")
        self._secret = secret
        root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        """Where ``key`` lives under ``root`` (whether or not it exists)."""
        return self.root / validate_key(key)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self.path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Same file system: a rename is atomic and costs no copy.
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            with path.open("rb") as source:
                self._write_atomically(target, lambda out: shutil.copyfileobj(source, out))
            path.unlink()

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        target = self.path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._write_atomically(target, lambda out: out.write(data))

    def read_bytes(self, key: str) -> bytes:
        return self.path_for(key).read_bytes()

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def signed_url(self, key: str, expires_at: int) -> str:
        validate_key(key)
        signature = sign(self._secret, key, expires_at)
        return f"{self.public_base_url}/media/{key}?expires={expires_at}&sig={signature}"

    def open_local(self, key: str) -> Path | None:
        path = self.path_for(key)
        return path if path.is_file() else None

    def verify(self, key: str, expires: str, sig: str, now: float) -> Verdict:
        """Judge a request for ``key`` carrying the ``expires`` and ``sig`` query values.

        ``"invalid"`` for a malformed key or expiry, or a signature that does not match
        (compared in constant time); ``"expired"`` only for a genuine signature whose expiry
        is not after ``now`` (unix seconds), so a forger learns nothing about expiry;
        ``"ok"`` otherwise. Whether the file exists is not checked.
        """
        try:
            validate_key(key)
        except ValueError:
            return "invalid"
        if not (expires.isascii() and expires.isdigit() and len(expires) <= _MAX_EXPIRES_DIGITS):
            return "invalid"
        expected = sign(self._secret, key, int(expires))
        if not hmac.compare_digest(expected.encode("ascii"), sig.encode("utf-8", "replace")):
            return "invalid"
        return "ok" if now < int(expires) else "expired"

    def _write_atomically(self, target: Path, write: _Writer) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                # On disk before the rename, so a crash cannot leave an empty file under the key.
                os.fsync(out.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
