"""Server settings, read from ``CINEFUSE_*`` environment variables (ARCHITECTURE.md).

One typed place for every knob; defaults are the embedded profile on one machine.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cinefuse.safety.base import DEFAULT_BATCH_SIZE, DEFAULT_CLASSES, DEFAULT_THRESHOLD, DEFAULT_TOLERANT_THRESHOLD

Profile = Literal["embedded", "distributed"]
EngineName = Literal["auto", "preview", "wan", "ltx"]

DEFAULT_TTL_SECONDS = 86_400
IMAGE_RETENTION_SECONDS = 30 * 86_400
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CINEFUSE_", extra="ignore")

    profile: Profile = "embedded"
    data_dir: Path = Path(".cinefuse")
    #: Comma-separated keys. Unset: ``serve`` creates one, stores it in the data dir, prints it.
    api_keys: str | None = None
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    engine: EngineName = "auto"
    models_dir: Path | None = None
    #: Embedded worker threads; 0 serves the API only (workers run elsewhere).
    workers: int = Field(default=1, ge=0)
    #: Queued tasks allowed per API key; 0 disables the limit.
    queue_limit: int = Field(default=10_000, ge=0)
    #: Requests per second per API key (token bucket, burst = 2x); 0 disables.
    rate_limit: float = Field(default=0.0, ge=0)
    outbound_allow: str = ""
    database_url: str | None = None
    broker_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_prefix: str = ""

    default_ttl: int = Field(default=DEFAULT_TTL_SECONDS, ge=60)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: A worker's lease on a job; heartbeats renew it at a third of this.
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    sweep_interval: float = Field(default=5.0, gt=0)
    #: Signing secret for media URLs; unset: generated once and kept in the data dir.
    media_secret: str | None = None
    x264_preset: str = "veryfast"
    ws_idle_timeout: float = 120.0
    webhook_max_tries: int = Field(default=8, ge=1)
    webhook_backoff: float = Field(default=1.0, gt=0)
    delivery_timeout: float = 10.0
    #: Webhook signing secrets per API key: ``<api key>:<secret>`` pairs, comma-separated
    #: (secrets in the Standard Webhooks ``whsec_<base64>`` form or plain strings).
    webhook_secrets: str = ""
    #: Run the deliverer (webhooks, uploads) in this process.
    deliverer: bool = True

    #: Content safety (API.md 3.2 ``safety``): ``nudenet`` needs the ``safety`` extra;
    #: ``none`` (or the extra missing) makes tasks that ask for a check fail, never pass unchecked.
    safety_backend: Literal["nudenet", "none"] = "nudenet"
    #: A counted class scoring at least this flags a frame; ``safety.tolerance`` uses the tolerant one.
    safety_threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0, le=1)
    safety_tolerant_threshold: float = Field(default=DEFAULT_TOLERANT_THRESHOLD, gt=0, le=1)
    #: Comma-separated detector classes that count (NudeNet label names).
    safety_classes: str = ",".join(DEFAULT_CLASSES)
    #: Extra prompt-filter terms, comma-separated literal words or phrases.
    safety_prompt_terms: str = ""
    #: Frames per detector call in ``full`` mode (also the most frame copies held).
    safety_batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1)
    #: onnxruntime threads per check.
    safety_threads: int = Field(default=2, ge=1)

    price_360p: float = 0.02
    price_540p: float = 0.03
    price_720p: float = 0.04
    price_1080p: float = 0.0598

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cinefuse.db').resolve()}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def prices(self) -> dict[str, float]:
        return {
            "360p": self.price_360p,
            "540p": self.price_540p,
            "720p": self.price_720p,
            "1080p": self.price_1080p,
        }
