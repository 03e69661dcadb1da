"""An in-memory media store for tests: objects in a dict, links that go nowhere."""

from __future__ import annotations

import threading
from pathlib import Path

from cinefuse.storage.base import MediaStore, validate_key


class MemoryMediaStore(MediaStore):
    """Keeps ``key -> (bytes, content_type)``; ``signed_url`` gives ``memory://<key>?expires=<t>``."""

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self.put_bytes(key, path.read_bytes(), content_type)
        path.unlink()

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        validate_key(key)
        with self._lock:
            self._objects[key] = (data, content_type)

    def read_bytes(self, key: str) -> bytes:
        validate_key(key)
        with self._lock:
            if key not in self._objects:
                raise FileNotFoundError(key)
            return self._objects[key][0]

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            return key in self._objects

    def signed_url(self, key: str, expires_at: int) -> str:
        return f"memory://{validate_key(key)}?expires={expires_at}"

    def open_local(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def get(self, key: str) -> tuple[bytes, str]:
        """The stored bytes and content type of ``key``; ``KeyError`` when absent."""
        validate_key(key)
        with self._lock:
            return self._objects[key]

    def keys(self) -> list[str]:
        """Every stored key, sorted."""
        with self._lock:
            return sorted(self._objects)
