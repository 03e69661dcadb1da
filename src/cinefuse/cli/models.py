"""``models``: the weights folders cinefuse knows: list, pull, verify, rm (docs/models.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cinefuse.settings import Settings

if TYPE_CHECKING:
    from cinefuse.hub.catalogue import CatalogueEntry

models_app = typer.Typer(help="Weights for the neural engines: list, pull, verify and remove model folders.")


def models_dir() -> Path:
    """``CINEFUSE_MODELS_DIR``, or ``<data dir>/models`` when unset (created on first pull)."""
    settings = Settings()
    return settings.weights_dir.expanduser().resolve()


def _entries(names: list[str]) -> list[CatalogueEntry]:
    from cinefuse.hub.catalogue import catalogue, find

    found = []
    for name in names:
        entry = find(name)
        if entry is None:
            known = ", ".join(e.name for e in catalogue())
            raise typer.BadParameter(f"unknown model folder {name!r}; known: {known}", param_hint="NAME")
        found.append(entry)
    return found


def visible_gpu_gib() -> float | None:
    """Memory of the first visible GPU (GiB), or None without one (or without torch)."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return float(torch.cuda.get_device_properties(0).total_memory) / 1024**3


def weights_hint(settings: Settings, gpu_gib: float | None = None) -> str | None:
    """What ``serve`` says on a GPU machine whose models dir gives no neural engine its
    weights: the one command to run (the preview engine serves meanwhile). None without a
    GPU (``gpu_gib``: the visible GPU's memory, found when not given) or with weights."""
    from cinefuse.generation.registry import engine_specs

    if any(spec.gpu and spec.check(settings).ok for spec in engine_specs().values()):
        return None
    gib = gpu_gib if gpu_gib is not None else visible_gpu_gib()
    if gib is None:
        return None
    size = round(gib)  # a "24 GB" card reports a little under 24 GiB
    return (
        f"No neural weights in {settings.weights_dir}: run"
        f" `cinefuse models pull --for-gpu {size}` for this {size} GiB GPU (the preview engine serves meanwhile)."
    )


@models_app.command("list")
def list_models() -> None:
    """Every known model folder: roles, hub repo and revision, size, licence, whether it is here."""
    from rich.console import Console
    from rich.table import Table

    from cinefuse.hub.catalogue import catalogue, smallest_gpu
    from cinefuse.hub.folders import state

    root = models_dir()
    table = Table(title=f"Model folders in {root}")
    for column in ("folder", "roles", "repo @ revision", "GB", "licence", "GPU", "state", "enables"):
        table.add_column(column)
    for entry in catalogue():
        licence = entry.licence if entry.apache else f"[yellow]{entry.licence}[/yellow]"
        if entry.gated:
            licence += " [red](gated: HF_TOKEN)[/red]"
        smallest = smallest_gpu(entry)
        table.add_row(
            entry.name,
            ", ".join(entry.roles) or f"GGUF transformer of {entry.gguf_for}",
            f"{entry.repo} @ {entry.revision[:12]}",
            f"{entry.size_gb:g}",
            licence,
            f">= {smallest} GiB" if smallest else "quantization=gguf",
            state(root, entry),
            f"{entry.engine}: {', '.join(entry.model_ids)}",
        )
    Console().print(table)


@models_app.command("pull")
def pull_models(
    names: Annotated[
        list[str] | None, typer.Argument(help="Folder names (or repo ids) from `cinefuse models list`.")
    ] = None,
    for_gpu: Annotated[
        float | None,
        typer.Option(
            "--for-gpu", help="GiB of GPU memory: pull the set that size runs best (default: the visible GPU's)."
        ),
    ] = None,
) -> None:
    """Download model folders from the hub (HF_ENDPOINT, HF_TOKEN) into CINEFUSE_MODELS_DIR."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

    from cinefuse.hub.catalogue import for_gpu as folders_for_gpu
    from cinefuse.hub.pull import PullError, pull

    if names:
        entries = _entries(names)
    else:
        seen = visible_gpu_gib()
        gib = for_gpu if for_gpu is not None else (round(seen) if seen is not None else None)
        if gib is None:
            raise typer.BadParameter("no GPU visible here: say its size with --for-gpu N (GiB)", param_hint="--for-gpu")
        entries = folders_for_gpu(gib)
        if not entries:
            typer.echo(
                f"No GPU profile row is as small as {gib:g} GiB (docs/engines.md); the preview engine needs none."
            )
            return
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    token = os.environ.get("HF_TOKEN") or None
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    for entry in entries:
        with Progress(*columns, transient=True) as bars:
            tasks: dict[str, TaskID] = {}

            def progress(
                name: str, done: int, size: int, bars: Progress = bars, tasks: dict[str, TaskID] = tasks
            ) -> None:
                if name not in tasks:
                    tasks[name] = bars.add_task(name, total=size)
                bars.update(tasks[name], completed=done)

            try:
                result = pull(entry, root, token=token, progress=progress)
            except PullError as exc:
                typer.echo(f"{entry.name}: {exc}", err=True)
                raise typer.Exit(1) from exc
        typer.echo(
            f"{result.entry.name}: {result.outcome} ({result.commit[:12]}, {result.fetched_bytes / 1e9:.2f} GB fetched)"
        )
        if not result.entry.apache:
            typer.echo(f"  licence: {result.entry.licence} ({result.entry.licence_url or result.entry.repo})")
    typer.echo(f"Start with CINEFUSE_MODELS_DIR={root} cinefuse serve")


@models_app.command("verify")
def verify_models(
    names: Annotated[list[str] | None, typer.Argument(help="Folders to check (default: every pulled one).")] = None,
) -> None:
    """Check pulled folders file by file against the hashes recorded at pull time (works offline)."""
    from cinefuse.hub.catalogue import catalogue
    from cinefuse.hub.folders import state, verify

    root = models_dir()
    entries = _entries(names) if names else [e for e in catalogue() if state(root, e) != "absent"]
    bad = 0
    for entry in entries:
        problems = verify(root, entry)
        name = entry.name
        if problems:
            bad += 1
            typer.echo(f"{name}: {len(problems)} problem(s); `cinefuse models pull {name}` fetches them again")
            for problem in problems:
                typer.echo(f"  {problem}")
        else:
            typer.echo(f"{name}: ok")
    if bad:
        raise typer.Exit(1)


@models_app.command("rm")
def remove_models(names: Annotated[list[str], typer.Argument(help="Folders to delete.")]) -> None:
    """Delete model folders (and any interrupted pull of them)."""
    from cinefuse.hub.folders import remove

    root = models_dir()
    for entry in _entries(names):
        gone = remove(root, entry)
        typer.echo(f"{entry.name}: {'removed' if gone else 'not here'}")
