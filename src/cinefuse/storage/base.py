"""The media store: where finished videos and uploaded images live, and how they are linked.

One abstract base, three implementations: ``LocalMediaStore`` (a directory, URLs signed by
this server and served by ``api/media.py``), ``S3MediaStore`` (a bucket, presigned GET URLs)
and ``MemoryMediaStore`` (tests).

Keys are relative slash paths such as ``videos/<uuid>.mp4`` or ``images/<uuid>.png``: segments
of ASCII letters, digits, ``.``, ``_`` and ``-``, none starting with a dot or a dash, at most
``MAX_KEY_LENGTH`` characters. Such a key can be neither absolute nor climb out of its root
(no ``..``), never names a hidden or temporary file, and needs no escaping in a URL. Every
method refuses any other key with ``ValueError``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path

MAX_KEY_LENGTH = 512
# No segment may start with "." (so neither "." nor ".." nor hidden/temporary files) or "-".
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a well-formed media key, else raise ``ValueError``."""
    if len(key) > MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise ValueError(f"invalid media key: {key!r}")
    return key


class MediaStore(ABC):
    """Holds media under keys and hands out expiring links to them.

    Implementations are safe to call from several threads at once.
    """

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the finished local file ``path`` under ``key``, replacing any earlier object.

        The store takes the file over: on success ``path`` no longer exists (the local store
        moves it in, others upload and remove it). Readers never see a partial object.
        """

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing any earlier object, atomically."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """The whole object stored under ``key``; ``FileNotFoundError`` when there is none.

        Meant for images (at most a few MB), not for streaming videos.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; removing a key that is not there is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abstractmethod
    def signed_url(self, key: str, expires_at: int) -> str:
        """A URL that serves ``key`` until ``expires_at`` (unix seconds), then stops working.

        Signing does not check that the object exists.
        """

    @abstractmethod
    def open_local(self, key: str) -> Path | None:
        """The local file holding ``key``, or None when it is missing or the store is remote."""
