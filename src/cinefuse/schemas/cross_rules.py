"""The cross-field rules of a videoInference task (docs/api.md, "Cross-field rules"), stated in JSON Schema.

The parser enforces these rules in Python (``schemas/parser.py``: the size block of
``_parse_video_inference``, ``_check_duration``, ``_check_provider_limits``, ``_synonym``),
reading the same ``ModelCapabilities``; here each becomes one statement of the model's OpenAPI
schema, so client generators and fuzzers know them too. ``tests/api/test_openapi.py`` sends
each rule's breaking example through both and expects both to refuse it.

How they are written matters as much as what they say. A generator (schemathesis, through
``jsonschema_rs.canonicalize``) turns ``allOf``/``if``/``not`` into a union of plain object
schemas, and the alternatives of the statements multiply: written naively (a ``not`` around
an object with ``required``, the size table inside an ``if``) the rules below gave a
canonical form of 860 kB per model and no generator at all for the union of the models
(``outgrew_intersections``). So each statement is phrased to stay small: conditions on one
property at a time (``{"properties": {"resolution": {"not": {"const": "1080p"}}}}``), a size tier
recognised by one side where that side names it alone (1080 is a side of 1080p sizes only),
no ``not`` around objects.

Not stated (the parser alone checks them; the fields' descriptions say them), because each
would multiply what generators build for every model, and the union of the models is then
beyond ``jsonschema_rs``' budget (``outgrew_intersections``: schemathesis generates nothing):

* an image array given both in ``inputs`` and at top level (``incompatibleParameters``):
  expressible, but the two statements take a model's alternatives from 17 to 40
  (``pixverse:1@3``): with them the five models of today are already beyond the budget,
  without them eight still fit;
* two frame images naming the same position (``incompatibleParameters``): ``not`` over
  ``prefixItems`` of the frame item schema, which made the frame arrays ten times larger.

Optional fields may be ``null`` (absent): "given" below means present and not ``null``.
"""

from __future__ import annotations

from typing import Any

from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.schemas.rules import format_values, number

Schema = dict[str, Any]
NULL: Schema = {"type": "null"}


def given(name: str) -> Schema:
    """``name`` is present and not null."""
    return {"required": [name], "properties": {name: {"not": NULL}}}


def not_given(*names: str) -> Schema:
    """Each of ``names`` is absent or null."""
    return {"properties": {name: NULL for name in names}}


def no_images(name: str) -> Schema:
    """No ``name`` image array in either form (top level or ``inputs``)."""
    return {"properties": {name: NULL, "inputs": {"anyOf": [NULL, {"type": "object", **not_given(name)}]}}}


def pairs(caps: ModelCapabilities) -> list[Schema]:
    """Every ``width``/``height`` pair of the size table, in as few alternatives as it takes.

    A tier whose sizes are its short side paired with each of its sides (PixVerse's: 360x360,
    480x360, 640x360, 360x480, 360x640) is two alternatives: that width with those heights, and
    that height with those widths. Any other tier is one alternative per width."""
    out: list[Schema] = []
    for tier in caps.resolutions:
        sizes = set(caps.sizes[tier].values())
        short = min(min(size) for size in sizes)
        sides = sorted({side for size in sizes for side in size})
        if sizes == {(short, side) for side in sides} | {(side, short) for side in sides}:
            out.append({"properties": {"width": {"const": short}, "height": {"enum": sides}}})
            out.append({"properties": {"height": {"const": short}, "width": {"enum": sides}}})
            continue
        heights: dict[int, set[int]] = {}
        for width, height in sizes:
            heights.setdefault(width, set()).add(height)
        out += [
            {"properties": {"width": {"const": width}, "height": {"enum": sorted(hs)}}}
            for width, hs in sorted(heights.items())
        ]
    return out


def explicit_size(caps: ModelCapabilities) -> Schema:
    sizes = "; ".join(
        f"{tier}: " + ", ".join(f"{w}x{h}" for w, h in caps.sizes[tier].values()) for tier in caps.resolutions
    )
    return {
        "title": "width and height",
        "description": "Both or neither (`incompatibleParameters`); a pair of the size table "
        f"(`unsupportedDimensions`: {sizes}); not with `resolution` or frame images (`incompatibleParameters`).",
        "anyOf": [
            not_given("width", "height"),
            {
                "required": ["width", "height"],
                "allOf": [{"anyOf": pairs(caps)}, not_given("resolution"), no_images("frameImages")],
            },
        ],
    }


