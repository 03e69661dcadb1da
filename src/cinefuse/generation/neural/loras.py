"""LoRAs under ``<models_dir>/loras``: one folder each, found without importing torch.

A LoRA folder holds its weights (``*.safetensors`` in the diffusers or the original Wan key
format) and, optionally, ``lora.json`` (or a sibling ``<name>.json``) with::

    {"trigger_words": ["inflate it"], "scale": 1.0, "roles": ["text", "first_frame"],
     "steps": 4, "guidance": 1.0, "shift": 5.0}

``roles`` limits the LoRA to the pipelines it was trained for (a LoRA for a 14B model does
not fit the 5B one); without it, a LoRA applies to every Wan role. ``steps``, ``guidance``
and ``shift`` are a step-distillation LoRA's recipe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cinefuse.settings import ROLES, Role

LORAS_FOLDER = "loras"
METADATA = "lora.json"
_WAN_ROLES: frozenset[Role] = frozenset({"text", "first_frame", "first_last", "references"})


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

    def applies_to(self, role: Role) -> bool:
        return role in self.roles


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
    try:
        return LoraInfo(
            name=folder.name,
            path=folder,
            weight_name=weight_name,
            trigger_words=tuple(str(word) for word in meta.get("trigger_words") or ()),
            scale=float(meta.get("scale", meta.get("recommended_scale", 1.0))),
            roles=frozenset(r for r in ROLES if r in roles) if isinstance(roles, list) else _WAN_ROLES,
            steps=int(meta["steps"]) if "steps" in meta else None,
            guidance=float(meta["guidance"]) if "guidance" in meta else None,
            shift=float(meta["shift"]) if "shift" in meta else None,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{meta_path}: {exc}") from None


def pick_lora(library: dict[str, LoraInfo], candidates: tuple[str, ...], role: Role) -> LoraInfo | None:
    """The first of ``candidates`` present in ``library`` that fits ``role``."""
    for name in candidates:
        info = library.get(name)
        if info is not None and info.applies_to(role):
            return info
    return None
