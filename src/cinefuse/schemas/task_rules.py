"""The rule of every task field (docs/api.md section 3): the one definition the parser
(``schemas/parser.py``) checks with and the OpenAPI schema (``api/openapi.py``) is written from.

Rules shared by every model are constants; a videoInference task's model-specific ones come
from its ``ModelCapabilities`` through :func:`video_rules`. The cross-field rules (which need
several fields at once) are in ``schemas/cross_rules.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import idna

from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.schemas import patterns
from cinefuse.schemas.rules import AnyText, Choice, Integer, Items, Pattern, Text
from cinefuse.schemas.tasks import MAX_INLINE_IMAGE_CHARS, SAFETY_MODES, SEED_MAX, TTL_MAX, TTL_MIN

URL_MAX_LENGTH = 2048
#: Width and height are read as integers in this range before the size table is consulted.
DIMENSION = Integer(1, 10_000)
SEED = Integer(0, SEED_MAX)
TTL = Integer(TTL_MIN, TTL_MAX)
SAFETY_MODE = Choice(SAFETY_MODES)
#: ``frameImages[i].frame``: a name or an index, all four meaning one of two positions.
FRAME_POSITIONS: dict[Any, str] = {"first": "first", "last": "last", 0: "first", -1: "last"}

TASK_UUID = Text(pattern=Pattern(patterns.UUID4, "be a UUID v4 string"), title="UUID v4")


def _valid_a_labels(url: str) -> str | None:
    """A host with an ``xn--`` label must decode as IDNA (httpx decodes it when it sends, and
    refuses the URL then): beyond JSON Schema, which cannot run punycode."""
    authority = url.split("//", 1)[1]
    host = re.split(r"[/?#]", authority, maxsplit=1)[0]
    if host.startswith("["):
        return None
    host = host.split(":", 1)[0].lower()
    if not any(label.startswith("xn--") for label in host.split(".")):
        return None
    try:
        idna.decode(host)
    except (idna.IDNAError, UnicodeError):
        return f"have a valid internationalised host name (IDNA), not {host!r}"
    return None


#: What an http(s) URL must be, in words (completes "must ...").
URL_FORM = (
    "be an absolute http(s) URL of printable ASCII (a host name, IPv4 or [IPv6] address, an optional port "
    "1..65535; no spaces, control characters or user info)"
)
HTTP_URL = Text(
    max_length=URL_MAX_LENGTH,
    pattern=Pattern(patterns.HTTP_URL, URL_FORM),
    title="http(s) URL",
    beyond=(_valid_a_labels,),
)

# ---------------------------------------------------------------------------- images

_BASE64_CHARS = re.compile("[A-Za-z0-9+/]*={0,2}")


def _is_base64(value: str) -> bool:
    """``patterns.BASE64`` without its slow repeated group: the same strings, in linear time."""
    return bool(value) and len(value) % 4 == 0 and _BASE64_CHARS.fullmatch(value) is not None


def _is_data_uri(value: str) -> bool:
    """``patterns.DATA_URI`` the same way: the header is bounded, so matched first."""
    header = re.match(patterns.DATA_URI_HEADER, value)
    return header is not None and _is_base64(value[header.end() :])


IMAGE = AnyText(
    (
        Text(pattern=Pattern(patterns.UUID, "be an image UUID"), title="image UUID"),
        HTTP_URL,
        Text(
            max_length=MAX_INLINE_IMAGE_CHARS,
            pattern=Pattern(patterns.DATA_URI, "be a data URI", fast=_is_data_uri),
            title="data URI",
        ),
        Text(
            max_length=MAX_INLINE_IMAGE_CHARS,
            pattern=Pattern(patterns.BASE64, "be base64", fast=_is_base64),
            title="base64",
        ),
    ),
    "an image UUID, an http(s) URL, a data URI (data:image/<type>;base64,<data>) or base64",
)


# ---------------------------------------------------------------------------- videoInference


@dataclass(frozen=True)
class VideoRules:
    """The field rules of one model's videoInference task, read from its capabilities."""

    positive_prompt: Text
    negative_prompt: Text
    resolution: Choice
    duration: Choice
    fps: Choice
    number_results: Integer
    output_type: Choice
    output_format: Choice
    output_quality: Integer
    delivery_method: Choice
    #: ``None``: the model takes none.
    frame_images: Items | None
    reference_images: Items | None
    camera_movement: Choice
    effect: Choice
    style: Choice
    motion_mode: Choice


#: id(caps) -> (caps, its rules): built once per model (capabilities never change; the
#: capabilities are kept with their rules, so an id is never reused while cached).
_BUILT: dict[int, tuple[ModelCapabilities, VideoRules]] = {}


def video_rules(caps: ModelCapabilities) -> VideoRules:
    """The rules of ``caps``'s videoInference fields."""
    built = _BUILT.get(id(caps))
    if built is None or built[0] is not caps:
        built = _BUILT[id(caps)] = (caps, _video_rules(caps))
    return built[1]


def _video_rules(caps: ModelCapabilities) -> VideoRules:
    low, high = caps.prompt_length
    return VideoRules(
        positive_prompt=Text(
            low, high, Pattern(patterns.NON_SPACE, "contain a character that is not white space", whole=False)
        ),
        negative_prompt=Text(low, high),
        resolution=Choice(caps.resolutions),
        duration=Choice(caps.durations, "number"),
        fps=Choice(caps.fps, "integer"),
        number_results=Integer(*caps.number_results),
        output_type=Choice(caps.output_types),
        output_format=Choice(caps.output_formats),
        output_quality=Integer(*caps.output_quality),
        delivery_method=Choice(caps.delivery_methods),
        frame_images=Items(1, caps.max_frame_images) if caps.max_frame_images else None,
        reference_images=Items(1, caps.max_reference_images) if caps.max_reference_images else None,
        camera_movement=Choice(caps.camera_movements),
        effect=Choice(caps.effects),
        style=Choice(caps.styles),
        motion_mode=Choice(caps.motion_modes),
    )
