"""The pipelines of one worker process: loaded once per weights folder, shared by every
engine and role, and placed on the GPU a stage at a time under one memory budget.

* **One load per folder.** A folder's pipeline loads once (the class its ``model_index.json``
  records); a role that runs the same folder as another class (Wan 2.2 TI2V-5B's text and
  image-to-video roles) gets a *view*: the other class built on the very same components.
* **One load per component.** A text encoder, VAE or image encoder whose contents another
  folder already loaded (``weights.component_fingerprint``: every Wan folder ships the same
  UMT5-XXL) is passed to ``from_pretrained`` instead of read again.
* **One budget per process.** ``PipelineCache.shared(settings)`` is the process's cache;
  every engine uses it, so their components are counted together (``budget.Residency``).
  Engines place a stage's components before running it (``use``); before loading a folder,
  the largest stage is sized from the safetensors headers and refused, with the reason,
  when it cannot fit.

Speed options apply here once per folder (``speed.prepare_model``) and per run
(``speed.run_cache``); LoRAs are matched and switched in ``adapters.py``.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, ClassVar, Literal

import diffusers
import torch
import transformers

from cinefuse.errors import InferenceError
from cinefuse.generation.neural import quantize
from cinefuse.generation.neural.budget import GIB, Residency, default_limit
from cinefuse.generation.neural.loaded import LoadedModel
from cinefuse.generation.neural.loras import discover_loras, transformer_base
from cinefuse.generation.neural.runtime import gpu_errors, resolve_device, resolve_dtype
from cinefuse.generation.neural.weights import (
    RoleWeights,
    WeightsUnusable,
    component_fingerprint,
    read_config,
)
from cinefuse.settings import Role, Settings

log = logging.getLogger(__name__)

# Per-call warnings (the LTX condition pipeline's explicit timesteps, the Pil image processor
# stand-in) and loading progress bars are noise in a server's log.
diffusers.utils.logging.set_verbosity_error()
diffusers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]

Stage = Literal["encode", "denoise", "denoise_low", "upsample", "decode"]
#: The components each stage of a job needs on the device. Denoising includes the VAE and
#: the image encoder: the image-to-video pipelines encode their conditions inside the call.
#: A two-expert model (Wan 2.2 A14B) denoises with its high-noise expert (``transformer``)
#: and then its low-noise one (``transformer_2``, ``denoise_low``): one expert at a time
#: need fit, the other waits in host memory when the budget says so. Encoding takes both
#: text encoders of a model that has two (HunyuanVideo 1.5: Qwen2.5-VL and the ByT5 glyph one).
#: LTX-2 denoises with its text connectors and its audio VAE's statistics, and decodes its
#: sound with the audio VAE and the vocoder.
STAGES: dict[Stage, tuple[str, ...]] = {
    "encode": ("text_encoder", "text_encoder_2"),
    "denoise": ("transformer", "image_encoder", "vae", "connectors", "audio_vae"),
    "denoise_low": ("transformer_2", "image_encoder", "vae"),
    "upsample": ("latent_upsampler",),
    "decode": ("vae", "audio_vae", "vocoder"),
}
#: Components that are never shared between folders (each folder's own model).
_OWN = frozenset({"transformer", "transformer_2"})
_CONFIG_ONLY = ("scheduler", "tokenizer", "image_processor", "feature_extractor", "guider")
_BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}


def load_dtypes(pipeline_name: str, dtype: torch.dtype) -> dict[str, torch.dtype]:
    """Component dtypes for ``from_pretrained``. Wan's examples keep the VAE and the CLIP
    image encoder in float32 (the VAE's causal decode and CLIP drift in bfloat16); LTX-Video's
    VAE runs in bfloat16, as in its examples (float32 doubles its decode time and memory)."""
    if pipeline_name.startswith("Wan"):
        return {"default": dtype, "vae": torch.float32, "image_encoder": torch.float32}
    return {"default": dtype}


class PipelineCache:
    """The process's loaded models, keyed by folder, under one ``Residency``."""

    _shared: ClassVar[dict[str, PipelineCache]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        self.device = resolve_device(settings)
        # The GPU profile's quantization and offload, where the operator set neither.
        self.settings = settings = settings.with_gpu_profile(settings.profile_row(gpu_gib(self.device)))
        self.dtype = resolve_dtype(settings, self.device)
        self.loras = discover_loras(settings.weights_dir)
        # model and group offload move every component a stage does not need off the GPU;
        # as_needed only streams the transformers that do not fit, the rest as with none.
        strict = settings.offload in ("model", "group", "group_disk")
        self.residency = Residency(self.device, default_limit(self.device, settings.gpu_memory_budget), strict)
        self._models: dict[Path, LoadedModel] = {}
        #: component fingerprint -> the loaded module (shared between folders).
        self._components: dict[str, torch.nn.Module] = {}
        self._lock = threading.RLock()

    @classmethod
    def shared(cls, settings: Settings) -> PipelineCache:
        """The process's cache for ``settings``: every engine built with the same settings
        shares it (one per process in a server; tests build several settings)."""
        key = settings.model_dump_json()
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(settings)
            return cls._shared[key]

    def load(self, weights: RoleWeights, components: dict[str, torch.nn.Module] | None = None) -> LoadedModel:
        """The model in ``weights``' folder, loaded (once) with the speed options applied; its
        components stay where they are until a stage asks for them. ``components``: modules
        to use instead of the folder's own (the upsampler runs on the LTX model's VAE).
        Raises ``InferenceError`` naming what is missing or broken, or why it cannot fit,
        before loading anything."""
        try:
            folder = weights.require()
        except WeightsUnusable as exc:
            raise InferenceError(f"Weights for {weights.role} are not usable: {exc}") from None
        with self._lock:
            loaded = self._models.get(folder)
            if loaded is None:
                quantize.require_backend(self.settings, self.device)
                self.preflight(folder)
                loaded = self._models[folder] = self._load(folder, weights.role, components or {})
            return loaded

    def load_part(self, folder: Path, subfolder: str, model_class: type[Any]) -> LoadedModel:
        """A model a weights folder carries beside its pipeline, without a pipeline of its own
        (LTX-2's ``latent_upsampler/``): loaded once, as a ``LoadedModel`` of that one
        component, named ``subfolder``. Raises ``InferenceError`` naming what broke."""
        key = folder / subfolder
        with self._lock:
            loaded = self._models.get(key)
            if loaded is None:
                try:
                    with gpu_errors(f"loading {folder.name}/{subfolder}"):
                        module = model_class.from_pretrained(str(key), torch_dtype=self.dtype).eval()
                except InferenceError:
                    raise
                except Exception as exc:
                    raise InferenceError(f"Weights in {key} cannot be loaded: {type(exc).__name__}: {exc}") from None
                loaded = self._models[key] = LoadedModel(key, _Parts({subfolder: module}))
            return loaded

    def use(self, loaded: LoadedModel, stage: Stage) -> None:
        """Put what ``stage`` needs of ``loaded`` on the device (``budget.Residency.use``)."""
        modules = loaded.modules()
        wanted = [(f"{loaded.folder.name}/{name}", modules[name]) for name in STAGES[stage] if name in modules]
        self.residency.use(wanted, f"{stage} with {loaded.folder.name}")

    def preflight(self, folder: Path) -> None:
        """Refuse ``folder`` when one of its stages needs more GPU memory than the budget,
        reading sizes from the safetensors headers (nothing is loaded)."""
        if self.residency.limit is None:
            return
        sizes = self.component_bytes(folder)
        for stage, names in STAGES.items():
            needed = sum(sizes.get(name, 0) for name in names)
            self.residency.fits(needed, f"The {stage} stage of {folder.name}")

    def component_bytes(self, folder: Path) -> dict[str, int]:
        """Bytes each model component of ``folder`` takes once loaded (its element count
        from the headers times the size of the dtype it loads in, quantized where set);
        transformers that group offloading streams (``streams``) take none of the budget."""
        sizes = self._resident_bytes(folder)
        if self.streams(folder):
            sizes = {name: size for name, size in sizes.items() if name not in _OWN}
        return sizes

    def streams(self, folder: Path) -> bool:
        """Whether ``folder``'s transformers stream through the GPU block by block (group
        offload): always under ``offload=group``/``group_disk``; under ``as_needed`` when a
        denoising stage with them resident exceeds the budget."""
        if self.settings.offload in ("group", "group_disk"):
            return True
        if self.settings.offload != "as_needed" or self.residency.limit is None:
            return False
        sizes = self._resident_bytes(folder)
        stages = [sum(sizes.get(name, 0) for name in STAGES[stage]) for stage in ("denoise", "denoise_low")]
        return max(stages) > self.residency.limit

    def _resident_bytes(self, folder: Path) -> dict[str, int]:
        manifest = json.loads((folder / "model_index.json").read_text())
        dtypes = load_dtypes(str(manifest.get("_class_name", "")), self.dtype)
        sizes: dict[str, int] = {}
        for name, spec in manifest.items():
            if name.startswith("_") or not _is_model(name, spec):
                continue
            dtype = dtypes.get(name, dtypes["default"])
            sizes[name] = quantize.component_bytes(self.settings, folder, name, _BYTES.get(dtype, 4))
        return sizes

    def generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed)

    def loaded(self) -> list[LoadedModel]:
        with self._lock:
            return list(self._models.values())

    def _load(self, folder: Path, role: Role, given: dict[str, torch.nn.Module]) -> LoadedModel:
        from cinefuse.generation.neural import adapters, speed

        manifest = json.loads((folder / "model_index.json").read_text())
        pipeline_class = getattr(diffusers, str(manifest["_class_name"]))
        shared = {**self._shared_components(folder, manifest), **given}
        dtypes = load_dtypes(pipeline_class.__name__, self.dtype)
        if quantize.kind_for(self.settings, "transformer", folder) == "gguf" and "transformer" in manifest:
            shared["transformer"] = quantize.gguf_transformer(self.settings, folder, dtypes["default"])
        elif self.settings.quantization == "gguf":
            log.warning(
                "no GGUF transformer is known for %s (CINEFUSE_GGUF_FOLDERS): its own weights load", folder.name
            )
        quantization = quantize.pipeline_quantization(self.settings, manifest, dtypes["default"])
        log.info(
            "loading %s from %s (%s; %s shared with folders already loaded)",
            pipeline_class.__name__,
            folder,
            self.dtype,
            ", ".join(shared) or "nothing",
        )
        try:
            with gpu_errors(f"loading {folder.name}"):
                pipe = pipeline_class.from_pretrained(
                    str(folder), dtype=dtypes, quantization_config=quantization, **shared
                )
        except InferenceError:
            raise
        except Exception as exc:  # a corrupt or truncated file: name the folder and what broke
            raise InferenceError(f"Weights in {folder} cannot be loaded: {type(exc).__name__}: {exc}") from None
        pipe.set_progress_bar_config(disable=True)
        self._remember_components(folder, manifest, pipe, shared)
        loaded = LoadedModel(folder, pipe, {pipeline_class.__name__: pipe}, base=transformer_base(folder))
        adapters.load_distill(self.settings, self.loras, loaded, role)
        speed.prepare_model(self.settings, loaded, self.device, self.residency, stream=self.streams(folder))
        log.info(
            "loaded %s: %s", folder.name, ", ".join(f"{n} {b / GIB:.2f} GiB" for n, b in self._sizes(loaded).items())
        )
        quantized = quantize.describe(loaded.modules())
        if quantized:
            log.info("quantized %s: %s", folder.name, quantized)
        return loaded

    def _shared_components(self, folder: Path, manifest: dict[str, Any]) -> dict[str, torch.nn.Module]:
        shared: dict[str, torch.nn.Module] = {}
        for name, spec in manifest.items():
            if name.startswith("_") or name in _OWN or not _is_model(name, spec):
                continue
            module = self._components.get(component_fingerprint(folder / name))
            if module is not None:
                shared[name] = module
        return shared

    def _remember_components(
        self, folder: Path, manifest: dict[str, Any], pipe: Any, shared: dict[str, torch.nn.Module]
    ) -> None:
        for name, spec in manifest.items():
            if name.startswith("_") or name in _OWN or name in shared or not _is_model(name, spec):
                continue
            module = getattr(pipe, name, None)
            if isinstance(module, torch.nn.Module):
                self._components[component_fingerprint(folder / name)] = module

    def _sizes(self, loaded: LoadedModel) -> dict[str, int]:
        return {name: self.residency.size_of(module) for name, module in loaded.modules().items()}

    def reset(self) -> None:
        """Drop every loaded model (tests; a process that must free everything)."""
        with self._lock:
            for loaded in self._models.values():
                self.residency.forget(loaded.modules().values())
            self._models.clear()
            self._components.clear()


class _Parts:
    """Models loaded without a pipeline, with the ``components`` a ``LoadedModel`` reads."""

    def __init__(self, components: dict[str, torch.nn.Module]) -> None:
        self.components = components


def _is_model(name: str, spec: Any) -> bool:
    """A component with weights (not a tokenizer, scheduler or processor)."""
    return (
        isinstance(spec, list)
        and len(spec) == 2
        and spec[0] is not None
        and spec[1] is not None
        and not name.startswith(_CONFIG_ONLY)
    )


def drop_shared_caches() -> None:
    """Forget every process-wide cache (tests that need a fresh process state)."""
    with PipelineCache._shared_lock:
        for cache in PipelineCache._shared.values():
            cache.reset()
        PipelineCache._shared.clear()


def gpu_gib(device: torch.device) -> float | None:
    """The memory of ``device`` in GiB; None when it is not a GPU."""
    if device.type != "cuda":
        return None
    return float(torch.cuda.get_device_properties(device).total_memory) / GIB


def transformer_class(folder: Path) -> str:
    """The transformer class a folder records (read from its config, nothing loaded)."""
    return str(read_config(folder, "transformer").get("_class_name", ""))
