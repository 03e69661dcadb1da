"""Server settings, read from ``CINEFUSE_*`` environment variables (docs/architecture.md).

One typed place for every knob and every default; the defaults are the embedded profile
on one machine. A value that would be refused later (an unknown engine, an inverted pair
of thresholds) is refused here, when the settings are read, with the variable's name.
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cinefuse.gpu_profiles import GpuProfile, GpuProfileName, Quantization, TextQuantization, named_profile

Profile = Literal["embedded", "distributed"]

#: The entry-point group engines register under (pyproject.toml); ``auto`` is not an engine
#: but the choice of the best one present.
ENGINE_GROUP = "cinefuse.engines"
AUTO_ENGINE = "auto"

DEFAULT_TTL_SECONDS = 86_400
IMAGE_RETENTION_SECONDS = 30 * 86_400
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
#: Tasks one REST body or WebSocket message may carry.
DEFAULT_MAX_TASKS_PER_REQUEST = 1_000
#: What an unauthenticated caller may make the server read: room for an authentication
#: task (and a few pings), not for a payload.
DEFAULT_MAX_UNAUTHENTICATED_BYTES = 64 * 1024
#: About 1,000 values per task at the task limit; a parse of this many empty arrays costs
#: some 80 MB, where 50 MB of ``[[],...]`` unchecked cost 1.5 GB.
DEFAULT_MAX_JSON_VALUES = 1_000_000
#: Above the longest heartbeat interval a client SDK allows (the JavaScript SDK: 120 s).
DEFAULT_WS_IDLE_TIMEOUT = 300.0

#: Content safety defaults (docs/api.md, "Content safety"). A counted class scoring at least
#: the threshold flags a frame; ``safety.tolerance`` uses the tolerant threshold.
SAFETY_THRESHOLD = 0.6
SAFETY_TOLERANT_THRESHOLD = 0.8
#: Classes that count: exposed explicit body parts (NudeNet's label names).
SAFETY_CLASSES: tuple[str, ...] = (
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "BUTTOCKS_EXPOSED",
)
#: Frames per detector call in ``full`` mode; also the most frame copies an inspector holds.
SAFETY_BATCH_SIZE = 8


#: The roles a neural engine plays, each served by one weights folder (docs/engines.md);
#: ``upscaler`` is the fast engine's optional latent upsampler; ``a14b_text`` and
#: ``a14b_image`` are Wan 2.2 A14B's text and first-frame folders (``wan-a14b`` engine);
#: ``ltx2`` and ``ltx2_distilled`` LTX-2's full and distilled folders (``ltx2`` engine);
#: ``hunyuan_text`` and ``hunyuan_image`` HunyuanVideo 1.5's (``hunyuan`` engine).
Role = Literal[
    "text", "first_frame", "first_last", "references", "fast", "upscaler", "a14b_text", "a14b_image",
    "ltx2", "ltx2_distilled", "hunyuan_text", "hunyuan_image",
]  # fmt: skip
ROLES: tuple[Role, ...] = (
    "text", "first_frame", "first_last", "references", "fast", "upscaler", "a14b_text", "a14b_image",
    "ltx2", "ltx2_distilled", "hunyuan_text", "hunyuan_image",
)  # fmt: skip
#: Denoising steps per role when ``CINEFUSE_STEPS`` does not say: the publishers' defaults
#: (Wan 2.1/2.2 TI2V: 50; Wan 2.2 A14B: 40; LTX-Video distilled: its 8-step timestep list;
#: LTX-2: 30, its distilled checkpoint 8 sigmas).
DEFAULT_STEPS: dict[Role, int] = {
    "text": 50, "first_frame": 50, "first_last": 50, "references": 50, "fast": 8, "a14b_text": 40, "a14b_image": 40,
    "ltx2": 30, "ltx2_distilled": 8, "hunyuan_text": 50, "hunyuan_image": 50,
}  # fmt: skip
CompileMode = Literal["none", "blocks", "full"]
SoundMode = Literal["auto", "always", "off"]
CacheKind = Literal["none", "first_block", "mag", "taylorseer", "pab"]
OffloadKind = Literal["none", "model", "group", "group_disk", "as_needed"]
Precision = Literal["auto", "bfloat16", "float16", "float32"]
#: diffusers 0.42's attention backends that need no download at run time.
AttentionBackend = Literal[
    "native", "_native_flash", "_native_math", "_native_efficient", "_native_cudnn", "flex",
    "flash", "_flash_3", "sage", "xformers",
]  # fmt: skip


#: The attention backends diffusers can run across a context-parallel group (Ulysses).
CONTEXT_PARALLEL_BACKENDS: tuple[AttentionBackend, ...] = ("native", "_native_flash", "_native_cudnn", "flash", "sage")
#: Attention heads of the transformers that shard (Wan 2.2 TI2V-5B: 24; Wan 2.1 14B: 40):
#: Ulysses attention gives each GPU a whole number of heads.
SHARDED_HEADS: tuple[int, ...] = (24, 40)


#: The published GGUF transformers, by the weights folder they replace the transformer of
#: (docs/models.md): QuantStack's conversions of the Wan checkpoints.
DEFAULT_GGUF_FOLDERS: dict[str, str] = {
    "Wan2.2-TI2V-5B-Diffusers": "Wan2.2-TI2V-5B-GGUF",
    "Wan2.1-VACE-14B-diffusers": "Wan2.1_14B_VACE-GGUF",
}


def registered_engines() -> tuple[str, ...]:
    """Names of the engines installed (the ``cinefuse.engines`` entry points)."""
    return tuple(sorted({ep.name for ep in entry_points(group=ENGINE_GROUP)}))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CINEFUSE_", extra="ignore")

    profile: Profile = "embedded"
    data_dir: Path = Path(".cinefuse")
    #: Comma-separated keys. Unset: ``serve`` creates one, stores it in the data dir, prints it.
    api_keys: str | None = None
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: ``auto`` (the best engine whose weights are present) or a registered engine's name.
    engine: str = AUTO_ENGINE
    #: The neural engines' weights folders; unset: ``<data dir>/models`` (``weights_dir``).
    models_dir: Path | None = None
    #: Embedded worker threads; 0 serves the API only (workers run elsewhere).
    workers: int = Field(default=1, ge=0)
    #: Worker processes instead of threads: unset, one spawned process per visible GPU when
    #: the engine runs on GPUs (else threads); a number forces that many processes.
    worker_processes: int | None = Field(default=None, ge=1)
    #: Queued tasks allowed per API key; 0 disables the limit.
    queue_limit: int = Field(default=10_000, ge=0)
    #: Requests per second per API key (token bucket, burst = 2x); 0 disables.
    rate_limit: float = Field(default=0.0, ge=0)
    outbound_allow: str = ""
    database_url: str | None = None
    #: ``amqp://...`` (RabbitMQ) or ``redis://...``: jobs are dispatched through Celery
    #: (docs/deployment.md); unset, workers poll the job store.
    broker_url: str | None = None
    #: Redis for limits shared by every API server (the request rate); unset, the broker's
    #: URL when that is Redis, else the database (PostgreSQL) keeps them.
    redis_url: str | None = None
    #: A job still queued this long after its last dispatch, while its model's broker queue
    #: holds fewer messages than it has queued jobs, is dispatched again (a lost message).
    redispatch_after: float = Field(default=60.0, gt=0)
    #: Workers, deliverers and sweepers record a heartbeat this often (the ``workers``
    #: table); one silent for three intervals counts as gone.
    heartbeat_interval: float = Field(default=10.0, gt=0)
    #: ``cinefuse worker`` serves Prometheus metrics on this port (its job processes on the
    #: next ones); unset, none. API servers serve them at ``/metrics``.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_prefix: str = ""

    default_ttl: int = Field(default=DEFAULT_TTL_SECONDS, ge=60)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    max_tasks_per_request: int = Field(default=DEFAULT_MAX_TASKS_PER_REQUEST, ge=1)
    #: The most a caller may send before it has shown a key: a REST body without an
    #: ``Authorization`` header is read this far to find its authentication task, a WebSocket
    #: message before authentication may be this large (docs/api.md, "Transport").
    max_unauthenticated_bytes: int = Field(default=DEFAULT_MAX_UNAUTHENTICATED_BYTES, ge=256)
    #: A bound on the JSON values one body or message may make a parser build, counted
    #: before parsing as its ``,`` ``:`` ``[`` ``{`` bytes (strings included, so it only errs
    #: high): a small body of empty arrays must not cost gigabytes of objects.
    max_json_values: int = Field(default=DEFAULT_MAX_JSON_VALUES, ge=1_000)
    #: A worker's lease on a job; heartbeats renew it at a third of this.
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    #: The longest one job may run (all its results); past it, ``timeoutProvider``.
    job_timeout: float = Field(default=3_600.0, gt=0)
    sweep_interval: float = Field(default=5.0, gt=0)
    #: Signing secret for media URLs; unset: generated once and kept in the data dir.
    media_secret: str | None = None
    x264_preset: str = "veryfast"
    #: Sound in the clips of engines that make it (LTX-2; docs/engines.md, "Sound"):
    #: ``auto``, the model ids whose capabilities have audio (``cinefuse:ltx2@1``), never
    #: ``pixverse:1@3``, whose clips are silent as PixVerse's; ``always``, every model whose
    #: engine makes sound, ``pixverse:1@3`` too; ``off``, silent clips everywhere.
    sound: SoundMode = "auto"
    ws_idle_timeout: float = Field(default=DEFAULT_WS_IDLE_TIMEOUT, gt=0)
    #: A WebSocket client that leaves its replies unread this long is disconnected (1008).
    ws_stall_timeout: float = Field(default=30.0, gt=0)
    webhook_max_tries: int = Field(default=8, ge=1)
    webhook_backoff: float = Field(default=1.0, gt=0)
    delivery_timeout: float = Field(default=10.0, gt=0)
    #: Webhook signing secrets per API key: ``<api key>:<secret>`` pairs, comma-separated
    #: (secrets in the Standard Webhooks ``whsec_<base64>`` form or plain strings).
    webhook_secrets: str = ""
    #: Run the deliverer (webhooks, uploads) in this process.
    deliverer: bool = True

    #: Content safety: ``nudenet`` needs the ``safety`` extra; ``none`` (or the extra
    #: missing) makes tasks that ask for a check fail, never pass unchecked.
    safety_backend: Literal["nudenet", "none"] = "nudenet"
    safety_threshold: float = Field(default=SAFETY_THRESHOLD, gt=0, le=1)
    safety_tolerant_threshold: float = Field(default=SAFETY_TOLERANT_THRESHOLD, gt=0, le=1)
    #: Comma-separated detector classes that count (NudeNet label names).
    safety_classes: str = ",".join(SAFETY_CLASSES)
    #: Extra prompt-filter terms, comma-separated literal words or phrases.
    safety_prompt_terms: str = ""
    safety_batch_size: int = Field(default=SAFETY_BATCH_SIZE, ge=1)
    #: onnxruntime threads per check.
    safety_threads: int = Field(default=2, ge=1)

    # ---- neural engines (docs/engines.md) ------------------------------------------------
    #: Weights folder per role, by name under ``models_dir``, where it differs from the
    #: publishers' names, e.g. ``{"text": "my-wan-finetune"}``.
    model_folders: dict[Role, str] = Field(default_factory=dict)
    #: Denoising steps per role, e.g. ``{"text": 30}``; the rest keep ``DEFAULT_STEPS``.
    steps: dict[Role, int] = Field(default_factory=dict)
    #: ``auto``: CUDA when a GPU is visible, else the CPU.
    device: str = "auto"
    #: ``auto``: bfloat16 on a GPU, float32 on the CPU.
    precision: Precision = "auto"
    #: ``torch.compile`` of the transformer: its repeated blocks only, or all of it.
    compile: CompileMode = "none"
    attention_backend: AttentionBackend | None = None
    #: ``torch.compile``'s backend (``inductor``; ``eager`` or ``aot_eager`` to debug).
    compile_backend: str = "inductor"
    #: A diffusers cache hook on the transformer; ``mag`` needs ``cache_mag_ratios``.
    cache: CacheKind = "none"
    cache_threshold: float = Field(default=0.05, gt=0)
    #: MagCache's magnitude ratios, calibrated per model: weights folder name (or role) ->
    #: ratios. A model with none runs without MagCache.
    cache_mag_ratios: dict[str, list[float]] | None = None
    #: A step-distillation LoRA (a folder name under ``<models_dir>/loras``): runs every
    #: Wan role in ``distill_steps`` steps at guidance 1.0.
    distill_lora: str | None = None
    distill_steps: int = Field(default=4, ge=1)
    vae_tiling: bool = False
    #: Moving weights off a small GPU: diffusers model CPU offload, group offload to host
    #: memory or to disk (under ``<data_dir>/offload``); ``as_needed``: group offload for the
    #: transformers of a folder whose denoising stage does not fit the budget, the others
    #: resident.
    offload: OffloadKind = "none"
    #: GPU memory the loaded pipelines may keep (GiB); the least recently used ones move to
    #: host memory past it. Unset: the GPU's size minus 10%.
    gpu_memory_budget: float | None = Field(default=None, gt=0)
    #: The denoising transformers' weights: torchao float8 / int8 weight-only, bitsandbytes
    #: NF4, or the published GGUF files (``gguf_folders``). Quantized weights stay on the GPU.
    quantization: Quantization = "none"
    #: The text encoders' weights (they run once per job): as ``quantization``, no GGUF.
    text_encoder_quantization: TextQuantization = "none"
    #: Where ``quantization=gguf`` finds each weights folder's transformer: the folder with
    #: the GGUF file(s) under ``models_dir``, by weights folder name; a ``*.gguf`` name
    #: containing ``gguf_variant`` is taken when a folder holds several.
    gguf_folders: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_GGUF_FOLDERS))
    gguf_variant: str = "Q8_0"
    #: A row of docs/engines.md's GPU profiles (``12`` ... ``80`` GiB; ``auto``: the visible
    #: GPU's row) fills in ``quantization``, ``text_encoder_quantization`` and ``offload``
    #: where they are not set. ``none``: only what is set.
    gpu_profile: GpuProfileName = "auto"
    #: GPUs per clip: each clip's transformer runs on this many GPUs at once (diffusers'
    #: context-parallel hooks, Ulysses attention); a worker process leads each group of
    #: this many GPUs. 1: one GPU per clip (throughput: one clip per GPU at a time).
    context_parallel: int = Field(default=1, ge=1)
    #: How strongly the preview engine's render of a camera path steers an image-to-video
    #: clip (0 = prompt phrasing only, 1 = follow the guide closely).
    motion_guide_strength: float = Field(default=0.6, ge=0, le=1)
    #: How strongly a remix's or an edit's source clip steers the new clip (``/v1/videos``;
    #: the Wan engine's VACE): 0 = prompt only, 1 = keep its layout and motion closely.
    video_control_strength: float = Field(default=0.7, ge=0, le=1)

    #: The OpenAI-style front door (``/v1/videos``, docs/openai.md): model names it accepts
    #: besides the model ids, as JSON ``{"alias": "model id"}``; they add to or replace the
    #: defaults (``sora-2``: the fastest engine present; ``sora-2-pro``: the best one).
    video_model_aliases: dict[str, str] = Field(default_factory=dict)

    price_360p: float = Field(default=0.02, ge=0)
    price_540p: float = Field(default=0.03, ge=0)
    price_720p: float = Field(default=0.04, ge=0)
    price_1080p: float = Field(default=0.0598, ge=0)

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        known = registered_engines()
        if value != AUTO_ENGINE and value not in known:
            raise ValueError(f"unknown engine {value!r}: choose {AUTO_ENGINE} or one of {', '.join(known)}")
        return value

    @field_validator("cache_mag_ratios", mode="before")
    @classmethod
    def _mag_ratios_per_model(cls, value: object) -> object:
        if isinstance(value, list):
            raise ValueError(
                "MagCache's ratios are calibrated per model, so one list cannot serve every model: give them per"
                ' weights folder or role, e.g. {"Wan2.2-TI2V-5B-Diffusers": [1.0, 0.98, ...]} (docs/engines.md)'
            )
        return value

    @model_validator(mode="after")
    def _mag_cache_needs_ratios(self) -> Self:
        if self.cache == "mag" and not self.cache_mag_ratios:
            raise ValueError("cache=mag needs cache_mag_ratios (calibrated per model: docs/engines.md)")
        return self

    @model_validator(mode="after")
    def _context_parallel_compatible(self) -> Self:
        if self.context_parallel == 1:
            return self
        if self.attention_backend is not None and self.attention_backend not in CONTEXT_PARALLEL_BACKENDS:
            raise ValueError(
                f"attention_backend={self.attention_backend} cannot shard attention across GPUs"
                f" (context_parallel={self.context_parallel}): choose one of {', '.join(CONTEXT_PARALLEL_BACKENDS)}"
            )
        if self.cache == "first_block":
            raise ValueError(
                "cache=first_block decides from each rank's own tokens whether to skip blocks, so the ranks of a"
                " context-parallel group would disagree: use taylorseer or pab with context_parallel"
            )
        if self.cache == "mag":
            raise ValueError(
                "cache=mag measures its residual on the first block's input, which the context-parallel hooks have not"
                " split yet, and applies it to a split output: use taylorseer or pab with context_parallel"
            )
        uneven = [heads for heads in SHARDED_HEADS if heads % self.context_parallel]
        if uneven:
            raise ValueError(
                f"context_parallel={self.context_parallel} does not divide the attention heads of every model that"
                f" shards ({', '.join(map(str, SHARDED_HEADS))}; Ulysses attention gives each GPU whole heads): use"
                " 2, 4 or 8"
            )
        return self

    @model_validator(mode="after")
    def _quantization_compatible(self) -> Self:
        quantized = {self.quantization, self.text_encoder_quantization} - {"none"}
        if self.quantization != "none" and self.offload in ("group", "group_disk", "as_needed"):
            raise ValueError(
                f"quantization={self.quantization} with offload={self.offload}: group offloading streams plain"
                " tensors block by block and is not documented for quantized ones; use one or the other (a GPU"
                ' profile picks: docs/engines.md, "GPU profiles")'
            )
        if "nf4" in quantized and self.offload == "model":
            raise ValueError(
                "nf4 weights (bitsandbytes) cannot move between the GPU and host memory, which offload=model does"
                " after every stage: use int8 or fp8, or offload=none"
            )
        if self.quantization == "gguf" and self.compile == "full":
            raise ValueError(
                "quantization=gguf dequantizes each layer's weights as it runs, which compile=full cannot trace as"
                " one graph: use compile=blocks or none"
            )
        return self

    def with_gpu_profile(self, profile: GpuProfile | None) -> Settings:
        """These settings with ``profile``'s quantization and offload, which a row sets
        together: unchanged when any of the three is set (by ``CINEFUSE_*`` or an argument),
        when ``gpu_profile`` is none, or without a row."""
        chosen = {
            "quantization": profile.quantization if profile else "none",
            "text_encoder_quantization": profile.text_encoder_quantization if profile else "none",
            "offload": profile.offload if profile else "none",
        }
        if profile is None or self.gpu_profile == "none" or self.model_fields_set & set(chosen):
            return self
        return self.model_copy(update=chosen)

    def profile_row(self, gpu_gib: float | None) -> GpuProfile | None:
        """The GPU profile row these settings ask for: the named one, or for ``auto`` the
        row of a GPU with ``gpu_gib`` GiB (None without a GPU)."""
        from cinefuse.gpu_profiles import profile_for

        if self.gpu_profile == "auto":
            return profile_for(gpu_gib) if gpu_gib is not None else None
        return named_profile(self.gpu_profile)

    @model_validator(mode="after")
    def _tolerant_not_stricter(self) -> Self:
        if self.safety_tolerant_threshold < self.safety_threshold:
            raise ValueError(
                f"safety_tolerant_threshold ({self.safety_tolerant_threshold}) is stricter than"
                f" safety_threshold ({self.safety_threshold})"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cinefuse.db').resolve()}"

    @property
    def shared_redis_url(self) -> str | None:
        """The Redis that keeps limits shared by API servers: ``redis_url``, else a Redis broker."""
        if self.redis_url:
            return self.redis_url
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    @property
    def weights_dir(self) -> Path:
        """Where the neural engines find their weights folders (and ``cinefuse models pull``
        puts them): ``models_dir``, or ``<data dir>/models`` when it is unset."""
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def steps_for(self, role: Role) -> int:
        return self.steps.get(role, DEFAULT_STEPS[role])

    def mag_ratios_for(self, folder: str, role: Role) -> list[float] | None:
        """MagCache's ratios for the model in weights folder ``folder`` running ``role``."""
        ratios = self.cache_mag_ratios or {}
        return ratios.get(folder, ratios.get(role))

    @property
    def prices(self) -> dict[str, float]:
        """USD per second of output, by resolution tier (docs/api.md, "Cost")."""
        return {
            "360p": self.price_360p,
            "540p": self.price_540p,
            "720p": self.price_720p,
            "1080p": self.price_1080p,
        }