def tier_side(caps: ModelCapabilities, tier: str) -> int | None:
    """The side length that names ``tier`` alone: the shorter side of each of its sizes, and a
    side of no size of another tier (1080 for PixVerse's 1080p). ``None`` where there is none."""
    shorter = {min(size) for size in caps.sizes[tier].values()}
    others = {side for t in caps.resolutions if t != tier for size in caps.sizes[t].values() for side in size}
    return next(iter(shorter)) if len(shorter) == 1 and not shorter & others else None


def outside_tier(caps: ModelCapabilities, tier: str) -> Schema:
    """The task's size is not of ``tier``: neither named, nor a pair of it, nor its default."""
    side = tier_side(caps, tier)
    if side is None:  # no tier like this among today's limits: say it with the tier's pairs
        pair_not = [
            {"not": {"required": ["width", "height"], "properties": {"width": {"const": w}, "height": {"const": h}}}}
            for w, h in caps.sizes[tier].values()
        ]
        props: Schema = {"allOf": pair_not}
    else:
        props = {"properties": {"width": {"not": {"const": side}}, "height": {"not": {"const": side}}}}
    out: Schema = {"allOf": [{"properties": {"resolution": {"not": {"const": tier}}}}, props]}
    if tier == caps.default_resolution:
        out["anyOf"] = [given("resolution"), given("width")]
    return out


def duration_in(caps: ModelCapabilities, durations: tuple[float, ...]) -> Schema:
    """``duration`` is one of ``durations``; absent only where the default is one of them."""
    allowed: list[Any] = [number(d) for d in durations]
    if caps.default_duration in durations:
        return {"properties": {"duration": {"enum": [*allowed, None]}}}
    return {"required": ["duration"], "properties": {"duration": {"enum": allowed}}}


def tier_durations(caps: ModelCapabilities) -> list[Schema]:
    return [
        {
            "title": f"durations at {tier}",
            "description": f"At {tier} the duration is {format_values(durations)} (`unsupportedDuration`).",
            "anyOf": [outside_tier(caps, tier), duration_in(caps, durations)],
        }
        for tier, durations in caps.durations_by_resolution.items()
    ]


def provider_limits(caps: ModelCapabilities) -> Schema:
    """With cameraMovement, effect or style: the durations and the largest tier they allow."""
    limit = caps.provider_setting_max_resolution
    above = [tier for tier in caps.resolutions if not caps.resolution_at_most(tier, limit)]
    unstyled = {
        "properties": {
            "providerSettings": {
                "anyOf": [
                    NULL,
                    {
                        "type": "object",
                        "properties": {
                            caps.provider: {
                                "anyOf": [NULL, {"type": "object", **not_given("cameraMovement", "effect", "style")}]
                            }
                        },
                    },
                ]
            }
        }
    }
    within: list[Schema] = [duration_in(caps, caps.provider_setting_durations)]
    within += [outside_tier(caps, tier) for tier in above]
    return {
        "title": "limits of cameraMovement, effect and style",
        "description": f"With any of them the duration is {format_values(caps.provider_setting_durations)} "
        f"(`unsupportedDuration`) and the size at most {limit} (`unsupportedResolution`, "
        "`unsupportedDimensions`).",
        "anyOf": [unstyled, {"allOf": within}],
    }


def camera_or_effect() -> Schema:
    """For the provider settings object: ``cameraMovement`` and ``effect`` exclude each other."""
    return {"anyOf": [not_given("cameraMovement"), not_given("effect")]}


def video_rules_schema(caps: ModelCapabilities) -> list[Schema]:
    """Every cross-field rule of ``caps``'s videoInference task the schema states, one statement each."""
    rules = [explicit_size(caps), *tier_durations(caps)]
    if caps.camera_movements or caps.effects or caps.styles:
        rules.append(provider_limits(caps))
    return rules
