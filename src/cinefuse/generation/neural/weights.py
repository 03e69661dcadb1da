"""Which weights folder serves each role, and whether it can: found without importing torch.

``CINEFUSE_MODELS_DIR`` holds diffusers-format folders under the names their publishers
give them (``ROLE_FOLDERS``); ``CINEFUSE_MODEL_FOLDERS`` maps a role to any other folder
name. A folder is usable when its ``model_index.json`` names a pipeline class the role
expects (``EXPECTED_PIPELINES``) and every component it lists has its files; otherwise the
report says exactly what is wrong (the folder and the class, or the missing file), for
``cinefuse doctor`` and for the ``inferenceError`` of a job that needed it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cinefuse.settings import ROLES, Role, Settings

#: Folder names per role, most preferred first (glob patterns, matched in ``models_dir``).
ROLE_FOLDERS: dict[Role, tuple[str, ...]] = {
    "text": ("Wan2.2-TI2V-5B-Diffusers",),
    "first_frame": ("Wan2.2-TI2V-5B-Diffusers",),
    "first_last": ("Wan2.1-FLF2V-14B-720P-diffusers",),
    "references": ("Wan2.1-VACE-14B-diffusers", "Wan2.1-VACE-1.3B-diffusers"),
    "fast": (
        "LTX-Video-0.9.8*distilled*",
        "LTX-Video-0.9.7*distilled*",
        "ltxv-*0.9.8*distilled*",
        "ltxv-*0.9.7*distilled*",
    ),
    # LTX-Video's latent upsampler: with it, the fast engine runs the published two-stage
    # recipe (ltx.py); without it, one pass.
    "upscaler": ("ltxv-spatial-upscaler-0.9.8", "ltxv-spatial-upscaler-0.9.7"),
    # Wan 2.2 A14B: two experts per folder (transformer, transformer_2), text and image to video.
    "a14b_text": ("Wan2.2-T2V-A14B-Diffusers",),
    "a14b_image": ("Wan2.2-I2V-A14B-Diffusers",),
    # LTX-2: joint audio and video; the full model (its latent upsampler and the stage-2
    # distilled LoRA inside the folder) and the distilled checkpoint (ltx2.py).
    "ltx2": ("LTX-2",),
    "ltx2_distilled": ("LTX-2-19b-distilled",),
    # HunyuanVideo 1.5 (hunyuan.py): text-to-video and image-to-video folders, as
    # hunyuanvideo-community publishes them; the full models first, then the CFG- and
    # step-distilled ones (each runs the recipe its folder's configs carry).
    "hunyuan_text": (
        "HunyuanVideo-1.5-Diffusers-720p_t2v",
        "HunyuanVideo-1.5-Diffusers-480p_t2v",
        "HunyuanVideo-1.5-Diffusers-480p_t2v_distilled",
    ),
    "hunyuan_image": (
        "HunyuanVideo-1.5-Diffusers-720p_i2v",
        "HunyuanVideo-1.5-Diffusers-480p_i2v",
        "HunyuanVideo-1.5-Diffusers-720p_i2v_distilled",
        "HunyuanVideo-1.5-Diffusers-480p_i2v_distilled",
        "HunyuanVideo-1.5-Diffusers-480p_i2v_step_distilled",
    ),
}
#: The pipeline classes a role's folder may record in ``model_index.json``. A TI2V folder
#: records ``WanPipeline``; its image-to-video runs load the same folder as
#: ``WanImageToVideoPipeline``.
EXPECTED_PIPELINES: dict[Role, frozenset[str]] = {
    "text": frozenset({"WanPipeline"}),
    "first_frame": frozenset({"WanPipeline", "WanImageToVideoPipeline"}),
    "first_last": frozenset({"WanImageToVideoPipeline"}),
    "references": frozenset({"WanVACEPipeline"}),
    "fast": frozenset({"LTXConditionPipeline", "LTXPipeline"}),
    "upscaler": frozenset({"LTXLatentUpsamplePipeline"}),
    "a14b_text": frozenset({"WanPipeline"}),
    "a14b_image": frozenset({"WanImageToVideoPipeline"}),
    "ltx2": frozenset({"LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline"}),
    "ltx2_distilled": frozenset({"LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline"}),
    "hunyuan_text": frozenset({"HunyuanVideo15Pipeline"}),
    "hunyuan_image": frozenset({"HunyuanVideo15ImageToVideoPipeline"}),
}
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
#: Components that hold configs only (every other component's folder must hold weights,
#: whatever library it comes from: LTX's latent upsampler is recorded as ``ltx``).
_CONFIG_ONLY = ("scheduler", "tokenizer", "image_processor", "feature_extractor", "guider")


class WeightsUnusable(Exception):
    """A role's weights are missing or broken; the message names the folder or file."""


