"""S3 media store against a real S3 API (moto's threaded server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from cinefuse.storage.s3 import MAX_PRESIGN_SECONDS, S3MediaStore

BUCKET = "cinefuse-test"
KEY = "videos/3f2504e0-4f89-41d3-9a0c-0305e82c3301.mp4"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def _store(endpoint: str, prefix: str = "", now: float = NOW, bucket: str = BUCKET) -> S3MediaStore:
    return S3MediaStore(
        bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        prefix=prefix,
        clock=lambda: now,
    )


def _expires_in(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])


def test_put_file_then_presigned_get(endpoint: str, tmp_path: Path) -> None:
    import time

    store = _store(endpoint, now=time.time())
    body = bytes(range(256)) * 400
    source = tmp_path / "encoded.mp4"
    source.write_bytes(body)
    store.put_file(KEY, source, "video/mp4")
    assert not source.exists()
    assert store.exists(KEY)
    assert store.open_local(KEY) is None

    reply = httpx.get(store.signed_url(KEY, int(time.time()) + 600), trust_env=False)
    assert reply.status_code == 200
    assert reply.content == body
    assert reply.headers["content-type"] == "video/mp4"

    store.delete(KEY)
    assert not store.exists(KEY)
    store.delete(KEY)  # idempotent
    with pytest.raises(FileNotFoundError):
        store.read_bytes(KEY)


def test_put_bytes_with_prefix(endpoint: str) -> None:
    store = _store(endpoint, prefix="tenant-a")
    store.put_bytes("images/a.png", b"\x89PNG-ish", "image/png")
    raw = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    head = raw.head_object(Bucket=BUCKET, Key="tenant-a/images/a.png")
    assert head["ContentType"] == "image/png"
    assert store.exists("images/a.png")
    assert store.read_bytes("images/a.png") == b"\x89PNG-ish"
    assert not _store(endpoint).exists("images/a.png")
    assert "/tenant-a/images/a.png?" in store.signed_url("images/a.png", int(NOW) + 60)
    store.delete("images/a.png")


def test_expires_in_is_relative_and_clamped(endpoint: str) -> None:
    store = _store(endpoint)
    assert _expires_in(store.signed_url(KEY, int(NOW) + 3600)) == 3600
    assert _expires_in(store.signed_url(KEY, int(NOW) - 50)) == 1
    assert _expires_in(store.signed_url(KEY, int(NOW) + 30 * 86400)) == MAX_PRESIGN_SECONDS


def test_keys_are_validated(endpoint: str) -> None:
    store = _store(endpoint)
    with pytest.raises(ValueError):
        store.put_bytes("../x", b"", "video/mp4")
    with pytest.raises(ValueError):
        _store(endpoint, prefix="../up")


def test_large_files_go_up_in_parts(endpoint: str, tmp_path: Path) -> None:
    import time

    mib = 1024 * 1024
    store = S3MediaStore(
        BUCKET,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        multipart_threshold=5 * mib,  # S3's smallest part
        multipart_chunk=5 * mib,
    )
    body = bytes(range(256)) * (11 * mib // 256 + 1)  # 11 MiB and a little: three parts
    source = tmp_path / "large.mp4"
    source.write_bytes(body)
    key = "videos/0b0b0b0b-4f89-41d3-9a0c-0305e82c3301.mp4"
    store.put_file(key, source, "video/mp4")
    raw = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    head = raw.head_object(Bucket=BUCKET, Key=key)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart object's ETag counts its parts
    assert head["ContentType"] == "video/mp4" and head["ContentLength"] == len(body)
    reply = httpx.get(store.signed_url(key, int(time.time()) + 120), trust_env=False)
    assert reply.status_code == 200 and reply.content == body

    small = tmp_path / "small.mp4"
    small.write_bytes(b"x" * 1000)
    store.put_file("videos/small.mp4", small, "video/mp4")
    assert "-" not in raw.head_object(Bucket=BUCKET, Key="videos/small.mp4")["ETag"]  # one PUT
    assert store.check() == f"s3://{BUCKET}/"
    with pytest.raises(Exception):  # noqa: B017 - botocore's ClientError for a missing bucket
        _store(endpoint, bucket="no-such-bucket").check()
