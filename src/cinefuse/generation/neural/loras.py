"""LoRAs under ``<models_dir>/loras``: one folder each, found without importing torch.

A LoRA folder holds its weights (``*.safetensors`` in the diffusers or the original Wan key
format) and, optionally, ``lora.json`` (or a sibling ``<name>.json``) with::

    {"trigger_words": ["inflate it"], "scale": 1.0, "roles": ["text", "first_frame"],
     "steps": 4, "guidance": 1.0, "shift": 5.0}

A LoRA fits only the base model it was trained on: one for Wan 2.1 14B (hidden size 5120)
cannot load into Wan 2.2 TI2V-5B (3072) or VACE-1.3B (1536). The base is read from the
weights file's header at discovery (``LoraBase``: the transformer family and the hidden size
of its first attention projection), so a LoRA is only ever offered to the roles whose model
it fits; ``roles`` narrows that further. A LoRA whose base cannot be read (an unknown key
layout) is tried on the Wan roles, and one that fails to load is skipped, the prompt
template standing in for it. ``steps``, ``guidance`` and ``shift`` are a step-distillation
LoRA's recipe.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cinefuse.generation.neural.weights import read_config, read_safetensors_header
from cinefuse.settings import ROLES, Role

LORAS_FOLDER = "loras"
METADATA = "lora.json"
_WAN_ROLES: frozenset[Role] = frozenset({"text", "first_frame", "first_last", "references"})


#: The down (A) matrix of the first block's self-attention query projection, in the key
#: layouts LoRAs are published in: diffusers (``transformer.blocks.0.attn1.to_q.lora_A``),
#: the original Wan code (``diffusion_model.blocks.0.self_attn.q.lora_down``) and kohya
#: (``lora_unet_blocks_0_self_attn_q.lora_down``); LTX-Video's ``transformer_blocks``.
_QUERY_DOWN = re.compile(
    r"(?P<blocks>transformer_blocks|blocks)[._]0[._](?:attn1[._]to_q|self_attn[._]q)[._](?:lora_A|lora_down)\.weight$"
)


@dataclass(frozen=True)
class LoraBase:
    """The model a LoRA was trained on: the transformer family and its hidden size."""

    family: str  # "wan" | "ltx" | "ltx2"
    dim: int


#: HunyuanVideo 1.5's first double-stream block's image query projection (down matrix), in
#: diffusers' layout (``transformer_blocks.0.attn.to_q.lora_A``) and the original one
#: (``double_blocks.0.img_attn_q.lora_A``, ComfyUI's with ``diffusion_model.``). HunyuanVideo
#: 1.0 and Flux share diffusers' names but have single-stream blocks too: those are not it.
_HUNYUAN_QUERY_DOWN = re.compile(
    r"(?:transformer_blocks[._]0[._]attn[._]to_q|double_blocks[._]0[._]img_attn_q)[._](?:lora_A|lora_down)\.weight$"
)
_SINGLE_STREAM = re.compile(r"single_(?:transformer_)?blocks[._]")


def _hunyuan_base(header: dict[str, Any]) -> LoraBase | None:
    """``LoraBase("hunyuan", width)`` for a HunyuanVideo 1.5 LoRA's header, else None."""
    if any(_SINGLE_STREAM.search(name) for name in header):
        return None
    for key, entry in header.items():
        if _HUNYUAN_QUERY_DOWN.search(key) and isinstance(entry, dict) and len(entry.get("shape", ())) == 2:
            return LoraBase("hunyuan", int(entry["shape"][1]))
    return None


#: A LoRA folder named for LTX-2 (``LTX-2-19b-LoRA-...``, ``ltx2-...``).
_LTX2_NAME = re.compile(r"(?i)(?:^|[^a-z])ltx-?2(?![.\d])")
#: Modules only LTX-2's joint audio and video transformer has.
_LTX2_AUDIO = re.compile(r"[._](?:audio_attn1|audio_attn2|audio_to_video_attn|video_to_audio_attn|audio_ff)[._]")


def read_base(weights: Path, family: str | None = None) -> LoraBase | None:
    """The base model of a LoRA weights file, from its safetensors header (None when the
    key layout is not one this reads). LTX-Video and LTX-2 share the ``transformer_blocks``
    layout (and 4096 wide at 13B and 19B): a LoRA touching LTX-2's audio modules is an LTX-2
    LoRA; a video-only one names its family in ``lora.json`` (``"family": "ltx2"``)."""
    try:
        header = read_safetensors_header(weights)
    except (OSError, ValueError):
        return None
    hunyuan = _hunyuan_base(header)
    if hunyuan is not None:
        return LoraBase(family or hunyuan.family, hunyuan.dim)
    for key, entry in header.items():
        match = _QUERY_DOWN.search(key)
        if match and isinstance(entry, dict) and len(entry.get("shape", ())) == 2:
            found = "ltx" if match.group("blocks") == "transformer_blocks" else "wan"
            if found == "ltx" and any(_LTX2_AUDIO.search(name) for name in header):
                found = "ltx2"
            return LoraBase(family or found, int(entry["shape"][1]))
    return None


