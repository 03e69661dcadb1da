"""Which weights folder serves each role, and whether it can: found without importing torch.

``CINEFUSE_MODELS_DIR`` holds diffusers-format folders under the names their publishers
give them (``ROLE_FOLDERS``); ``CINEFUSE_MODEL_FOLDERS`` maps a role to any other folder
name. A folder is usable when its ``model_index.json`` names a pipeline class the role
expects (``EXPECTED_PIPELINES``) and every component it lists has its files; otherwise the
report says exactly what is wrong (the folder and the class, or the missing file), for
``cinefuse doctor`` and for the ``inferenceError`` of a job that needed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
}
#: Component types whose folder must hold weights (the others hold configs only).
_WEIGHTED = ("diffusers", "transformers")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_CONFIG_ONLY = frozenset({"scheduler", "tokenizer", "image_processor", "feature_extractor"})


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
    """The folder serving ``role`` under ``settings.models_dir``, checked."""
    root = settings.models_dir
    names = folder_candidates(settings, role)
    if root is None:
        return RoleWeights(role, None, problem=f"CINEFUSE_MODELS_DIR is not set (role {role} needs {names[0]})")
    for pattern in names:
        for path in sorted(root.glob(pattern)):
            if path.is_dir():
                return check_folder(role, path)
    wanted = " or ".join(names)
    return RoleWeights(role, None, problem=f"no folder {wanted} in {root} (role {role})")


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
    if component in _CONFIG_ONLY or spec[0] not in _WEIGHTED:
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
