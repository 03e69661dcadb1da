"""LoRA adapters on a loaded model: the step-distillation LoRA (loaded once, where it fits)
and the style and effect LoRAs a run asks for (loaded on first use, switched per run).

Only LoRAs that fit are loaded (``loras.LoraInfo.fits``: the roles named, and the base model
read from the weights). One that still fails to load is skipped with a warning and its
adapter removed again, and the run goes on with the prompt template alone: a style or an
effect is optional, a failed job is not. The distill LoRA is a server setting: where it
does not fit a model, that model runs its full recipe (and the log says so once).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from cinefuse.errors import InferenceError
from cinefuse.generation.neural.loras import LoraInfo
from cinefuse.settings import Role, Settings

if TYPE_CHECKING:
    from cinefuse.generation.neural.loaded import LoadedModel

log = logging.getLogger(__name__)

DISTILL_ADAPTER = "distill"


def _load(loaded: LoadedModel, info: LoraInfo, adapter: str) -> bool:
    """Load ``info`` as ``adapter`` into ``loaded``'s transformer; False (logged, nothing
    left behind) when it does not fit."""
    pipe = loaded.pipe
    two_experts = pipe.components.get("transformer_2") is not None
    try:
        if not hasattr(pipe, "load_lora_weights"):
            # A pipeline without diffusers' LoRA loader (HunyuanVideo 1.5): into its transformer,
            # the keys put in diffusers' layout first.
            pipe.transformer.load_lora_adapter(transformer_lora_state_dict(info), adapter_name=adapter, prefix=None)
        # A two-expert model (Wan 2.2 A14B): into both experts, or the one lora.json names.
        elif not two_experts or info.experts in ("both", "high"):
            pipe.load_lora_weights(str(info.path), weight_name=info.weight_name, adapter_name=adapter)
        if two_experts and info.experts in ("both", "low"):
            pipe.load_lora_weights(
                str(info.path), weight_name=info.weight_name, adapter_name=adapter, load_into_transformer_2=True
            )
    except Exception as exc:  # the LoRA does not fit this model after all
        log.warning("LoRA %s cannot be loaded into %s (%s: %s): skipped", info.name, loaded.folder.name,
                    type(exc).__name__, exc)  # fmt: skip
        try:
            (pipe.delete_adapters if hasattr(pipe, "delete_adapters") else pipe.transformer.delete_adapters)(adapter)
        except Exception:  # nothing of it was added
            log.debug("no adapter %s to remove", adapter)
        return False
    loaded.loras.add(adapter)
    return True


def load_distill(settings: Settings, loras: dict[str, LoraInfo], loaded: LoadedModel, role: Role) -> None:
    """Load ``CINEFUSE_DISTILL_LORA`` into a freshly loaded model where it fits (its roles
    other than ``fast``, its base model)."""
    name = settings.distill_lora
    if not name or role in ("fast", "upscaler"):
        return
    info = loras.get(name)
    if info is None:
        raise InferenceError(f"distill LoRA {name!r} not found in {settings.weights_dir}/loras")
    if info.base is not None and loaded.base is not None and info.base != loaded.base:
        log.warning(
            "distill LoRA %s was trained on %s (hidden size %d), not %s (%d): %s runs its full recipe",
            name, info.base.family, info.base.dim, loaded.folder.name, loaded.base.dim, loaded.folder.name,
        )  # fmt: skip
        return
    if _load(loaded, info, DISTILL_ADAPTER):
        loaded.distill = info


def distill_for(loaded: LoadedModel, role: Role) -> LoraInfo | None:
    """The distill LoRA a run of ``role`` on ``loaded`` uses (None: the full recipe)."""
    distill = loaded.distill
    return distill if distill is not None and distill.fits(role, loaded.base) else None


def activate(loaded: LoadedModel, role: Role, wanted: list[LoraInfo]) -> list[LoraInfo]:
    """Make exactly ``wanted`` (plus the distill LoRA where it applies) act in this run,
    loading each on first use; returns those that did (a LoRA that fails to load is left
    out: the run uses its prompt template)."""
    pipe = loaded.pipe
    names: list[str] = []
    weights: list[float] = []
    distill = distill_for(loaded, role)
    if distill is not None:
        names.append(DISTILL_ADAPTER)
        weights.append(distill.scale)
    active: list[LoraInfo] = []
    for info in wanted:
        if info.name not in loaded.loras and not _load(loaded, info, info.name):
            continue
        names.append(info.name)
        weights.append(info.scale)
        active.append(info)
    if not loaded.loras:
        return active
    _switch(pipe, names, weights)
    return active


def _switch(pipe: Any, names: list[str], weights: list[float]) -> None:
    """Make ``names`` (at ``weights``) the adapters acting in each denoiser that holds
    them, the others off. Per denoiser: an A14B LoRA may be in one expert only, which
    diffusers' pipeline-wide ``set_adapters`` refuses."""
    for component in ("transformer", "transformer_2"):
        model = pipe.components.get(component)
        present = set(getattr(model, "peft_config", None) or ())
        if model is None or not present:
            continue
        chosen = [(name, weight) for name, weight in zip(names, weights, strict=True) if name in present]
        if chosen:
            model.enable_adapters()
            model.set_adapters([name for name, _ in chosen], [weight for _, weight in chosen])
        else:
            model.disable_adapters()


