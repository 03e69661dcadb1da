"""What a weights folder on disk is: its manifest, its state, and checking its files.

A pull writes ``.cinefuse-manifest.json`` into the folder last, just before the folder takes
its final name: the repo, the commit it resolved, and per file its size, sha256 and the
mtime it had when checked. So a folder under its final name with a manifest is complete as
pulled; ``verify`` re-hashes every file against the manifest (no network: it works offline).
A folder the engines would read but that has no manifest was put there by hand: it is
reported as such, never touched by ``pull`` unless asked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from cinefuse.hub.catalogue import CatalogueEntry

MANIFEST = ".cinefuse-manifest.json"
#: Pulls in progress live here, under the models dir, until complete (the engines' folder
#: names and globs never match a name starting with a dot).
STAGING = ".cinefuse-staging"
CHUNK = 8 * 1024 * 1024
State = Literal["absent", "complete", "partial", "unmanaged"]


@dataclass(frozen=True)
class FileRecord:
    size: int
    sha256: str
    mtime_ns: int = 0


@dataclass
class Manifest:
    repo: str
    revision: str  # as asked (a branch or a commit)
    commit: str  # what it resolved to
    files: dict[str, FileRecord] = field(default_factory=dict)
    pulled_at: float = 0.0

    def save(self, folder: Path) -> None:
        data = asdict(self)
        (folder / MANIFEST).write_text(json.dumps(data, indent=1, sort_keys=True))

    @classmethod
    def load(cls, folder: Path) -> Manifest | None:
        try:
            data = json.loads((folder / MANIFEST).read_text())
            files = {path: FileRecord(**record) for path, record in data.pop("files").items()}
            return cls(files=files, **data)
        except (OSError, ValueError, TypeError, KeyError):
            return None


def folder_of(models_dir: Path, entry: CatalogueEntry) -> Path:
    return models_dir / entry.name


def staging_of(models_dir: Path, entry: CatalogueEntry) -> Path:
    return models_dir / STAGING / entry.name


def state(models_dir: Path, entry: CatalogueEntry) -> State:
    """``complete`` (pulled, every file of the manifest there at its size), ``partial`` (a pull
    was interrupted, or files went missing), ``unmanaged`` (a folder put there by hand) or
    ``absent``."""
    folder = folder_of(models_dir, entry)
    if folder.is_dir():
        manifest = Manifest.load(folder)
        if manifest is None:
            return "unmanaged"
        for path, record in manifest.files.items():
            try:
                if (folder / path).stat().st_size != record.size:
                    return "partial"
            except OSError:
                return "partial"
        return "complete"
    return "partial" if staging_of(models_dir, entry).exists() else "absent"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(models_dir: Path, entry: CatalogueEntry) -> list[str]:
    """Every problem of a pulled folder, checked against its manifest (sizes, then sha256
    of every file); empty when it is intact."""
    folder = folder_of(models_dir, entry)
    manifest = Manifest.load(folder) if folder.is_dir() else None
    if manifest is None:
        return [f"{entry.name}: not pulled (no {MANIFEST} in {folder})"]
    problems = []
    for path, record in sorted(manifest.files.items()):
        file = folder / path
        if not file.is_file():
            problems.append(f"{path}: missing")
        elif file.stat().st_size != record.size:
            problems.append(f"{path}: {file.stat().st_size} bytes, expected {record.size}")
        elif sha256_of(file) != record.sha256:
            problems.append(f"{path}: sha256 differs from the hub's")
    return problems


def remove(models_dir: Path, entry: CatalogueEntry) -> bool:
    """Delete the folder and any interrupted pull of it; whether there was anything."""
    found = False
    for path in (folder_of(models_dir, entry), staging_of(models_dir, entry)):
        if path.exists():
            shutil.rmtree(path)
            found = True
    return found
