"""Pulling one weights folder from a model hub (``cinefuse models pull``, docs/models.md).

The hub is Hugging Face's (or any server speaking its API at ``HF_ENDPOINT``), reached
through ``huggingface_hub``: it resolves the revision to a commit, lists the repo's files at
that commit, builds each file's URL and the request headers (``HF_TOKEN``). The bytes are
streamed here, one file at a time, because ``huggingface_hub`` (2.x) starts an interrupted
file over on the next run: here a file lands as ``<path>.part`` and an interrupted one is
resumed with an HTTP ``Range`` request. Every file is checked against the hub's hash (the
LFS sha256, or the git blob sha1 of a small file) before it takes its name.

The pull works in ``<models dir>/.cinefuse-staging/<folder>`` and renames the folder into
place only when every file is there and checked, with its manifest (``folders.py``): the
engines never see half a folder. Before the first byte, the free disk space is checked
against what is left to fetch. ``HF_HUB_OFFLINE=1`` makes no request at all: a complete
folder is reported present, anything else is an error saying so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cinefuse.hub.catalogue import CatalogueEntry
from cinefuse.hub.folders import CHUNK, MANIFEST, FileRecord, Manifest, folder_of, staging_of, state

#: Room kept free on the disk beyond the files themselves (bytes).
DISK_MARGIN = 64 * 1024 * 1024
#: Seconds without a byte before a transfer counts as stalled.
READ_TIMEOUT_S = 60.0

#: (path in the repo, bytes done, bytes of the file): called as a file progresses.
Progress = Callable[[str, int, int], None]
FreeSpace = Callable[[Path], int]


class PullError(RuntimeError):
    """A pull that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    #: ("sha256", hex) for an LFS file, ("git-sha1", hex) for a small one.
    algorithm: str
    digest: str


@dataclass(frozen=True)
class PullResult:
    entry: CatalogueEntry
    folder: Path
    commit: str
    fetched_bytes: int
    #: "pulled", "up to date" or "present (offline)".
    outcome: str


def free_space(path: Path) -> int:
    """Free bytes on the disk holding ``path`` (its nearest existing parent)."""
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _hub_error(entry: CatalogueEntry, exc: Exception) -> PullError:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(exc, GatedRepoError):
        return PullError(
            f"{entry.repo} is gated: accept its terms on its hub page with your account, then set HF_TOKEN to a"
            f" token of that account with read access (https://huggingface.co/settings/tokens) and pull again."
        )
    if isinstance(exc, RevisionNotFoundError):
        return PullError(f"{entry.repo} has no revision {entry.revision!r}.")
    if isinstance(exc, RepositoryNotFoundError):
        return PullError(f"{entry.repo} was not found on the hub (or HF_TOKEN cannot see it).")
    return PullError(f"the hub did not answer for {entry.repo}: {exc}")