@dataclass(frozen=True)
class RoleWeights:
    """What ``models_dir`` offers a role: the folder, its pipeline class, or the problem."""

    role: Role
    path: Path | None
    pipeline: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.path is not None and self.problem is None

    def require(self) -> Path:
        """The folder, or ``WeightsUnusable`` with the reason."""
        if self.path is None or self.problem is not None:
            raise WeightsUnusable(self.problem or f"no weights for role {self.role}")
        return self.path


def folder_candidates(settings: Settings, role: Role) -> tuple[str, ...]:
    configured = settings.model_folders.get(role)
    return (configured,) if configured else ROLE_FOLDERS[role]


def find_role(settings: Settings, role: Role) -> RoleWeights:
    """The folder serving ``role`` under ``settings.weights_dir``, checked."""
    root = settings.weights_dir
    names = folder_candidates(settings, role)
    for pattern in names:
        for path in sorted(root.glob(pattern)):
            if path.is_dir():
                return check_folder(role, path)
    wanted = " or ".join(names)
    hint = (
        "`cinefuse models pull` fetches it" if root.is_dir() else "set CINEFUSE_MODELS_DIR, or `cinefuse models pull`"
    )
    return RoleWeights(role, None, problem=f"no folder {wanted} in {root} (role {role}; {hint})")


def find_weights(settings: Settings, roles: tuple[Role, ...] = ROLES) -> dict[Role, RoleWeights]:
    return {role: find_role(settings, role) for role in roles}


def check_folder(role: Role, path: Path) -> RoleWeights:
    """Check a folder for ``role``: its pipeline class and every component's files."""
    index = path / "model_index.json"
    try:
        manifest = json.loads(index.read_text())
    except FileNotFoundError:
        return RoleWeights(role, path, problem=f"{index} is missing: not a diffusers pipeline folder")
    except (OSError, ValueError) as exc:
        return RoleWeights(role, path, problem=f"{index} cannot be read: {exc}")
    pipeline = manifest.get("_class_name")
    if pipeline not in EXPECTED_PIPELINES[role]:
        expected = ", ".join(sorted(EXPECTED_PIPELINES[role]))
        return RoleWeights(
            role,
            path,
            str(pipeline),
            f"folder {path} records pipeline class {pipeline!r}; role {role} expects {expected}",
        )
    for component, spec in manifest.items():
        problem = _component_problem(path, component, spec)
        if problem:
            return RoleWeights(role, path, pipeline, problem)
    return RoleWeights(role, path, pipeline)


def _component_problem(root: Path, component: str, spec: object) -> str | None:
    if component.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
        return None  # a setting (expand_timesteps), or an absent optional component
    folder = root / component
    if not folder.is_dir():
        return f"component folder {folder} is missing"
    if component.startswith(_CONFIG_ONLY):
        return None
    index_files = sorted(folder.glob("*.index.json"))
    if index_files:  # sharded: every shard the index names must be there
        try:
            shards = set(json.loads(index_files[0].read_text())["weight_map"].values())
        except (OSError, ValueError, KeyError) as exc:
            return f"{index_files[0]} cannot be read: {exc}"
        for shard in sorted(shards):
            if not (folder / shard).is_file():
                return f"weights file {folder / shard} is missing"
        return None
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir()):
        return f"no weights file (*.safetensors) in {folder}"
    return None


