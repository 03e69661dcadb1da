"""The field validator: reads the fields of one JSON object and refuses bad ones.

Each reader raises the error family docs/api.md names for it:

* ``MissingParameter`` (``missing<Param>``): a required field is absent or null;
* ``InvalidParameter`` (``invalid<Param>``): wrong JSON type, or against its rule (a range, a
  length, a pattern: ``schemas/rules.py``, the rules the OpenAPI schema is written from);
* ``UnsupportedParameter`` (``unsupported<Param>``): a value outside the enumerated choices;
* ``UnknownParameter``: a field nobody read (``reject_unknown``).

``<Param>`` is the field's leaf name, capitalised, unless the reader is given a ``stem``.
Optional fields sent as JSON ``null`` count as absent (clients serialise unset options so).
"""

from __future__ import annotations

from typing import Any, TypeVar

from cinefuse.errors import InvalidParameter, MissingParameter, UnknownParameter, UnsupportedParameter
from cinefuse.schemas.rules import Choice, Integer, Items, Text, format_values

T = TypeVar("T")


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

    def string(self, name: str, rule: Text | None = None, *, stem: str | None = None) -> str | None:
        """A string field; ``rule`` (length, pattern, checks beyond the schema) refuses it as
        ``invalid<Param>`` with the rule's reason."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected a string.", "string", stem)
        problem = rule.problem(value) if rule is not None else None
        if problem is not None:
            raise self.invalid(name, f"Invalid value for {self.param(name)}: {problem}.", "string", stem)
        return value

    def required_string(self, name: str, rule: Text | None = None, *, stem: str | None = None) -> str:
        return self.required(name, self.string(name, rule, stem=stem), stem)

    def integer(self, name: str, rule: Integer | None = None, *, stem: str | None = None) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected an integer.", "integer", stem)
        problem = rule.problem(value) if rule is not None else None
        if problem is not None:
            raise self.invalid(name, f"Invalid value for {self.param(name)} parameter: {problem}.", "integer", stem)
        return value

    def boolean(self, name: str, *, stem: str | None = None) -> bool | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected true or false.", "boolean", stem)
        return value

    def choice(self, name: str, rule: Choice, *, stem: str | None = None) -> Any:
        """A value of ``rule``; a wrong JSON type is invalid*, a wrong value unsupported*."""
        value = self.raw(name)
        if value is None:
            return None
        type_ = "float" if rule.kind == "number" else rule.kind
        if rule.kind in ("integer", "number"):
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok_type = isinstance(value, str)
        if not ok_type:
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected a {type_}.", type_, stem)
        option = rule.pick(value)
        if option is None:
            raise UnsupportedParameter(
                f"Invalid value for {self.param(name)} parameter. Allowed values: {format_values(rule.values)}.",
                parameter=self.param(name),
                stem=stem,
                type=type_,
                allowed_values=list(rule.values),
            )
        return option

    def object(self, name: str) -> Fields | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected an object.", "object")
        return Fields(value, self.param(name))

    def array(self, name: str, rule: Items, *, stem: str | None = None) -> list[Any] | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.invalid(name, f"Invalid value for {self.param(name)}: expected an array.", "array", stem)
        problem = rule.problem(value)
        if problem is not None:
            raise self.invalid(name, f"Invalid value for {self.param(name)}: {problem}.", "array", stem)
        return value

    def reject_unknown(self) -> None:
        for key in self.obj:
            if key not in self.seen:
                raise UnknownParameter(f"Unknown parameter: {self.param(key)}.", parameter=self.param(key))