def remote_files(entry: CatalogueEntry, token: str | None) -> tuple[str, list[RemoteFile]]:
    """(the commit the entry's revision resolves to, the files a pull fetches)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(token=token)
    try:
        commit = api.model_info(entry.repo, revision=entry.revision).sha
        assert commit is not None
        tree = list(api.list_repo_tree(entry.repo, revision=commit, recursive=True))
    except (HfHubHTTPError, OSError) as exc:
        raise _hub_error(entry, exc) from exc
    wanted = []
    for item in tree:
        if isinstance(item, RepoFile) and entry.wants(item.path):
            if item.lfs is not None:
                wanted.append(RemoteFile(item.path, item.size, "sha256", item.lfs.sha256))
            else:
                wanted.append(RemoteFile(item.path, item.size, "git-sha1", item.blob_id))
    if not any(f.path == "model_index.json" for f in wanted):
        raise PullError(f"{entry.repo}@{commit[:12]} has no model_index.json: not a diffusers folder.")
    return commit, sorted(wanted, key=lambda f: f.path)


def _checked(file: RemoteFile, path: Path) -> FileRecord | None:
    """The record of ``path`` when it holds exactly ``file`` (its size, then the hub's hash);
    None otherwise. One read computes the hub's hash and the sha256 the manifest keeps."""
    if not path.is_file() or path.stat().st_size != file.size:
        return None
    sha256 = hashlib.sha256()
    git = hashlib.sha1(f"blob {file.size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha256.update(chunk)
            if file.algorithm == "git-sha1":
                git.update(chunk)
    digest = (sha256 if file.algorithm == "sha256" else git).hexdigest()
    if digest != file.digest:
        return None
    return FileRecord(file.size, sha256.hexdigest(), path.stat().st_mtime_ns)


def _trusted(record: FileRecord | None, path: Path) -> bool:
    """A file the last pull checked and nothing has touched since (size and mtime)."""
    if record is None:
        return False
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_size == record.size and info.st_mtime_ns == record.mtime_ns


def _fetch(url: str, headers: dict[str, str], part: Path, size: int, progress: Progress, name: str) -> None:
    """Stream ``url`` into ``part``, resuming after what ``part`` already holds."""
    done = part.stat().st_size if part.exists() else 0
    if done > size:
        part.unlink()
        done = 0
    if done == size:
        return
    request_headers = {**headers, "Accept-Encoding": "identity"}
    if done:
        request_headers["Range"] = f"bytes={done}-"
    timeout = httpx.Timeout(30.0, read=READ_TIMEOUT_S)
    with httpx.stream("GET", url, headers=request_headers, follow_redirects=True, timeout=timeout) as response:
        if response.status_code == 200 and done:
            done = 0  # the server ignored the range: start over
        elif response.status_code not in (200, 206):
            raise PullError(f"{name}: the hub answered HTTP {response.status_code}")
        with part.open("r+b" if done else "wb") as out:
            out.seek(done)
            out.truncate()
            for chunk in response.iter_bytes():  # as it arrives: a kill keeps all but the last write
                out.write(chunk)
                done += len(chunk)
                progress(name, done, size)
    if done != size:
        raise PullError(f"{name}: got {done} of {size} bytes (pull again to resume)")


def pull(
    entry: CatalogueEntry,
    models_dir: Path,
    *,
    token: str | None = None,
    progress: Progress = lambda name, done, size: None,
    free: FreeSpace = free_space,
) -> PullResult:
    """Pull ``entry`` into ``models_dir`` (see the module docstring). Raises ``PullError``."""
    folder = folder_of(models_dir, entry)
    if _offline():
        if state(models_dir, entry) == "complete":
            manifest = Manifest.load(folder)
            assert manifest is not None
            return PullResult(entry, folder, manifest.commit, 0, "present (offline)")
        raise PullError(f"HF_HUB_OFFLINE is set and {entry.name} is not complete in {models_dir}: unset it to pull.")
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]  # lazily exported

    commit, files = remote_files(entry, token)
    staging = staging_of(models_dir, entry)
    current = Manifest.load(folder) if folder.is_dir() else None
    unchanged = current is not None and current.commit == commit and not staging.exists()
    if unchanged and current is not None and all(_trusted(current.files.get(f.path), folder / f.path) for f in files):
        return PullResult(entry, folder, commit, 0, "up to date")

    # What is already here (a finished pull, or an interrupted one) counts against the total.
    base = staging if staging.exists() else folder
    old = Manifest.load(base) if base.is_dir() else None
    have = 0
    for file in files:
        part = base / (file.path + ".part")
        if (base / file.path).is_file() and (base / file.path).stat().st_size == file.size:
            have += file.size
        elif part.is_file():
            have += min(part.stat().st_size, file.size)
    needed = sum(f.size for f in files) - have
    available = free(models_dir)
    if needed + DISK_MARGIN > available:
        raise PullError(
            f"not enough disk space for {entry.name}: {needed / 1e9:.2f} GB still to fetch"
            f" (+{DISK_MARGIN / 1e6:.0f} MB margin), {available / 1e9:.2f} GB free in {models_dir}."
            " Free some space or set CINEFUSE_MODELS_DIR to a larger disk."
        )

    staging.parent.mkdir(parents=True, exist_ok=True)
    if not staging.exists():
        if folder.is_dir():
            os.replace(folder, staging)  # repair in place: the engines stop seeing it until checked
        else:
            staging.mkdir()
    headers = build_hf_headers(token=token)
    records: dict[str, FileRecord] = {}
    fetched = 0
    for file in files:
        target = staging / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        previous = old.files.get(file.path) if old is not None and old.commit == commit else None
        kept = previous if previous is not None and _trusted(previous, target) else _checked(file, target)
        if kept is not None:
            records[file.path] = kept
            progress(file.path, file.size, file.size)
            continue
        part = target.with_name(target.name + ".part")
        before = part.stat().st_size if part.exists() else 0
        url = hf_hub_url(entry.repo, file.path, revision=commit)
        try:
            _fetch(url, headers, part, file.size, progress, file.path)
        except httpx.HTTPError as exc:
            raise PullError(f"{file.path}: {type(exc).__name__}: {exc} (pull again to resume)") from exc
        fetched += file.size - before
        if _checked(file, part) is None:
            part.unlink()
            raise PullError(f"{file.path}: the bytes do not match the hub's {file.algorithm}; pull again.")
        os.replace(part, target)
        record = _checked(file, target)
        assert record is not None
        records[file.path] = record
    _drop_strays(staging, set(records))
    Manifest(entry.repo, entry.revision, commit, records, time.time()).save(staging)
    os.replace(staging, folder)
    return PullResult(entry, folder, commit, fetched, "pulled")


def _drop_strays(folder: Path, kept: set[str]) -> None:
    """Remove files of an earlier commit (or left over) that this pull did not keep."""
    for path in folder.rglob("*"):
        if path.is_file() and path.relative_to(folder).as_posix() not in kept and path.name != MANIFEST:
            path.unlink()


def describe(result: PullResult) -> dict[str, Any]:
    return {
        "name": result.entry.name,
        "folder": str(result.folder),
        "commit": result.commit,
        "fetched_bytes": result.fetched_bytes,
        "outcome": result.outcome,
    }
