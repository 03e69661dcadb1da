"""The catalogue: one entry per weights folder cinefuse knows (``catalogue.json``, data).

Each entry names the publisher's hub repo and the revision to pull, the folder name the
engines look for (``generation/neural/weights.py``), the roles and model ids it serves, its
approximate size and licence and the files a pull fetches (``allow_patterns``). A GGUF
entry (``gguf_for``) holds a published GGUF conversion of another folder's transformer.
``for_gpu`` picks the set a card of a given size runs best: the folders of its row in the
GPU profile table (``cinefuse.gpu_profiles``).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from cinefuse.gpu_profiles import GPU_PROFILES, profile_for

GIB = 1024**3
#: ``--for-gpu`` sizes the docs list (GiB); any other number gets the row it reaches.
GPU_SIZES = tuple(profile.gib for profile in GPU_PROFILES)


@dataclass(frozen=True)
class CatalogueEntry:
    name: str  # the folder name under CINEFUSE_MODELS_DIR
    repo: str
    revision: str
    roles: tuple[str, ...]
    engine: str
    model_ids: tuple[str, ...]
    size_gb: float
    licence: str
    gated: bool
    allow_patterns: tuple[str, ...]
    licence_url: str | None = None
    #: The weights folder whose transformer this GGUF file replaces (CINEFUSE_QUANTIZATION=gguf).
    gguf_for: str | None = None

    @property
    def apache(self) -> bool:
        return self.licence == "Apache-2.0"

    def wants(self, path: str) -> bool:
        """Whether a pull fetches the repo file ``path`` (the hub's pattern rule: ``*``
        crosses ``/``)."""
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.allow_patterns)


def _entry(raw: dict[str, Any]) -> CatalogueEntry:
    return CatalogueEntry(
        name=raw["name"],
        repo=raw["repo"],
        revision=raw["revision"],
        roles=tuple(raw["roles"]),
        engine=raw["engine"],
        model_ids=tuple(raw["model_ids"]),
        size_gb=float(raw["size_gb"]),
        licence=raw["licence"],
        gated=bool(raw["gated"]),
        allow_patterns=tuple(raw["allow_patterns"]),
        licence_url=raw.get("licence_url"),
        gguf_for=raw.get("gguf_for"),
    )


@cache
def catalogue() -> tuple[CatalogueEntry, ...]:
    """Every known folder, in the file's order."""
    data = json.loads(files("cinefuse.hub").joinpath("catalogue.json").read_text())
    return tuple(_entry(raw) for raw in data["folders"])


def find(name: str) -> CatalogueEntry | None:
    """The entry of a folder name (or its repo id), any case."""
    wanted = name.lower()
    return next((e for e in catalogue() if wanted in (e.name.lower(), e.repo.lower())), None)


def for_gpu(gib: float) -> list[CatalogueEntry]:
    """The folders a card of ``gib`` GiB runs best: its GPU profile row's (none below the
    smallest row)."""
    profile = profile_for(gib)
    if profile is None:
        return []
    entries = [find(name) for name in profile.folders]
    return [entry for entry in entries if entry is not None]


def smallest_gpu(entry: CatalogueEntry) -> int | None:
    """The smallest GPU profile row (GiB) that pulls ``entry``; None for one no row pulls
    (the GGUF conversions, which ``quantization=gguf`` asks for by hand)."""
    return next((profile.gib for profile in GPU_PROFILES if entry.name in profile.folders), None)
