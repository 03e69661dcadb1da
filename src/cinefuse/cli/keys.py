"""``keys``: print the key(s) a data dir uses, or create, list and revoke keys in the job store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from cinefuse.errors import KEY_REVOKED
from cinefuse.settings import Settings

if TYPE_CHECKING:
    from cinefuse.jobs.store import JobStore

keys_app = typer.Typer(
    help="API keys: with no subcommand, print the key(s) this data dir uses.", invoke_without_command=True
)


@keys_app.callback()
def keys(ctx: typer.Context) -> None:
    """Print the API key(s) this data dir uses, one per line (creating one if none is
    configured); or manage the keys in the job store with a subcommand."""
    if ctx.invoked_subcommand is not None:
        return
    from cinefuse.keys import configured_keys

    for key in configured_keys(Settings())[0]:
        typer.echo(key)


@contextmanager
def _key_store() -> Iterator[JobStore]:
    """The configured job store's keys (migrated first, like a server would)."""
    from cinefuse.jobs.db import make_engine, migrate
    from cinefuse.jobs.store import JobStore

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        yield JobStore(engine)
    finally:
        engine.dispose()


@keys_app.command("create")
def keys_create(label: Annotated[str, typer.Option(help="what the key is for")] = "") -> None:
    """Create a key, printed once (the store keeps only its hash).

    Servers on this job store accept it from their next sweep.
    """
    import secrets

    key = secrets.token_urlsafe(32)
    with _key_store() as store:
        key_id = store.keys.create(key, label)
    typer.echo(key)
    typer.echo(f"key {key_id} created; it is not shown again", err=True)


@keys_app.command("list")
def keys_list() -> None:
    """List the keys in the job store: id, prefix, label, created, revoked."""
    with _key_store() as store:
        rows = store.keys.list()
    table = [("ID", "PREFIX", "LABEL", "CREATED", "REVOKED")]
    table += [
        (str(r.id), f"{r.prefix}..." if r.prefix else "-", r.label or "-", _when(r.created_at), _when(r.revoked_at))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp is not None else "-"


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="the key's id (keys list)")]) -> None:
    """Revoke a key: servers on this job store refuse it, and close its WebSocket sessions,
    from their next sweep; its unfinished tasks are cancelled (docs/api.md)."""
    with _key_store() as store:
        revoked = store.keys.revoke(key_id)
        cancelled, stopping = store.jobs.cancel_all_of_key(key_id, KEY_REVOKED) if revoked else (0, 0)
    if not revoked:
        typer.echo(f"error: keyNotFound: no key {key_id}, or it was revoked already", err=True)
        raise typer.Exit(1)
    typer.echo(f"key {key_id} revoked; {cancelled} queued task(s) cancelled, {stopping} running task(s) stopping")
