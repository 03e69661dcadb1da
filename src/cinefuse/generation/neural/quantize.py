"""Quantized weights: ``CINEFUSE_QUANTIZATION`` for the denoising transformers and
``CINEFUSE_TEXT_ENCODER_QUANTIZATION`` for the text encoders, on diffusers' and
transformers' quantization backends (docs/engines.md, "Quantization").

* ``int8``: torchao int8 weight-only. Runs on the CPU too (the tests' tiny models run
  quantized end to end).
* ``fp8``: torchao float8 weight-only; needs a CUDA GPU of compute capability 8.9 or more
  (Ada, Hopper, Blackwell): refused elsewhere, before anything loads.
* ``nf4``: bitsandbytes 4-bit NormalFloat; needs ``bitsandbytes`` and a CUDA GPU.
* ``gguf``: the transformer comes from a published GGUF file (``gguf_folders``), loaded
  with ``from_single_file`` and ``GGUFQuantizationConfig``; its layers dequantize as they
  run, on the CPU too. The rest of the folder loads as usual, and a folder no GGUF file is
  known for keeps its own transformer (logged); one whose known GGUF file is missing fails
  naming the pull.

Only Linear layers quantize (the backends' default); norms, embeddings and convolutions
keep the folder's dtype. ``component_bytes`` sizes a component the way it will load, so the
memory budget refuses a model that cannot fit before anything is read.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import torch

from cinefuse.errors import InferenceError
from cinefuse.generation.neural.weights import read_safetensors_header, weight_files
from cinefuse.settings import Settings

#: Which components each setting quantizes.
TRANSFORMERS = ("transformer", "transformer_2")
TEXT_ENCODERS = ("text_encoder",)
#: Bytes per quantized element, and per row of a quantized matrix (torchao keeps a float32
#: scale per row, and int8 an int8 zero point too); NF4 keeps a float32 absmax per block of
#: 64 elements (bitsandbytes' default).
QUANTIZED_BYTES = {"int8": 1.0, "fp8": 1.0, "nf4": 0.5 + 4 / 64}
ROW_BYTES = {"int8": 5, "fp8": 4, "nf4": 0}
#: fp8 weight-only matmuls need these tensor cores (compute capability).
FP8_CAPABILITY = (8, 9)


def kind_for(settings: Settings, component: str, folder: Path | None = None) -> str:
    """The quantization of ``component`` under ``settings`` (``none`` for the VAE, the
    image encoder, the latent upsampler). Under ``gguf``, a ``folder`` no GGUF conversion
    is known for (``gguf_folders``: none is published for FLF2V-14B or LTX-Video 13B) keeps
    its own transformer weights."""
    if component in TRANSFORMERS:
        if settings.quantization == "gguf" and folder is not None and folder.name not in settings.gguf_folders:
            return "none"
        return settings.quantization
    if component in TEXT_ENCODERS:
        return settings.text_encoder_quantization
    return "none"


def backend_problem(settings: Settings, device: torch.device) -> str | None:
    """Why the quantization settings cannot run on ``device`` (None: they can)."""
    kinds = {settings.quantization, settings.text_encoder_quantization} - {"none"}
    if kinds & {"int8", "fp8"} and importlib.util.find_spec("torchao") is None:
        return "int8 and fp8 quantization need torchao: pip install 'cinefuse[gpu]'"
    if "fp8" in kinds:
        if device.type != "cuda":
            return (
                f"fp8 quantization needs a CUDA GPU of compute capability {FP8_CAPABILITY[0]}.{FP8_CAPABILITY[1]}"
                f" or more (Ada, Hopper, Blackwell); this process renders on {device.type}: use int8"
            )
        capability = torch.cuda.get_device_capability(device)
        if capability < FP8_CAPABILITY:
            return (
                f"fp8 quantization needs compute capability {FP8_CAPABILITY[0]}.{FP8_CAPABILITY[1]} or more; this"
                f" GPU has {capability[0]}.{capability[1]} (Ampere and older): use int8"
            )
    if "nf4" in kinds:
        if device.type != "cuda":
            return f"nf4 quantization (bitsandbytes) needs a CUDA GPU; this process renders on {device.type}: use int8"
        if importlib.util.find_spec("bitsandbytes") is None:
            return "nf4 quantization needs bitsandbytes: pip install 'cinefuse[nf4]'"
    if settings.quantization == "gguf" and importlib.util.find_spec("gguf") is None:
        return "gguf quantization needs the gguf package: pip install 'cinefuse[gpu]'"
    return None


def require_backend(settings: Settings, device: torch.device) -> None:
    problem = backend_problem(settings, device)
    if problem:
        raise InferenceError(f"CINEFUSE_QUANTIZATION: {problem}")


def _backend_config(kind: str, library: str, dtype: torch.dtype) -> Any:
    if kind in ("int8", "fp8"):
        from torchao.quantization import Float8WeightOnlyConfig, Int8WeightOnlyConfig

        method = Int8WeightOnlyConfig() if kind == "int8" else Float8WeightOnlyConfig()
        if library == "diffusers":
            from diffusers import TorchAoConfig

            return TorchAoConfig(method)
        from transformers import TorchAoConfig as TransformersTorchAoConfig

        return TransformersTorchAoConfig(method)
    if kind == "nf4":
        options = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": dtype}
        if library == "diffusers":
            from diffusers import BitsAndBytesConfig

            return BitsAndBytesConfig(**options)  # type: ignore[no-untyped-call]
        from transformers import BitsAndBytesConfig as TransformersBitsAndBytesConfig

        return TransformersBitsAndBytesConfig(**options)  # type: ignore[no-untyped-call]
    raise ValueError(kind)


def pipeline_quantization(settings: Settings, manifest: dict[str, Any], dtype: torch.dtype) -> Any | None:
    """diffusers' ``PipelineQuantizationConfig`` for a folder's ``model_index.json``: one
    backend config per component that quantizes (GGUF transformers load apart:
    ``gguf_transformer``). None when nothing does."""
    mapping: dict[str, Any] = {}
    for name in (*TRANSFORMERS, *TEXT_ENCODERS):
        spec = manifest.get(name)
        kind = kind_for(settings, name)
        if kind in ("none", "gguf") or not isinstance(spec, list) or spec[0] is None:
            continue
        mapping[name] = _backend_config(kind, str(spec[0]), dtype)
    if not mapping:
        return None
    from diffusers import PipelineQuantizationConfig

    return PipelineQuantizationConfig(quant_mapping=mapping)


def gguf_file(settings: Settings, folder: Path) -> Path:
    """The GGUF transformer that replaces ``folder``'s own under ``quantization=gguf``.
    Raises ``InferenceError`` naming what to pull or set when there is none (or several
    and ``gguf_variant`` picks none)."""
    gguf_folder = settings.gguf_folders.get(folder.name)
    if gguf_folder is None:
        raise InferenceError(
            f"CINEFUSE_QUANTIZATION=gguf: no GGUF transformer is known for {folder.name}: map it in"
            f' CINEFUSE_GGUF_FOLDERS (e.g. {{"{folder.name}": "<folder with the .gguf file>"}}) or choose int8'
        )
    where = settings.weights_dir / gguf_folder
    files = sorted(where.glob("*.gguf"))
    if len(files) > 1:
        files = [f for f in files if settings.gguf_variant.lower() in f.name.lower()]
    if len(files) != 1:
        found = ", ".join(f.name for f in sorted(where.glob("*.gguf"))) or "none"
        raise InferenceError(
            f"CINEFUSE_QUANTIZATION=gguf: {folder.name} needs one GGUF transformer in {where} (found: {found};"
            f" CINEFUSE_GGUF_VARIANT={settings.gguf_variant}): run `cinefuse models pull {gguf_folder}`"
        )
    return files[0]


def gguf_transformer(settings: Settings, folder: Path, dtype: torch.dtype) -> torch.nn.Module:
    """``folder``'s transformer from its GGUF file, in the class and config the folder
    records; its Linear layers keep the GGUF blocks and dequantize to ``dtype`` as they run."""
    import diffusers
    from diffusers import GGUFQuantizationConfig

    path = gguf_file(settings, folder)
    config = json.loads((folder / "transformer" / "config.json").read_text())
    cls = getattr(diffusers, str(config["_class_name"]))
    try:
        module: torch.nn.Module = cls.from_single_file(
            str(path),
            config=str(folder),
            subfolder="transformer",
            quantization_config=GGUFQuantizationConfig(compute_dtype=dtype),
            torch_dtype=dtype,
            local_files_only=True,
        )
    except Exception as exc:  # a truncated file, or one for another architecture
        raise InferenceError(f"The GGUF transformer {path} cannot be loaded: {type(exc).__name__}: {exc}") from None
    return module.eval()


def component_bytes(settings: Settings, folder: Path, component: str, dtype_bytes: int) -> int:
    """Bytes ``folder``'s ``component`` takes once loaded: quantized Linear weights at the
    backend's width (with their scales), everything else at ``dtype_bytes``; a GGUF
    transformer at its file's size."""
    kind = kind_for(settings, component, folder)
    if kind == "gguf":
        return gguf_file(settings, folder).stat().st_size
    kept = kept_in_fp32(_component_class(folder, component), kind)
    total = 0.0
    for file in weight_files(folder / component):
        if file.suffix != ".safetensors":
            total += file.stat().st_size // 4 * dtype_bytes
            continue
        for name, entry in read_safetensors_header(file).items():
            if name == "__metadata__":
                continue
            shape = entry["shape"]
            elements = 1
            for extent in shape:
                elements *= extent
            if kind != "none" and _quantized(name, shape, kept):
                total += elements * QUANTIZED_BYTES[kind] + shape[0] * ROW_BYTES[kind]
            else:
                total += elements * (4 if any(part in kept for part in name.split(".")) else dtype_bytes)
    return int(total)


