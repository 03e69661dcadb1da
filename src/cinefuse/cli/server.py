"""``serve``, ``worker`` and ``doctor``: running cinefuse and checking what it can use."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cinefuse.cli.common import configure_logging, settings_with
from cinefuse.settings import Settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Start the API with its embedded workers (embedded profile).

    Prints the URL, and the API key in full only on the start that creates it (the first
    on a data dir): a server's output usually ends up in log collectors, so later starts
    show only the key's prefix (``cinefuse keys`` prints the key)."""
    from cinefuse.api.ws_transport import BoundedWebSocketProtocol
    from cinefuse.app import create_app
    from cinefuse.cli.models import weights_hint
    from cinefuse.cli.serving import run_server
    from cinefuse.keys import KEY_FILE, configured_keys

    configure_logging()
    settings = settings_with(host=host, port=port)
    keys, created = configured_keys(settings)
    application = create_app(settings)
    typer.echo(
        f"cinefuse listening on {settings.base_url}  (REST: POST {settings.base_url}/v1, "
        f"WebSocket: {settings.base_url.replace('http', 'ws', 1)}/v1)"
    )
    if not settings.api_keys:
        typer.echo(key_line(keys[0], settings.data_dir / KEY_FILE, created))
    hint = weights_hint(settings)
    if hint:
        typer.echo(hint)
    sys.stdout.flush()
    run_server(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
        ws_max_size=settings.max_body_bytes,
        ws=BoundedWebSocketProtocol,
    )


def key_line(key: str, path: Path, created: bool) -> str:
    """What ``serve`` says about the data dir's key: all of it when this start created it
    (the person starting a first server needs it to sign in), else its prefix and where
    to find it."""
    from cinefuse.jobs.store.keys import PREFIX_LENGTH

    if created:
        return f"API key (created and stored in {path}; later starts show only its prefix): {key}"
    return f"API key: {key[:PREFIX_LENGTH]}... (from {path}; `cinefuse keys` prints it)"


def worker(
    workers: Annotated[int, typer.Option(help="Worker threads in this process (no broker)")] = 1,
    role: Annotated[str, typer.Option(help="all | jobs | deliverer | sweeper")] = "all",
    gpus: Annotated[str | None, typer.Option(help="GPU ids, one job process each (e.g. 0,1,2,3)")] = None,
    models: Annotated[str | None, typer.Option(help="Only these model ids (comma-separated)")] = None,
) -> None:
    """Run workers without the API, against the configured job store.

    With CINEFUSE_BROKER_URL: Celery job processes (one per GPU). With --role: only the deliverer
    or only the sweeper. See docs/deployment.md.
    """
    from cinefuse.distributed import ROLES, run_worker

    if role not in ROLES:
        raise typer.BadParameter(f"choose one of {', '.join(ROLES)}", param_hint="--role")
    configure_logging()
    run_worker(
        Settings(),
        role=role,  # type: ignore[arg-type]  # checked against ROLES above
        threads=workers,
        gpus=[g.strip() for g in gpus.split(",") if g.strip()] if gpus else None,
        models=[m.strip() for m in models.split(",") if m.strip()] if models else None,
    )


def doctor() -> None:
    """Report which engines, codecs, database and services are usable here."""
    from cinefuse.doctor import report

    for name, ok, detail in report(Settings()):
        typer.echo(f"[{'ok' if ok else '--'}] {name}: {detail}")
