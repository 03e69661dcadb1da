"""A media store in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...), via boto3.

Links are presigned GET URLs; S3 itself enforces their expiry. ``boto3`` belongs to the
``distributed`` extra, so this module is imported only when a bucket is configured.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from cinefuse.storage.base import MediaStore, validate_key

MIN_PRESIGN_SECONDS = 1
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live
#: Files from this size on are uploaded in parts of ``MULTIPART_CHUNK`` bytes, several at
#: once (a 1080p clip at high quality runs to tens of MB); S3 wants parts of 5 MiB or more.
MULTIPART_THRESHOLD = 16 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024
MULTIPART_CONCURRENCY = 4
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING_CODES


class S3MediaStore(MediaStore):
    """Objects under ``prefix`` + key in ``bucket``.

    Credentials and region default to boto3's usual chain (environment, config files,
    instance role) when not given. With an ``endpoint_url`` (MinIO, Ceph, moto) path-style
    addressing is used, which those servers accept without wildcard DNS. ``clock`` gives
    unix seconds and turns an absolute expiry into the relative one S3 wants.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        clock: Callable[[], float] = time.time,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunk: int = MULTIPART_CHUNK,
    ) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if prefix:
            validate_key(prefix.rstrip("/"))
        self.bucket = bucket
        self.prefix = prefix
        self._clock = clock
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunk,
            max_concurrency=MULTIPART_CONCURRENCY,
        )
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        # From ``multipart_threshold`` on, a multipart upload (parts of ``multipart_chunk``
        # bytes, sent concurrently; a failed upload is aborted by boto3). Either way the
        # object only appears once the upload completes: readers never see a partial one.
        self._client.upload_file(
            str(path),
            self.bucket,
            self._object_key(key),
            ExtraArgs={"ContentType": content_type},
            Config=self.transfer,
        )
        path.unlink()

    def check(self) -> str:
        """The bucket answers (``HeadBucket``) with these credentials: readiness checks."""
        self._client.head_bucket(Bucket=self.bucket)
        return f"s3://{self.bucket}/{self.prefix}"

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data, ContentType=content_type)

    def read_bytes(self, key: str) -> bytes:
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(key) from exc
            raise
        return bytes(reply["Body"].read())

    def delete(self, key: str) -> None:
        # S3 answers DeleteObject for an absent key with success: idempotent by itself.
        self._client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    def signed_url(self, key: str, expires_at: int) -> str:
        """A presigned GET valid for ``expires_at - now`` seconds, clamped to 1 s .. 7 days."""
        seconds = math.ceil(expires_at - self._clock())
        expires_in = min(max(seconds, MIN_PRESIGN_SECONDS), MAX_PRESIGN_SECONDS)
        url = self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._object_key(key)},
            ExpiresIn=expires_in,
        )
        return str(url)

    def open_local(self, key: str) -> Path | None:
        validate_key(key)
        return None
