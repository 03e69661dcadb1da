"""Field rules: each one value that the parser checks with and the OpenAPI schema is written from.

A rule knows what a field's value must be (a string of some length matching some pattern, an
integer in a range, one of some values, an array of some length) and says it two ways:
``problem(value)`` for the parser (``None``, or why the value is refused, for its error message)
and ``schema()`` for ``api/openapi.py`` (the JSON Schema of the same constraint). The JSON type
check stays in :class:`~cinefuse.schemas.fields.Fields` (it decides the error code); a rule sees
values of its type only.

What JSON Schema cannot say is kept apart and named: ``Text.beyond`` holds checks only the
parser makes (an ``xn--`` host label that must be valid punycode), so a reader of a rule sees
exactly where the schema stops.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Schema = dict[str, Any]
JsonKind = Literal["string", "integer", "number"]


def number(value: Any) -> Any:
    """``5.0`` as ``5``: documents and messages show whole numbers without a fraction."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def format_values(values: Sequence[Any]) -> str:
    """``5, 8`` for messages."""
    return ", ".join(str(number(v)) for v in values)


@dataclass(frozen=True)
class Pattern:
    """A regular expression (``schemas/patterns.py``) and what it requires, in words.

    ``whole``: the value must match entirely (stated in JSON Schema as ``^(?:...)$``);
    otherwise somewhere in it (JSON Schema's own ``pattern`` semantics). ``says`` completes
    "must ..." in error messages. ``fast`` is an optional predicate the parser uses instead of
    the expression where the expression is slow on long values; it must accept exactly what
    the expression accepts (``tests/schemas/test_rules.py`` checks each one).
    """

    source: str
    says: str
    whole: bool = True
    fast: Callable[[str], bool] | None = field(default=None, compare=False)

    @property
    def json(self) -> str:
        return f"^(?:{self.source})$" if self.whole else self.source

    def matches(self, value: str) -> bool:
        if self.fast is not None:
            return self.fast(value)
        return self.regex_matches(value)

    def regex_matches(self, value: str) -> bool:
        # fullmatch, not "$": in Python "$" also matches before a final newline.
        found = re.fullmatch(self.source, value) if self.whole else re.search(self.source, value)
        return found is not None


@dataclass(frozen=True)
class Text:
    """A string: ``min_length..max_length`` characters (code points, as JSON Schema counts),
    matching ``pattern``; ``beyond`` are checks JSON Schema cannot state (each returns the
    problem or ``None``). ``title`` names the form in the documents (``http(s) URL``)."""

    min_length: int = 0
    max_length: int | None = None
    pattern: Pattern | None = None
    title: str | None = None
    beyond: tuple[Callable[[str], str | None], ...] = field(default=(), compare=False)

    def problem(self, value: str) -> str | None:
        if len(value) < self.min_length or (self.max_length is not None and len(value) > self.max_length):
            most = "" if self.max_length is None else self.max_length
            return f"must be {self.min_length}..{most} characters, got {len(value)}"
        if self.pattern is not None and not self.pattern.matches(value):
            return f"must {self.pattern.says}"
        for check in self.beyond:
            found = check(value)
            if found is not None:
                return found
        return None

    def schema(self) -> Schema:
        out: Schema = {"type": "string"}
        if self.title:
            out["title"] = self.title
        if self.min_length:
            out["minLength"] = self.min_length
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        if self.pattern is not None:
            out["pattern"] = self.pattern.json
        return out


@dataclass(frozen=True)
class AnyText:
    """A string of one of several forms (an image: a UUID, a URL, a data URI or base64)."""

    forms: tuple[Text, ...]
    says: str

    def problem(self, value: str) -> str | None:
        return None if any(form.problem(value) is None for form in self.forms) else f"must be {self.says}"

    def schema(self) -> Schema:
        return {"anyOf": [form.schema() for form in self.forms]}


@dataclass(frozen=True)
class Integer:
    """An integer in ``minimum..maximum`` (a float with no fraction counts, as in JSON Schema)."""

    minimum: int
    maximum: int

    def problem(self, value: int) -> str | None:
        if not self.minimum <= value <= self.maximum:
            return f"must be between {self.minimum} and {self.maximum}"
        return None

    def schema(self) -> Schema:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (compared as JSON compares them: ``5 == 5.0``), of JSON type ``kind``."""

    values: tuple[Any, ...]
    kind: JsonKind = "string"

    def pick(self, value: Any) -> Any:
        """The option ``value`` equals, or ``None``."""
        return next((option for option in self.values if value == option), None)

    def schema(self) -> Schema:
        return {"type": self.kind, "enum": [number(v) for v in self.values]}


@dataclass(frozen=True)
class Items:
    """An array of ``min_items..max_items`` items."""

    min_items: int
    max_items: int

    def problem(self, value: Sequence[Any]) -> str | None:
        if not self.min_items <= len(value) <= self.max_items:
            return f"{self.min_items}..{self.max_items} items allowed"
        return None

    def schema(self, items: Schema) -> Schema:
        return {"type": "array", "items": items, "minItems": self.min_items, "maxItems": self.max_items}
