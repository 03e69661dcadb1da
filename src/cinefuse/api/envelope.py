"""The task envelope read out of untrusted bytes, at a cost the sender cannot choose.

JSON is cheap to send and dear to parse: 50 MB of ``[[],[],...]`` is 16 million lists,
1.5 GB of objects and seconds of the event loop to build and to free (issue 20). orjson
holds the GIL while it parses, and freeing a large structure is one long C call, so a
worker thread alone does not keep the event loop answering; only bounding the work does:

* A caller without a key is read no further than ``max_unauthenticated_bytes``; past that,
  only its first task is looked at (``leading_task``: a flat object, matched by one regular
  expression, never a parse of the rest), and it must be an authentication task.
* Before any parse, the values it could build are bounded (``values_bound``: C-speed counts
  of the separator bytes) and a body over ``max_values`` is refused unparsed.
* A large body is parsed on a worker thread (``parse_tasks``) and its items are freed there
  in slices (``release``), so the event loop neither waits for them nor frees them.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import orjson

from cinefuse.errors import InvalidJson, PayloadTooLarge
from cinefuse.settings import Settings

#: Bodies and messages up to this size are parsed on the event loop: a thread hop costs more.
INLINE_BYTES = 256 * 1024
#: Items freed per step of ``release``: the GIL can change hands between steps.
RELEASE_SLICE = 1024
#: Bytes counted per step of ``values_bound`` (about a millisecond), for the same reason.
_COUNT_WINDOW = 1024 * 1024

# Every JSON value but the outermost (object keys included) follows one of these bytes: ``,``
# between items, ``:`` before an object's value, ``[`` or ``{`` before a container's first
# item. Counted in strings too, so the count only errs high.
_SEPARATORS = (b",", b":", b"[", b"{")
_TEXT_SEPARATORS = tuple(s.decode() for s in _SEPARATORS)
# A JSON string, unrolled and possessive: linear time whatever the input, no backtracking.
_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
# The array's first item when it is a flat object (no nested container): the only shape an
# authentication task has.
_LEADING_OBJECT = re.compile(rb'\s*+\[\s*+(\{[^{}\[\]"]*+(?:' + _STRING + rb'[^{}\[\]"]*+)*+\})')


@dataclass(frozen=True)
class EnvelopeLimits:
    """What one REST body or WebSocket message may cost (docs/api.md, "Limits")."""

    max_bytes: int
    max_unauthenticated_bytes: int
    max_values: int

    @classmethod
    def from_settings(cls, settings: Settings) -> EnvelopeLimits:
        return cls(
            max_bytes=settings.max_body_bytes,
            max_unauthenticated_bytes=min(settings.max_unauthenticated_bytes, settings.max_body_bytes),
            max_values=settings.max_json_values,
        )


def values_bound(data: bytes | bytearray | str, stop_above: int | None = None) -> int:
    """At least as many JSON values as parsing ``data`` would build (never fewer). Counted a
    window at a time, so that on a worker thread the GIL changes hands between windows;
    once past ``stop_above`` it stops, and the count is only known to exceed that."""
    separators: tuple[Any, ...] = _TEXT_SEPARATORS if isinstance(data, str) else _SEPARATORS
    total = 1
    for start in range(0, len(data), _COUNT_WINDOW):
        end = start + _COUNT_WINDOW
        total += sum(data.count(separator, start, end) for separator in separators)
        if stop_above is not None and total > stop_above:
            break
    return total


def leading_task(prefix: bytes) -> dict[str, Any] | None:
    """The first item of the JSON array that ``prefix`` starts, when that item is a flat
    object wholly inside ``prefix``; None otherwise (not an array, a nested or cut-off
    first item). Costs one regular-expression match over ``prefix``, whatever follows it."""
    match = _LEADING_OBJECT.match(prefix)
    if match is None:
        return None
    try:
        task = orjson.loads(match.group(1))
    except orjson.JSONDecodeError:
        return None
    return task if isinstance(task, dict) else None


def _parse_within(data: bytes | bytearray | str, max_values: int) -> Any:
    """Parse ``data`` unless it could build more than ``max_values`` values.
    Raises ``PayloadTooLarge`` or ``InvalidJson``."""
    if values_bound(data, stop_above=max_values) > max_values:
        raise PayloadTooLarge(f"Body over {max_values} JSON values.")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"Body is not valid JSON: {exc}") from exc


async def parse_tasks(data: bytes | bytearray | str, max_values: int) -> Any:
    """The parsed body or message, bounded by ``max_values`` (see ``_parse_within``); a
    large one is counted and parsed on a worker thread."""
    if len(data) <= INLINE_BYTES:
        return _parse_within(data, max_values)
    return await asyncio.to_thread(_parse_within, data, max_values)


def is_large(data: bytes | bytearray | str) -> bool:
    """Whether parsing ``data`` may build enough to be worth dropping with ``release``."""
    return len(data) > INLINE_BYTES


def _drop(values: list[Any]) -> None:
    while values:
        del values[-RELEASE_SLICE:]


async def release(parsed: Any) -> None:
    """Free a parsed body's items on a worker thread, a slice at a time, so that freeing
    them never takes the event loop for long (the GIL can change hands between slices).
    The caller holds no other reference to those items; ``parsed`` is left empty."""
    if isinstance(parsed, list) and parsed:
        await asyncio.to_thread(_drop, parsed)
