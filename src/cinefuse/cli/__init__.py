"""The ``cinefuse`` command: serve, worker, generate, submit, keys, doctor.

One module per concern: ``server`` (serve, worker, doctor), ``generate`` (local renders),
``submit`` (a running server's client), ``keys``; ``options`` holds the videoInference options
the two generating commands share and ``common`` the error reporting every command uses.
"""

from __future__ import annotations

import typer

from cinefuse.cli.generate import generate
from cinefuse.cli.keys import keys_app
from cinefuse.cli.models import models_app
from cinefuse.cli.server import doctor, serve, worker
from cinefuse.cli.submit import submit

app = typer.Typer(add_completion=False, no_args_is_help=True, help="cinefuse: self-hosted video generation server")
app.command()(serve)
app.command()(worker)
app.command()(generate)
app.command()(submit)
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.command()(doctor)


def main() -> None:
    app()
