"""What every ``cinefuse`` command shares: logging, settings with command-line overrides, and
one-line error reporting with the exit status the docs promise."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from cinefuse.settings import Settings


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request with its full URL at INFO: presigned upload URLs and webhook
    # tokens are credentials, and the deliverer logs what matters without them.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def settings_with(**overrides: object) -> Settings:
    """Environment settings, with the command line's options (those given) on top."""
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings.model_validate({**Settings().model_dump(), **values})


class CommandFailed(Exception):
    """A failure to report as ``error: <code> (<parameter>): <message>`` and exit with ``exit_code``
    (2: the request was refused; 1: anything else)."""

    def __init__(self, code: str, message: str, parameter: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.parameter = parameter
        self.exit_code = exit_code

    @classmethod
    def from_wire(cls, item: dict[str, Any], exit_code: int) -> CommandFailed:
        """From an API error object (``code``, ``message``, ``parameter``)."""
        return cls(
            str(item.get("code", "error")), str(item.get("message", "")), item.get("parameter"), exit_code=exit_code
        )

    def line(self) -> str:
        where = f" ({self.parameter})" if self.parameter else ""
        return f"error: {self.code}{where}: {self.message}"


@contextmanager
def reporting() -> Iterator[None]:
    """Turn failures into one readable line on stderr and a non-zero exit: ``CommandFailed``,
    the domain errors (a refused request exits 2) and network errors."""
    import httpx

    from cinefuse.errors import CinefuseError, RequestError

    try:
        yield
    except CommandFailed as failure:
        typer.echo(failure.line(), err=True)
        raise typer.Exit(failure.exit_code) from None
    except CinefuseError as error:
        refused = CommandFailed(error.code, error.message, error.parameter, 2 if isinstance(error, RequestError) else 1)
        typer.echo(refused.line(), err=True)
        raise typer.Exit(refused.exit_code) from None
    except httpx.HTTPError as error:
        where = f" ({error.request.url})" if _has_request(error) else ""
        typer.echo(f"error: networkError: {type(error).__name__}: {error}{where}", err=True)
        raise typer.Exit(1) from None


def _has_request(error: Exception) -> bool:
    try:
        return getattr(error, "request", None) is not None
    except RuntimeError:  # httpx raises when an error carries no request
        return False