def kept_in_fp32(cls: type[Any] | None, kind: str) -> tuple[str, ...]:
    """The modules of ``cls`` a quantized load leaves unquantized in float32: a diffusers
    model's ``_keep_in_fp32_modules`` (Wan: the time embedder; diffusers' quantizers all keep
    them). transformers' classes keep theirs only for float16 loads (T5's ``wo``): under
    torchao they quantize like the rest."""
    import diffusers

    if kind == "none" or cls is None or not issubclass(cls, diffusers.ModelMixin):
        return ()
    return tuple(getattr(cls, "_keep_in_fp32_modules", None) or ())


def _component_class(folder: Path, component: str) -> type[Any] | None:
    import diffusers
    import transformers

    path = folder / component / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    for name in (str(config.get("_class_name", "")), *(str(a) for a in config.get("architectures") or [])):
        cls = getattr(diffusers, name, None) or getattr(transformers, name, None)
        if isinstance(cls, type):
            return cls
    return None


def _quantized(name: str, shape: list[int], kept: tuple[str, ...]) -> bool:
    """A tensor the backends quantize: a Linear layer's 2-D weight, not an embedding table
    (``embed_tokens``, T5's ``shared`` and ``relative_attention_bias``, CLIP's
    ``position_embedding``) and not in a module
    the class keeps in float32."""
    parts = name.split(".")
    if len(shape) != 2 or parts[-1] != "weight" or any(part in kept for part in parts):
        return False
    owner = parts[-2] if len(parts) > 1 else ""
    return not (owner in ("shared", "embed_tokens", "relative_attention_bias") or owner.endswith("embedding"))


def describe(components: dict[str, torch.nn.Module]) -> str:
    """Which components hold quantized Linear layers, and as what: ``transformer: 28/30
    Linear layers Int8Tensor`` (for the log; empty when none do)."""
    parts = []
    for name, module in components.items():
        linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
        kinds = [_weight_kind(m.weight) for m in linears]
        quantized = [k for k in kinds if k]
        if quantized:
            parts.append(f"{name}: {len(quantized)}/{len(linears)} Linear layers {'/'.join(sorted(set(quantized)))}")
    return "; ".join(parts)


def _weight_kind(weight: Any) -> str:
    """The quantized class of a Linear weight ('' for a plain one)."""
    kind = type(weight).__name__
    if kind == "GGUFParameter":
        import gguf

        return f"GGUF {gguf.GGMLQuantizationType(int(weight.quant_type)).name}"
    return "" if kind == "Parameter" or type(weight) is torch.Tensor else kind