def active_adapters(pipe: Any) -> list[str]:
    """The LoRA adapters that act on the transformer right now (none while LoRA is disabled)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in pipe.transformer.modules() if isinstance(m, BaseTunerLayer)]
    if not layers or all(layer.disable_adapters for layer in layers):
        return []
    if not hasattr(pipe, "get_active_adapters"):  # no LoRA loader on the pipeline: its transformer's
        return list(pipe.transformer.active_adapters())
    return list(pipe.get_active_adapters())


#: HunyuanVideo 1.5's original module names in a double-stream block (Tencent's checkpoints,
#: ComfyUI's ``diffusion_model.`` files) -> diffusers' (scripts/convert_hunyuan_video1_5_to_diffusers.py).
HUNYUAN15_MODULES = {
    "img_attn_q": "attn.to_q", "img_attn_k": "attn.to_k", "img_attn_v": "attn.to_v", "img_attn_proj": "attn.to_out.0",
    "txt_attn_q": "attn.add_q_proj", "txt_attn_k": "attn.add_k_proj", "txt_attn_v": "attn.add_v_proj",
    "txt_attn_proj": "attn.to_add_out", "img_mlp.fc1": "ff.net.0.proj", "img_mlp.fc2": "ff.net.2",
    "txt_mlp.fc1": "ff_context.net.0.proj", "txt_mlp.fc2": "ff_context.net.2", "img_mod.linear": "norm1.linear",
    "txt_mod.linear": "norm1_context.linear",
}  # fmt: skip
_ORIGINAL_BLOCK = re.compile(r"^double_blocks[._](\d+)[._](.+)$")
_LORA_SUFFIX = re.compile(r"[._](lora_A|lora_B|lora_down|lora_up)\.weight$|[._](alpha)$")


def transformer_lora_state_dict(info: LoraInfo) -> dict[str, Any]:
    """A LoRA's weights keyed as a diffusers transformer names its modules (peft's
    ``<module>.lora_A.weight`` / ``lora_B``), for a pipeline without diffusers' LoRA loader:
    the ``transformer.`` / ``diffusion_model.`` prefixes dropped, ``lora_down`` / ``lora_up``
    renamed, HunyuanVideo 1.5's original double-block names mapped to diffusers' and an
    ``alpha`` folded into the down matrix (``alpha / rank``). A key of the original layout
    without a diffusers counterpart (the final layer's modulation, whose halves diffusers
    swaps) is left out, and the log says so; a file with no usable key raises ``ValueError``."""
    from safetensors.torch import load_file

    raw = load_file(str(info.path / info.weight_name))
    weights: dict[str, Any] = {}
    alphas: dict[str, float] = {}
    dropped: list[str] = []
    for key, tensor in raw.items():
        name = key
        for prefix in ("transformer.", "diffusion_model.", "base_model.model.", "lora_unet_"):
            name = name.removeprefix(prefix)
        suffix = _LORA_SUFFIX.search(name)
        if suffix is None:
            dropped.append(key)
            continue
        module, kind = name[: suffix.start()], suffix.group(1) or suffix.group(2)
        block = _ORIGINAL_BLOCK.match(module)
        if block is not None:
            mapped = HUNYUAN15_MODULES.get(block.group(2).replace("_fc", ".fc").replace("_linear", ".linear"))
            if mapped is None:
                dropped.append(key)
                continue
            module = f"transformer_blocks.{block.group(1)}.{mapped}"
        elif module.startswith(("final_layer", "txt_in", "img_in", "time_in", "vision_in", "byt5_in")):
            dropped.append(key)  # the original layout outside the double blocks
            continue
        if kind == "alpha":
            alphas[module] = float(tensor.float().reshape(-1)[0])
            continue
        weights[f"{module}.{'lora_A' if kind in ('lora_A', 'lora_down') else 'lora_B'}.weight"] = tensor
    for module, alpha in alphas.items():
        down = weights.get(f"{module}.lora_A.weight")
        if down is not None:
            weights[f"{module}.lora_A.weight"] = down * (alpha / down.shape[0])
    if dropped:
        log.warning("LoRA %s: %d keys have no counterpart in the transformer and are left out (%s, ...)",
                    info.name, len(dropped), dropped[0])  # fmt: skip
    if not weights:
        raise ValueError(f"no LoRA weights in {info.path / info.weight_name} fit a diffusers transformer")
    return weights
