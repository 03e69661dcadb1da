"""What the neural engines share: device and precision, loading a pipeline from a weights
folder with the speed options applied, the cache of loaded pipelines under a GPU-memory
budget, and the bridge from diffusers' step callback to the engine seam.

Speed options are wrappers applied from settings after loading (STYLE: hooks, not flags in
model code): attention backend, a cache hook (first-block, MagCache, TaylorSeer, pyramid
attention broadcast), ``torch.compile``, VAE tiling, offloading, a step-distillation LoRA.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationInterrupted, StepCallback
from cinefuse.generation.neural.loras import LoraInfo, discover_loras
from cinefuse.generation.neural.parallel import current_group
from cinefuse.generation.neural.weights import RoleWeights, WeightsUnusable
from cinefuse.settings import Role, Settings

log = logging.getLogger(__name__)

# Per-call warnings (the LTX condition pipeline's explicit timesteps, the Pil image processor
# stand-in) and loading progress bars are noise in a server's log.
diffusers.utils.logging.set_verbosity_error()
diffusers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
DISTILL_ADAPTER = "distill"
#: TaylorSeer's default module names do not match Wan's (``blocks.N.attn1``): name them.
WAN_TAYLORSEER_IDENTIFIERS = [r"blocks\.\d+\.attn1", r"blocks\.\d+\.attn2", r"blocks\.\d+\.ffn"]
#: Share of the GPU the pipelines may keep when no budget is set (the rest: activations).
DEFAULT_BUDGET_SHARE = 0.9


def resolve_device(settings: Settings) -> torch.device:
    """The device this process renders on: its rank's GPU in a context-parallel group,
    else ``settings.device`` (``auto``: CUDA when a GPU is visible, else the CPU)."""
    group = current_group()
    if group is not None:
        return group.device
    if settings.device != "auto":
        return torch.device(settings.device)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def resolve_dtype(settings: Settings, device: torch.device) -> torch.dtype:
    if settings.precision != "auto":
        return _DTYPES[settings.precision]
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def module_bytes(pipe: Any) -> int:
    """Bytes of the parameters and buffers of every torch module of a pipeline."""
    total = 0
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            total += sum(t.numel() * t.element_size() for t in component.parameters())
            total += sum(t.numel() * t.element_size() for t in component.buffers())
    return total


class StepBridge:
    """diffusers' ``callback_on_step_end`` -> the engine's ``on_step`` seam.

    A stop raised by ``on_step`` (a cancel, a lost lease, a time limit) is kept and the
    pipeline's interrupt flag set, so it skips its remaining steps; ``raise_if_stopped``
    re-raises it after the pipeline returns, before any decoding starts. In a
    context-parallel group, ``agree`` makes every rank stop at the same step.
    """

    def __init__(
        self,
        on_step: StepCallback,
        total: int,
        observe: Callable[[Any], None] | None = None,
        agree: Callable[[bool], bool] | None = None,
    ) -> None:
        self.on_step = on_step
        self.total = total
        self.observe = observe
        self.agree = agree
        self.steps = 0
        self.stop: BaseException | None = None

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        self.steps = step + 1
        if self.observe is not None:
            self.observe(pipe)
        if self.stop is None:
            try:
                self.on_step(self.steps, self.total)
            except Exception as stop:  # GenerationInterrupted, or a TaskFailure such as the time limit
                self.stop = stop
            if self.agree is not None and self.agree(self.stop is not None) and self.stop is None:
                self.stop = GenerationInterrupted("another rank of the context-parallel group stopped")
            if self.stop is not None:
                pipe._interrupt = True
        return {}

    def raise_if_stopped(self) -> None:
        if self.stop is not None:
            raise self.stop


@contextlib.contextmanager
def gpu_errors(what: str) -> Iterator[None]:
    """Turn running out of GPU memory into this job's ``inferenceError`` (the worker lives
    on, with the memory freed) rather than a crash."""
    try:
        yield
    except torch.OutOfMemoryError as exc:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise InferenceError(
            f"Out of GPU memory while {what}: lower the resolution or duration, or set CINEFUSE_OFFLOAD. ({exc})"
        ) from None


@dataclass
class LoadedPipeline:
    """A pipeline and what the engine needs to know about it."""

    pipe: Any
    folder: Path
    role: Role
    loras: set[str] = field(default_factory=set)
    #: Its transformer is sharded across the context-parallel group; False without a group,
    #: or for a model that runs on the group's leader alone (``parallel.SHARDABLE``).
    parallel: bool = False
    distill: LoraInfo | None = None
    bytes: int = 0


class PipelineCache:
    """Pipelines loaded once per process and kept across jobs, keyed by (class, folder).

    On a GPU, the pipelines kept on the device may total ``budget`` bytes: using one moves
    the least recently used others to host memory (the next use moves them back). With an
    offload setting diffusers places the weights itself and the budget is not used.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.device = resolve_device(settings)
        self.dtype = resolve_dtype(settings, self.device)
        self.loras = discover_loras(settings.models_dir)
        self.budget = self._budget()
        self._pipelines: OrderedDict[tuple[str, Path], LoadedPipeline] = OrderedDict()
        self._on_device: set[tuple[str, Path]] = set()
        self._lock = threading.Lock()

    def _budget(self) -> int | None:
        if self.device.type != "cuda" or self.settings.offload != "none":
            return None
        if self.settings.gpu_memory_budget is not None:
            return int(self.settings.gpu_memory_budget * 1024**3)
        return int(torch.cuda.get_device_properties(self.device).total_memory * DEFAULT_BUDGET_SHARE)

    def get(self, pipeline_class: type[Any], weights: RoleWeights) -> LoadedPipeline:
        """The pipeline ``pipeline_class`` on ``weights``' folder, loaded and on the device.
        Raises ``InferenceError`` naming what is missing or broken."""
        try:
            folder = weights.require()
        except WeightsUnusable as exc:
            raise InferenceError(f"Weights for {weights.role} are not usable: {exc}") from None
        key = (pipeline_class.__name__, folder)
        with self._lock:
            loaded = self._pipelines.get(key)
            if loaded is None:
                loaded = self._load(pipeline_class, folder, weights.role)
                self._pipelines[key] = loaded
            self._pipelines.move_to_end(key)
            self._place(key)
            return loaded

    def _load(self, pipeline_class: type[Any], folder: Path, role: Role) -> LoadedPipeline:
        log.info("loading %s from %s on %s (%s)", pipeline_class.__name__, folder, self.device, self.dtype)
        dtypes = {"default": self.dtype, "vae": torch.float32}
        try:
            with gpu_errors(f"loading {folder.name}"):
                pipe = pipeline_class.from_pretrained(str(folder), dtype=dtypes)
        except InferenceError:
            raise
        except Exception as exc:  # a corrupt or truncated file: name the folder and what broke
            raise InferenceError(f"Weights in {folder} cannot be loaded: {type(exc).__name__}: {exc}") from None
        pipe.set_progress_bar_config(disable=True)
        loaded = LoadedPipeline(pipe, folder, role)
        self._apply_speed_options(loaded)
        loaded.bytes = module_bytes(pipe)
        return loaded

    def _apply_speed_options(self, loaded: LoadedPipeline) -> None:
        settings, pipe = self.settings, loaded.pipe
        transformer = pipe.transformer
        if settings.distill_lora and loaded.role != "fast":
            distill = self.loras.get(settings.distill_lora)
            if distill is None:
                raise InferenceError(f"distill LoRA {settings.distill_lora!r} not found in {settings.models_dir}/loras")
            pipe.load_lora_weights(str(distill.path), weight_name=distill.weight_name, adapter_name=DISTILL_ADAPTER)
            loaded.loras.add(DISTILL_ADAPTER)
            loaded.distill = distill
        if settings.attention_backend:
            transformer.set_attention_backend(settings.attention_backend)
        group = current_group()
        if group is not None:
            loaded.parallel = group.apply(transformer)
        if settings.cache != "none":
            transformer.enable_cache(self._cache_config(pipe))
        if settings.vae_tiling:
            pipe.vae.enable_tiling()
        if settings.offload == "model":
            if self.device.type == "cuda":
                pipe.enable_model_cpu_offload()
            else:  # diffusers refuses it without an accelerator: the weights are in host memory anyway
                log.info("CINEFUSE_OFFLOAD=model has no effect on %s", self.device)
        elif settings.offload in ("group", "group_disk"):
            disk = settings.data_dir / "offload" / loaded.folder.name if settings.offload == "group_disk" else None
            pipe.enable_group_offload(
                onload_device=self.device,
                offload_type="block_level",
                num_blocks_per_group=1,
                use_stream=self.device.type == "cuda",  # prefetching the next group needs CUDA streams
                offload_to_disk_path=str(disk) if disk else None,
            )
        if settings.compile == "blocks":
            transformer.compile_repeated_blocks(fullgraph=True)
        elif settings.compile == "full":
            transformer.compile(fullgraph=True, dynamic=False)

    def _cache_config(self, pipe: Any) -> Any:
        import diffusers

        settings = self.settings
        if settings.cache == "first_block":
            return diffusers.FirstBlockCacheConfig(threshold=settings.cache_threshold)
        if settings.cache == "mag":
            return diffusers.MagCacheConfig(mag_ratios=settings.cache_mag_ratios, threshold=settings.cache_threshold)
        if settings.cache == "taylorseer":
            return diffusers.TaylorSeerCacheConfig(
                cache_interval=3,
                disable_cache_before_step=2,
                max_order=1,
                cache_identifiers=WAN_TAYLORSEER_IDENTIFIERS,
                taylor_factors_dtype=self.dtype,
            )
        return diffusers.PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=2,
            spatial_attention_timestep_skip_range=(100, 950),
            current_timestep_callback=lambda: pipe.current_timestep,
        )

    def _place(self, key: tuple[str, Path]) -> None:
        """Put ``key``'s pipeline on the device, moving least recently used ones off it
        while the budget would be exceeded."""
        loaded = self._pipelines[key]
        if key in self._on_device:
            return
        if self.settings.offload != "none":  # diffusers' hooks place the weights
            self._on_device.add(key)
            return
        if self.budget is not None:
            for other in list(self._pipelines):
                if other == key or other not in self._on_device:
                    continue
                if sum(self._pipelines[k].bytes for k in self._on_device) + loaded.bytes <= self.budget:
                    break
                log.info("moving %s off %s (GPU memory budget)", other[1].name, self.device)
                self._pipelines[other].pipe.to("cpu")
                self._on_device.discard(other)
        with gpu_errors(f"moving {loaded.folder.name} to {self.device}"):
            loaded.pipe.to(self.device)
        self._on_device.add(key)

    def resident(self) -> list[str]:
        """Names of the folders whose pipelines are on the device now (least recent first)."""
        return [key[1].name for key in self._pipelines if key in self._on_device]

    def generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed)