@dataclass(frozen=True)
class LoraInfo:
    name: str
    path: Path
    weight_name: str
    trigger_words: tuple[str, ...] = ()
    scale: float = 1.0
    roles: frozenset[Role] = _WAN_ROLES
    steps: int | None = None
    guidance: float | None = None
    shift: float | None = None
    #: What it was trained on; None: not readable from its keys.
    base: LoraBase | None = None
    #: On a two-expert model (Wan 2.2 A14B): the experts it loads into (``lora.json``
    #: ``"experts"``: ``both``, the default, ``high`` or ``low``).
    experts: Experts = "both"

    def applies_to(self, role: Role) -> bool:
        return role in self.roles

    def fits(self, role: Role, model: LoraBase | None) -> bool:
        """Whether this LoRA may run in ``role`` on a transformer of base ``model``."""
        if not self.applies_to(role):
            return False
        return self.base is None or model is None or self.base == model


def discover_loras(models_dir: Path | None) -> dict[str, LoraInfo]:
    """Every usable LoRA folder by name; a folder without weights is skipped."""
    root = models_dir / LORAS_FOLDER if models_dir else None
    if root is None or not root.is_dir():
        return {}
    found: dict[str, LoraInfo] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        info = read_lora(folder)
        if info is not None:
            found[info.name] = info
    return found


Experts = Literal["both", "high", "low"]


def _experts(value: object) -> Experts:
    if value not in ("both", "high", "low"):
        raise ValueError(f"experts must be both, high or low, not {value!r}")
    return value  # type: ignore[return-value]


def read_lora(folder: Path) -> LoraInfo | None:
    """The LoRA in ``folder``, or None when it holds no weights. A malformed ``lora.json``
    raises ``ValueError`` naming it."""
    meta_path = folder / METADATA
    if not meta_path.is_file():
        meta_path = folder.with_suffix(".json")
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    weights = sorted(p.name for p in folder.glob("*.safetensors"))
    weight_name = str(meta.get("weight_name") or (weights[0] if weights else ""))
    if not weight_name or not (folder / weight_name).is_file():
        return None
    roles = meta.get("roles")
    # A video-only LTX-2 LoRA without ``family`` (Lightricks' camera LoRAs) says so in its name.
    family = meta.get("family") or ("ltx2" if _LTX2_NAME.search(folder.name) else None)
    base = read_base(folder / weight_name, str(family) if family else None)
    # Without ``roles``, a LoRA whose base is known is offered to every role (the base then
    # decides); one whose base is unknown to the Wan roles, as before bases were read.
    default_roles = frozenset(ROLES) if base is not None else _WAN_ROLES
    try:
        return LoraInfo(
            name=folder.name,
            path=folder,
            weight_name=weight_name,
            trigger_words=tuple(str(word) for word in meta.get("trigger_words") or ()),
            scale=float(meta.get("scale", meta.get("recommended_scale", 1.0))),
            roles=frozenset(r for r in ROLES if r in roles) if isinstance(roles, list) else default_roles,
            steps=int(meta["steps"]) if "steps" in meta else None,
            guidance=float(meta["guidance"]) if "guidance" in meta else None,
            shift=float(meta["shift"]) if "shift" in meta else None,
            base=base,
            experts=_experts(meta.get("experts", "both")),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{meta_path}: {exc}") from None


def pick_lora(
    library: dict[str, LoraInfo], candidates: tuple[str, ...], role: Role, model: LoraBase | None
) -> LoraInfo | None:
    """The first of ``candidates`` present in ``library`` that fits ``role`` on a transformer
    of base ``model``."""
    for name in candidates:
        info = library.get(name)
        if info is not None and info.fits(role, model):
            return info
    return None


def transformer_base(folder: Path) -> LoraBase | None:
    """The base a LoRA must have to fit the transformer of the weights folder ``folder``
    (read from its config; None when the folder has no transformer config)."""
    config = read_config(folder, "transformer")
    name = str(config.get("_class_name", ""))
    heads, head_dim = config.get("num_attention_heads"), config.get("attention_head_dim")
    if not name or not isinstance(heads, int) or not isinstance(head_dim, int):
        return None
    if name.startswith("HunyuanVideo15"):
        return LoraBase("hunyuan", heads * head_dim)
    family = "ltx2" if name.startswith("LTX2") else "ltx" if name.startswith("LTX") else "wan"
    return LoraBase(family, heads * head_dim)