# ---------------------------------------------------------------------------- before loading
#
# What a folder holds can be read without loading it (or importing torch): the configs, and
# each weights file's safetensors header (names, dtypes, shapes). The engines read them to
# size a pipeline against the GPU memory budget, to pick a model's native grid and to match
# LoRAs to a transformer before anything is loaded.

#: Bytes per element of the safetensors dtypes.
SAFETENSORS_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "F8_E4M3": 1, "F8_E5M2": 1,
}  # fmt: skip
#: Bytes sampled at each end of every weights file for a component's fingerprint.
FINGERPRINT_SAMPLE = 1 << 20
#: Config keys that say where or with what a file was written, not what it holds.
_PROVENANCE_KEYS = frozenset({"_name_or_path", "_diffusers_version", "transformers_version", "_commit_hash"})


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a ``.safetensors`` file: tensor name -> ``{"dtype", "shape",
    "data_offsets"}`` (and ``__metadata__``). Raises ``ValueError`` for a file that is not one."""
    with path.open("rb") as file:
        head = file.read(8)
        if len(head) != 8:
            raise ValueError(f"{path} is too short for a safetensors file")
        length = int.from_bytes(head, "little")
        if length > 100 * 1024 * 1024:
            raise ValueError(f"{path}: a safetensors header of {length} bytes is not plausible")
        header: dict[str, Any] = json.loads(file.read(length))
    return header


def weight_files(component: Path) -> list[Path]:
    """The weights files of a component folder (the shards an index names, or every
    ``*.safetensors`` / ``*.bin``)."""
    index_files = sorted(component.glob("*.index.json"))
    if index_files:
        shards = set(json.loads(index_files[0].read_text())["weight_map"].values())
        return [component / shard for shard in sorted(shards)]
    return sorted(p for p in component.iterdir() if p.suffix in _WEIGHT_SUFFIXES)


def parameter_count(component: Path) -> int:
    """Elements stored in a component folder's weights (safetensors headers); a pickled
    ``.bin`` counts as its size in float32 elements."""
    total = 0
    for file in weight_files(component):
        if file.suffix != ".safetensors":
            total += file.stat().st_size // 4
            continue
        for name, entry in read_safetensors_header(file).items():
            if name != "__metadata__":
                total += math.prod(entry["shape"])
    return total


def read_config(folder: Path, component: str) -> dict[str, Any]:
    """``<folder>/<component>/config.json`` (``{}`` when absent)."""
    path = folder / component / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@functools.lru_cache(maxsize=256)
def _fingerprint(component: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    config = read_config(component.parent, component.name)
    digest.update(json.dumps({k: v for k, v in config.items() if k not in _PROVENANCE_KEYS}, sort_keys=True).encode())
    for name, size, _ in stamp:
        digest.update(f"{name}:{size}".encode())
        with (component / name).open("rb") as file:
            digest.update(file.read(FINGERPRINT_SAMPLE))
            if size > 2 * FINGERPRINT_SAMPLE:
                file.seek(size - FINGERPRINT_SAMPLE)
                digest.update(file.read(FINGERPRINT_SAMPLE))
    return digest.hexdigest()


def component_fingerprint(component: Path) -> str:
    """Identifies a component's contents: its config (without provenance keys), and each
    weights file's name, size and first and last MiB. Two folders whose text encoders (or
    VAEs) share a fingerprint hold the same weights: every Wan folder ships the same UMT5-XXL,
    so a process loads it once. (A fine-tune changes every tensor, so its first MiB differs.)"""
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in weight_files(component))
    return _fingerprint(component, stamp)