def active_adapters(pipe: Any) -> list[str]:
    """The LoRA adapters that act on the transformer right now (none while LoRA is disabled)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in pipe.transformer.modules() if isinstance(m, BaseTunerLayer)]
    if not layers or all(layer.disable_adapters for layer in layers):
        return []
    return list(pipe.get_active_adapters())


def set_adapters(loaded: LoadedPipeline, wanted: list[LoraInfo]) -> list[str]:
    """Load (once) and activate ``wanted`` LoRAs, plus the distill LoRA if any; every other
    adapter of the pipeline goes inactive. Returns the active adapter names."""
    pipe = loaded.pipe
    names: list[str] = []
    weights: list[float] = []
    if loaded.distill is not None:
        names.append(DISTILL_ADAPTER)
        weights.append(loaded.distill.scale)
    for info in wanted:
        if info.name not in loaded.loras:
            try:
                pipe.load_lora_weights(str(info.path), weight_name=info.weight_name, adapter_name=info.name)
            except Exception as exc:  # the LoRA does not fit this model
                raise InferenceError(f"LoRA {info.name} ({info.path}) cannot be loaded: {exc}") from None
            loaded.loras.add(info.name)
        names.append(info.name)
        weights.append(info.scale)
    if not loaded.loras:
        return []
    if names:
        pipe.enable_lora()
        pipe.set_adapters(names, adapter_weights=weights)
    else:
        pipe.disable_lora()
    return names
