"""HTTP statuses of domain errors: the one place they are mapped (docs/api.md, "Transport")."""

from __future__ import annotations

from cinefuse.errors import AuthError, CinefuseError, LoadShed, PayloadTooLarge, RequestError, TaskNotFound

#: When several tasks of one REST body fail differently, the status names the most
#: telling failure: 401 > 413 > 429 > 400.
STATUS_PRIORITY = {401: 4, 413: 3, 429: 2, 400: 1}


def http_status(error: CinefuseError) -> int:
    """The REST status a refused task gives its body (never 5xx for anything a client sent)."""
    if isinstance(error, AuthError):
        return 401
    if isinstance(error, PayloadTooLarge):
        return 413
    if isinstance(error, LoadShed):
        return 429
    if isinstance(error, RequestError | TaskNotFound):
        return 400
    return 500
