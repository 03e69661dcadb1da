"""The field validator: reads the fields of one JSON object and refuses bad ones.

Each reader raises the error family docs/api.md names for it:

* ``MissingParameter`` (``missing<Param>``): a required field is absent or null;
* ``InvalidParameter`` (``invalid<Param>``): wrong JSON type, or out of its range;
* ``UnsupportedParameter`` (``unsupported<Param>``): a value outside the enumerated choices;
* ``UnknownParameter``: a field nobody read (``reject_unknown``).

``<Param>`` is the field's leaf name, capitalised, unless the reader is given a ``stem``.
Optional fields sent as JSON ``null`` count as absent (clients serialise unset options so).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cinefuse.errors import InvalidParameter, MissingParameter, UnknownParameter, UnsupportedParameter

URL_MAX_LENGTH = 2048
_URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)

T = TypeVar("T")


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a usable host (checked again, resolved, at delivery)."""
    if len(value) > URL_MAX_LENGTH or not _URL_RE.fullmatch(value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
        if host:
            host.encode("idna")
    except (ValueError, UnicodeError):
        return False
    return bool(host)


def format_values(values: Sequence[Any]) -> str:
    """``5, 8`` for messages: whole floats without their ``.0``."""
    return ", ".join(str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in values)


class Fields:
    """Reads fields of one JSON object, remembering which were consumed.

    ``path`` is the dotted prefix for error parameters (``""`` at top level).
    """

    def __init__(self, obj: dict[str, Any], path: str = "") -> None:
        self.obj = obj
        self.path = path
        self.seen: set[str] = set()

    def param(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return self.obj.get(name) is not None

    def raw(self, name: str) -> Any:
        self.seen.add(name)
        return self.obj.get(name)

    def missing(self, name: str, stem: str | None = None) -> MissingParameter:
        return MissingParameter(
            f"Missing required parameter: {self.param(name)}.", parameter=self.param(name), stem=stem
        )

    def invalid(self, name: str, message: str, type_: str, stem: str | None = None) -> InvalidParameter:
        return InvalidParameter(message, parameter=self.param(name), stem=stem, type=type_)

    def required(self, name: str, value: T | None, stem: str | None = None) -> T:
        """``value`` (read from field ``name``), or ``missing<Param>`` when it is None."""
        if value is None:
            raise self.missing(name, stem)
        return value

    def string(self, name: str, *, length: tuple[int, int] | None = None, stem: str | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected a string.", "string", stem)
        if length and not length[0] <= len(value) <= length[1]:
            raise self.invalid(
                name,
                f"Invalid length for {self.param(name)}: must be {length[0]}..{length[1]} characters,"
                f" got {len(value)}.",
                "string",
                stem,
            )
        return value

    def required_string(self, name: str, *, length: tuple[int, int] | None = None, stem: str | None = None) -> str:
        return self.required(name, self.string(name, length=length, stem=stem), stem)

    def integer(self, name: str, *, bounds: tuple[int, int] | None = None, stem: str | None = None) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected an integer.", "integer", stem)
        if bounds and not bounds[0] <= value <= bounds[1]:
            raise self.invalid(
                name,
                f"Invalid value for {self.param(name)} parameter: must be between {bounds[0]} and {bounds[1]}.",
                "integer",
                stem,
            )
        return value

    def boolean(self, name: str, *, stem: str | None = None) -> bool | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected true or false.", "boolean", stem)
        return value

    def choice(self, name: str, allowed: Sequence[T], *, stem: str | None = None, type_: str = "string") -> T | None:
        """A value from ``allowed``; a wrong JSON type is invalid*, a wrong value unsupported*."""
        value = self.raw(name)
        if value is None:
            return None
        if type_ in ("integer", "float"):
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok_type = isinstance(value, str)
        if not ok_type:
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected a {type_}.", type_, stem)
        for option in allowed:
            if value == option:
                return option
        raise UnsupportedParameter(
            f"Invalid value for {self.param(name)} parameter. Allowed values: {format_values(allowed)}.",
            parameter=self.param(name),
            stem=stem,
            type=type_,
            allowed_values=list(allowed),
        )

    def url(self, name: str, *, stem: str | None = None) -> str | None:
        value = self.string(name, stem=stem)
        if value is not None and not is_http_url(value):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected an http(s) URL.", "string", stem)
        return value

    def object(self, name: str) -> Fields | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected an object.", "object")
        return Fields(value, self.param(name))

    def array(self, name: str, *, items: tuple[int, int], stem: str | None = None) -> list[Any] | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected an array.", "array", stem)
        if not items[0] <= len(value) <= items[1]:
            raise self.invalid(
                name, f"Invalid value for {self.param(name)}: {items[0]}..{items[1]} items allowed.", "array", stem
            )
        return value

    def reject_unknown(self) -> None:
        for key in self.obj:
            if key not in self.seen:
                raise UnknownParameter(f"Unknown parameter: {self.param(key)}.", parameter=self.param(key))
