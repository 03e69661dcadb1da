"""Local and in-memory media stores: keys, atomic writes, signing and verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cinefuse.storage.base import MediaStore, validate_key
from cinefuse.storage.local import LocalMediaStore
from cinefuse.storage.memory import MemoryMediaStore

SECRET = b"test-secret"
KEY = "videos/3f2504e0-4f89-41d3-9a0c-0305e82c3301.mp4"
EXPIRES = 1_900_000_000


@pytest.fixture
def store(tmp_path: Path) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media", "https://cine.example/", SECRET)


def _query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {name: values[0] for name, values in parse_qs(parts.query).items()}


# --- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [KEY, "images/a.png", "a", "x/y/z_1-2.webm", "A.B.C"])
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs.mp4",
        "../up.mp4",
        "videos/../../etc/passwd",
        "videos/./a.mp4",
        "videos/.hidden",
        "videos//a.mp4",
        "videos/",
        "videos\\a.mp4",
        "videos/a b.mp4",
        "videos/a.mp4\n",
        "videos/a%2e.mp4",
        "videos/-rf",
        "vidéos/a.mp4",
        "a" * 513,
    ],
)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(ValueError, match="invalid media key"):
        validate_key(key)


@pytest.mark.parametrize("factory", ["local", "memory"])
def test_every_method_validates_keys(factory: str, tmp_path: Path) -> None:
    media: MediaStore = LocalMediaStore(tmp_path, "http://h", SECRET) if factory == "local" else MemoryMediaStore()
    bad = "../escape.mp4"
    source = tmp_path / "src.bin"
    source.write_bytes(b"x")
    calls: list[Callable[[], object]] = [
        lambda: media.put_bytes(bad, b"x", "video/mp4"),
        lambda: media.put_file(bad, source, "video/mp4"),
        lambda: media.read_bytes(bad),
        lambda: media.delete(bad),
        lambda: media.exists(bad),
        lambda: media.signed_url(bad, EXPIRES),
        lambda: media.open_local(bad),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert not (tmp_path.parent / "escape.mp4").exists()
    assert source.exists()


# --- local files --------------------------------------------------------------------------


def test_put_bytes_round_trip(store: LocalMediaStore) -> None:
    store.put_bytes(KEY, b"video bytes", "video/mp4")
    assert store.exists(KEY)
    path = store.open_local(KEY)
    assert path == store.root / KEY
    assert path.read_bytes() == b"video bytes"
    assert store.read_bytes(KEY) == b"video bytes"


def test_read_missing_key(store: LocalMediaStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.read_bytes(KEY)


def test_put_bytes_replaces_and_leaves_no_temporaries(store: LocalMediaStore) -> None:
    store.put_bytes(KEY, b"old", "video/mp4")
    store.put_bytes(KEY, b"new", "video/mp4")
    assert store.path_for(KEY).read_bytes() == b"new"
    assert [p.name for p in (store.root / "videos").iterdir()] == [Path(KEY).name]


def test_put_file_moves_the_file_in(store: LocalMediaStore, tmp_path: Path) -> None:
    source = tmp_path / "encoded.mp4"
    source.write_bytes(b"\x00" * 1000)
    store.put_file(KEY, source, "video/mp4")
    assert not source.exists()
    assert store.path_for(KEY).read_bytes() == b"\x00" * 1000


def test_put_file_across_file_systems_copies(
    store: LocalMediaStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    real_replace = os.replace
    source = tmp_path / "encoded.mp4"
    source.write_bytes(b"payload")

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(src) == source:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    store.put_file(KEY, source, "video/mp4")
    assert not source.exists()
    assert store.path_for(KEY).read_bytes() == b"payload"
    assert [p.name for p in (store.root / "videos").iterdir()] == [Path(KEY).name]


def test_failed_write_leaves_nothing(store: LocalMediaStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put_bytes(KEY, b"data", "video/mp4")
    assert not store.exists(KEY)
    assert list((store.root / "videos").iterdir()) == []


def test_delete_is_idempotent(store: LocalMediaStore) -> None:
    store.put_bytes(KEY, b"x", "video/mp4")
    store.delete(KEY)
    store.delete(KEY)
    assert not store.exists(KEY)
    assert store.open_local(KEY) is None


def test_concurrent_writers_never_expose_partial_files(store: LocalMediaStore) -> None:
    size = 200_000
    payloads = [bytes([i]) * size for i in range(4)]
    torn: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            path = store.open_local(KEY)
            if path is not None:
                data = path.read_bytes()  # one open: one version of the file
                if len(data) != size or data[0] != data[-1]:
                    torn.append(len(data))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(5):
            for payload in payloads:
                store.put_bytes(KEY, payload, "video/mp4")
    finally:
        stop.set()
        thread.join()
    assert torn == []


# --- signing ------------------------------------------------------------------------------


def test_signed_url_shape(store: LocalMediaStore) -> None:
    url = store.signed_url(KEY, EXPIRES)
    assert url.startswith(f"https://cine.example/media/{KEY}?")
    path, query = _query(url)
    assert path == f"/media/{KEY}"
    assert query["expires"] == str(EXPIRES)
    digest = hmac.new(SECRET, f"{KEY}\n{EXPIRES}".encode(), hashlib.sha256).digest()
    assert query["sig"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert "=" not in query["sig"]


def test_verify_ok_and_expired(store: LocalMediaStore) -> None:
    _, query = _query(store.signed_url(KEY, EXPIRES))
    assert store.verify(KEY, query["expires"], query["sig"], now=EXPIRES - 1) == "ok"
    assert store.verify(KEY, query["expires"], query["sig"], now=EXPIRES) == "expired"
    assert store.verify(KEY, query["expires"], query["sig"], now=EXPIRES + 3600) == "expired"


@pytest.mark.parametrize(
    ("key", "expires", "sig"),
    [
        ("videos/other.mp4", None, None),  # signature of another key
        (None, str(EXPIRES + 1), None),  # extended expiry
        (None, None, "AAAA"),  # forged
        (None, None, ""),
        (None, "", None),
        (None, "-1", None),
        (None, "1e9", None),
        (None, "1" * 5000, None),
        (None, None, "é" * 43),
        ("../" + KEY, None, None),
    ],
)
def test_verify_invalid(store: LocalMediaStore, key: str | None, expires: str | None, sig: str | None) -> None:
    _, query = _query(store.signed_url(KEY, EXPIRES))
    verdict = store.verify(
        key if key is not None else KEY,
        expires if expires is not None else query["expires"],
        sig if sig is not None else query["sig"],
        now=EXPIRES + 10**6,  # expired even: a bad signature must still say "invalid"
    )
    assert verdict == "invalid"


def test_other_secret_does_not_verify(tmp_path: Path) -> None:
    first = LocalMediaStore(tmp_path, "http://h", b"one")
    second = LocalMediaStore(tmp_path, "http://h", b"two")
    _, query = _query(first.signed_url(KEY, EXPIRES))
    assert second.verify(KEY, query["expires"], query["sig"], now=0) == "invalid"


def test_empty_secret_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalMediaStore(tmp_path, "http://h", b"")


# --- memory -------------------------------------------------------------------------------


def test_memory_store(tmp_path: Path) -> None:
    media = MemoryMediaStore()
    media.put_bytes("images/a.png", b"png", "image/png")
    source = tmp_path / "v.mp4"
    source.write_bytes(b"mp4")
    media.put_file(KEY, source, "video/mp4")
    assert not source.exists()
    assert media.get(KEY) == (b"mp4", "video/mp4")
    assert media.read_bytes(KEY) == b"mp4"
    assert media.keys() == ["images/a.png", KEY]
    assert media.exists("images/a.png")
    assert media.open_local(KEY) is None
    assert media.signed_url(KEY, EXPIRES) == f"memory://{KEY}?expires={EXPIRES}"
    media.delete(KEY)
    media.delete(KEY)
    assert not media.exists(KEY)
    with pytest.raises(KeyError):
        media.get(KEY)
    with pytest.raises(FileNotFoundError):
        media.read_bytes(KEY)
