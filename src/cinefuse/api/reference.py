"""The API reference (docs/api-reference.md), generated from the code that enforces it.

``python -m cinefuse.api.reference > docs/api-reference.md`` renders: every task type with
its parameters (type, range or values, default, required, notes) read from the OpenAPI
schemas of ``api/openapi.py`` (themselves built from the parser's constants and the model
capabilities); the error codes each parameter can get, found by *running the parser* on a
task with that one field missing, of the wrong type, or out of range; the cross-field rules,
each shown with the code, parameter and message the parser gives for an example; every
model's capabilities; every error code of ``errors.py`` with its HTTP status; and the reply
items. Nothing here is written by hand twice, so the page cannot drift from the server
(``tests/docs/test_api_reference.py`` fails when the committed page differs).

The output is deterministic: fixed UUIDs, sorted where the source has no order.
"""

from __future__ import annotations

import copy
import inspect
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cinefuse import errors
from cinefuse.api.errors import http_status
from cinefuse.api.openapi import (
    REPLY_STATUSES,
    TASK_COMPONENTS,
    Schema,
    model_component,
    openapi_document,
    reply_components,
)
from cinefuse.errors import CinefuseError, RequestError
from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.pixverse import MODEL_ID
from cinefuse.models.registry import MODELS
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.task_rules import HTTP_URL, IMAGE, TASK_UUID, video_rules
from cinefuse.schemas.tasks import TASK_TYPES

#: The UUID every probe task carries (the page must not change from run to run).
PROBE_UUID = "00000000-0000-4000-8000-000000000000"
#: The model whose videoInference table is shown in full; the others list their differences.
MAIN_MODEL = MODEL_ID
#: A stand-in image: the parser checks its form only (images are fetched or decoded later).
PROBE_IMAGE = "https://example.com/a.png"
#: (a value it takes, one it refuses) of each patterned string form, by its JSON Schema pattern.
PATTERN_EXAMPLES: dict[str, tuple[str, str]] = {
    TASK_UUID.schema()["pattern"]: (PROBE_UUID, "not-a-uuid"),
    HTTP_URL.schema()["pattern"]: ("https://example.com/hook", "ftp://example.com/"),
    IMAGE.forms[0].schema()["pattern"]: ("00000000-0000-4000-8000-0000000000aa", "not-a-uuid"),
    IMAGE.forms[2].schema()["pattern"]: ("data:image/png;base64,iVBORw0KGgo=", "data:image/png;base64,?"),
    IMAGE.forms[3].schema()["pattern"]: ("iVBORw0KGgo=", "not base64"),
    video_rules(MODELS[MAIN_MODEL]).positive_prompt.schema()["pattern"]: ("a lighthouse", "   "),
}


@dataclass(frozen=True)
class Param:
    """One field of a task schema, flattened: ``path`` as shown (``inputs.frameImages[].frame``),
    ``keys`` to reach it in a task, ``chain`` the (keys, schema) of every container above it."""

    path: str
    keys: tuple[str | int, ...]
    schema: Schema
    required: bool
    nullable: bool
    description: str
    default: Any
    chain: tuple[tuple[tuple[str | int, ...], Schema], ...]


class Resolver:
    """``$ref`` lookups in one document's components."""

    def __init__(self, document: Schema) -> None:
        self.schemas: dict[str, Schema] = document["components"]["schemas"]

    def deref(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def non_null(self, schema: Schema) -> tuple[Schema, bool]:
        """(the schema without its ``null`` alternative, whether null was allowed)."""
        schema = self.deref(schema)
        if "anyOf" in schema and {"type": "null"} in schema["anyOf"]:
            rest = [s for s in schema["anyOf"] if s != {"type": "null"}]
            inner = self.deref(rest[0]) if len(rest) == 1 else {"anyOf": rest}
            return {**inner, **{k: v for k, v in schema.items() if k in ("description", "default")}}, True
        kind = schema.get("type")
        if isinstance(kind, list) and "null" in kind:
            out = {**schema, "type": next(t for t in kind if t != "null")}
            if "enum" in out:
                out["enum"] = [v for v in out["enum"] if v is not None]
            return out, True
        return schema, False

    def alternatives(self, schema: Schema) -> list[Schema]:
        return [self.deref(s) for s in schema.get("anyOf", [schema])]

    def params(self, schema: Schema) -> Iterator[Param]:
        """Every field of an object schema, depth first."""
        yield from self._walk(self.deref(schema), (), "", ())

    def _walk(
        self,
        schema: Schema,
        keys: tuple[str | int, ...],
        prefix: str,
        chain: tuple[tuple[tuple[str | int, ...], Schema], ...],
    ) -> Iterator[Param]:
        required = set(schema.get("required", []))
        for name, raw in schema.get("properties", {}).items():
            inner, nullable = self.non_null(raw)
            path = f"{prefix}{name}"
            here = (*keys, name)
            yield Param(
                path,
                here,
                inner,
                name in required,
                nullable,
                raw.get("description", inner.get("description", "")),
                raw.get("default", inner.get("default")),
                chain,
            )
            if inner.get("type") == "object" and "properties" in inner:
                yield from self._walk(inner, here, f"{path}.", (*chain, (here, inner)))
            elif inner.get("type") == "array":
                items = self.deref(inner["items"])
                for alternative in self.alternatives(items):
                    if alternative.get("type") == "object":
                        element = (*here, 0)
                        yield from self._walk(
                            alternative, element, f"{path}[].", (*chain, (here, inner), (element, alternative))
                        )

    def example(self, schema: Schema) -> Any:
        """A value the schema (and the parser, field by field) accepts."""
        schema, _ = self.non_null(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        if "anyOf" in schema:
            return self.example(schema["anyOf"][0])
        kind = schema.get("type")
        if kind == "object":
            wanted = list(schema.get("required", []))
            if "oneOf" in schema:
                wanted += schema["oneOf"][0].get("required", [])
            return {name: self.example(schema["properties"][name]) for name in wanted}
        if kind == "array":
            return [self.example(schema["items"]) for _ in range(schema.get("minItems", 1))]
        if kind == "string":
            if "pattern" in schema:
                return PATTERN_EXAMPLES[schema["pattern"]][0]
            return "x" * max(schema.get("minLength", 0), 3)
        if kind == "integer" or kind == "number":
            return schema.get("minimum", 0)
        if kind == "boolean":
            return True
        return None


# ---------------------------------------------------------------------------- probing the parser


def _set(task: Any, keys: tuple[str | int, ...], value: Any) -> None:
    for key in keys[:-1]:
        task = task[key]
    task[keys[-1]] = value


def _get(task: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(task, list) or len(task) <= key:
                return None
        elif not isinstance(task, dict):
            return None
        task = task[key] if isinstance(key, int) else task.get(key)
    return task


def _within(resolver: Resolver, base: Schema, param: Param) -> Schema:
    """A copy of ``base`` holding ``param``'s containers (each a valid example)."""
    task = copy.deepcopy(base)
    for keys, schema in param.chain:
        current = _get(task, keys)
        if current is None or isinstance(current, dict) != (schema.get("type") == "object"):
            _set(task, keys, resolver.example(schema))
    if param.chain:
        # One of several alternatives (image or inputImage): the others make way for it.
        parent_keys, parent = param.chain[-1]
        holder = _get(task, parent_keys)
        branches = [set(b.get("required", [])) for b in parent.get("oneOf", [])]
        if isinstance(holder, dict) and any(param.keys[-1] in b for b in branches):
            for branch in branches:
                if param.keys[-1] not in branch:
                    for name in branch:
                        holder.pop(name, None)
            holder.setdefault(param.keys[-1], resolver.example(param.schema))
    return task


def _wrong_type(schema: Schema) -> Any:
    """A JSON value of a type the schema does not allow."""
    kinds = {schema.get("type")} if "type" in schema else {a.get("type") for a in schema.get("anyOf", [])}
    if "enum" in schema and "type" not in schema:
        kinds = {type(v).__name__ for v in schema["enum"]} | {"str", "int"}
    for kind, value in (("string", 12345), ("integer", "text"), ("number", "text"), ("boolean", "text")):
        if kind in kinds:
            return value
    return 12345 if "str" not in kinds else {"unknown": 1}


def _out_of_range(schema: Schema) -> Any:
    """A value of the right type the schema still refuses (``None`` when there is none)."""
    if "const" in schema:
        return "__unknown__"
    if "enum" in schema:
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in schema["enum"])
        return 7777 if numbers else "__unknown__"
    if "maximum" in schema:
        return schema["maximum"] + 1
    if "maxItems" in schema:
        return [PROBE_IMAGE] * (schema["maxItems"] + 1)
    if "pattern" in schema:
        return PATTERN_EXAMPLES[schema["pattern"]][1]
    if "anyOf" in schema and all("pattern" in form for form in schema["anyOf"]):
        return "not an image"
    if schema.get("minLength", 0) > 1:
        return "x"
    return None


def _code(task: dict[str, Any]) -> tuple[str, str | None, str] | None:
    """(code, parameter, message) the parser refuses ``task`` with; None if it takes it."""
    try:
        parse_task(task)
    except RequestError as error:
        return error.code, error.parameter, error.message
    return None


def probe_codes(resolver: Resolver, base: Schema, param: Param) -> list[str]:
    """The codes the parser gives ``param`` missing, of a wrong type, out of range."""
    task = _within(resolver, base, param)
    probes: list[Any] = [_wrong_type(param.schema), _out_of_range(param.schema)]
    codes: list[str] = []
    if param.required:
        missing = copy.deepcopy(task)
        parent: dict[str, Any] = _get(missing, param.keys[:-1]) if len(param.keys) > 1 else missing
        parent.pop(str(param.keys[-1]), None)
        found = _code(missing)
        if found:
            codes.append(found[0])
    for value in probes:
        if value is None:
            continue
        probed = copy.deepcopy(task)
        _set(probed, param.keys, value)
        found = _code(probed)
        if found and found[0] not in codes:
            codes.append(found[0])
    return codes


#: (rule, changes to the minimal pixverse:1@3 task, whether the OpenAPI schema states the rule)
#: for the cross-field rules table. ``tests/docs/test_api_reference.py`` checks each flag against
#: the schema (the rules left out are explained in ``schemas/cross_rules.py``).
RULES: list[tuple[str, dict[str, Any], bool]] = [
    ("width without height", {"width": 640}, True),
    ("width/height with resolution", {"width": 640, "height": 360, "resolution": "360p"}, True),
    ("width/height with frame images", {"width": 640, "height": 360, "inputs": {"frameImages": [PROBE_IMAGE]}}, True),
    ("a width/height pair not in the size table", {"width": 640, "height": 640}, True),
    ("a duration the resolution does not allow", {"resolution": "1080p", "duration": 8}, True),
    (
        "cameraMovement with effect",
        {"providerSettings": {"pixverse": {"cameraMovement": "zoom_in", "effect": "kiss kiss"}}},
        True,
    ),
    (
        "cameraMovement, effect or style with a longer duration",
        {"duration": 8, "providerSettings": {"pixverse": {"style": "anime"}}},
        True,
    ),
    (
        "cameraMovement, effect or style above the size limit",
        {"resolution": "1080p", "providerSettings": {"pixverse": {"effect": "kiss kiss"}}},
        True,
    ),
    (
        "the same with width/height",
        {"width": 1920, "height": 1080, "providerSettings": {"pixverse": {"cameraMovement": "zoom_in"}}},
        True,
    ),
    (
        "two frame images on one position",
        {"inputs": {"frameImages": [{"image": PROBE_IMAGE, "frame": "last"}, {"image": PROBE_IMAGE, "frame": -1}]}},
        False,
    ),
    (
        "a frame image given as image and inputImage",
        {"inputs": {"frameImages": [{"image": PROBE_IMAGE, "inputImage": PROBE_IMAGE}]}},
        True,
    ),
    (
        "frameImages both in inputs and at top level",
        {"inputs": {"frameImages": [PROBE_IMAGE]}, "frameImages": [{"inputImage": PROBE_IMAGE}]},
        False,
    ),
    (
        "reference images for a model that takes none",
        {"model": "cinefuse:wan2.2-ti2v@1", "inputs": {"referenceImages": [PROBE_IMAGE]}},
        True,
    ),
    ("an unknown field, even null", {"steps": None}, True),
    ("an unknown field in a nested object", {"providerSettings": {"pixverse": {"soundEffectSwitch": True}}}, True),
]


def minimal_task(model: str = MAIN_MODEL) -> dict[str, Any]:
    return {"taskType": "videoInference", "taskUUID": PROBE_UUID, "model": model, "positivePrompt": "a lighthouse"}


# ---------------------------------------------------------------------------- rendering


def _code_span(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value) if value is None else _json(value)
    return f"`{text}`"


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def type_of(resolver: Resolver, schema: Schema) -> str:
    if "anyOf" in schema:
        return " or ".join(type_of(resolver, resolver.deref(s)) for s in schema["anyOf"])
    if "$ref" in schema:
        return type_of(resolver, resolver.deref(schema))
    kind = schema.get("type", "value")
    if kind == "array":
        items = schema.get("items")
        if items is None:
            return "array"
        name = items["$ref"].rsplit("/", 1)[-1] if "$ref" in items else type_of(resolver, items)
        return f"array of {name}"
    if kind == "string" and "title" in schema:
        return str(schema["title"])
    if "enum" in schema and "type" not in schema:
        names = {bool: "boolean", int: "integer", float: "number", str: "string"}
        return " or ".join(sorted({names.get(type(v), "null") for v in schema["enum"] if v is not None}))
    return str(kind)


def range_of(schema: Schema) -> str:
    if "const" in schema:
        return _code_span(schema["const"])
    if "enum" in schema:
        return " ".join(_code_span(v) for v in schema["enum"])
    parts: list[str] = []
    if "minimum" in schema or "maximum" in schema:
        parts.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    if "minLength" in schema or "maxLength" in schema:
        parts.append(f"{schema.get('minLength', 0)}..{schema.get('maxLength', '')} chars")
    if "minItems" in schema or "maxItems" in schema:
        parts.append(f"{schema.get('minItems', 0)}..{schema.get('maxItems', '')} items")
    if schema.get("type") == "null":
        parts.append("none taken")
    return ", ".join(parts)


def param_table(resolver: Resolver, schema: Schema, base: dict[str, Any], found: dict[str, list[str]]) -> list[str]:
    lines = [
        "| parameter | type | range / values | default | required | error codes | notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for param in resolver.params(schema):
        probed = probe_codes(resolver, base, param)
        for code in probed:
            found.setdefault(code, []).append(param.path)
        codes = " ".join(f"`{c}`" for c in probed)
        default = _code_span(param.default) if param.default is not None else ""
        required = "yes" if param.required else ("no (null = absent)" if param.nullable else "no")
        lines.append(
            f"| `{param.path}` | {type_of(resolver, param.schema)} | {_cell(range_of(param.schema))} | {default} "
            f"| {required} | {codes} | {_cell(param.description)} |"
        )
    return lines


def _values(values: Iterable[Any]) -> str:
    return ", ".join(str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in values)


def model_rows(caps: ModelCapabilities, main: ModelCapabilities) -> list[tuple[str, str]]:
    """(capability, value) rows of one model; enum lists only where they differ from ``main``."""
    sizes = "; ".join(
        f"{tier}: " + ", ".join(f"{w}x{h}" for w, h in caps.sizes[tier].values()) for tier in caps.resolutions
    )
    narrower = "; ".join(f"{tier}: {_values(d)}" for tier, d in caps.durations_by_resolution.items())

    def listed(name: str, values: tuple[str, ...], main_values: tuple[str, ...]) -> tuple[str, str]:
        if caps is not main and values == main_values:
            return name, f"the {len(values)} of `{main.model_id}`"
        return name, ", ".join(f"`{v}`" for v in values) or "none"

    return [
        ("description", caps.description or ""),
        ("engine", f"`{caps.engine}`" if caps.engine else "the best engine this server has"),
        ("resolutions (16:9, 4:3, 1:1, 3:4, 9:16)", sizes),
        ("default resolution", f"`{caps.default_resolution}`"),
        ("durations (s)", _values(caps.durations) + (f" (narrower: {narrower})" if narrower else "")),
        ("default duration", _values([caps.default_duration])),
        ("fps", f"{_values(caps.fps)} (default {caps.default_fps})"),
        ("numberResults", f"{caps.number_results[0]}..{caps.number_results[1]}"),
        ("outputFormat", ", ".join(f"`{f}`" for f in caps.output_formats)),
        (
            "outputQuality",
            f"{caps.output_quality[0]}..{caps.output_quality[1]} (default {caps.default_output_quality})",
        ),
        ("positivePrompt / negativePrompt length", f"{caps.prompt_length[0]}..{caps.prompt_length[1]}"),
        ("frame images", f"up to {caps.max_frame_images}"),
        ("reference images", f"up to {caps.max_reference_images}"),
        (
            "with cameraMovement, effect or style",
            f"duration {_values(caps.provider_setting_durations)}, at most {caps.provider_setting_max_resolution}",
        ),
        (
            "motionMode `fast` becomes `normal` at",
            ", ".join(
                [
                    *(f"{_values([d])} s" for d in caps.fast_mode_excluded_durations),
                    *caps.fast_mode_excluded_resolutions,
                ]
            )
            or "never",
        ),
        listed("cameraMovement", caps.camera_movements, main.camera_movements),
        listed("effect", caps.effects, main.effects),
        listed("style", caps.styles, main.styles),
        ("motionMode", ", ".join(f"`{m}`" for m in caps.motion_modes)),
        ("price scale (x the server's price per second)", f"{caps.price_scale:g}"),
    ]


def _tree_notes() -> dict[str, str]:
    """Class name -> its line in the drawing of ``errors.py``'s docstring."""
    notes: dict[str, str] = {}
    for match in re.finditer(r"── (\w+)[ \t]*(.*)$", errors.__doc__ or "", re.MULTILINE):
        notes[match.group(1)] = match.group(2).strip()
    return notes


def _instance(cls: type[CinefuseError]) -> CinefuseError:
    try:
        return cls("example", parameter="fieldName")
    except TypeError:
        return cls("example")


#: What a code means where the drawing in ``errors.py`` names the code only.
MEANINGS = {
    "unknownTaskType": "`taskType` is none of the task types",
    "unknownParameter": "a field the task does not take, at any level, even when null",
    "incompatibleParameters": "two fields that exclude each other (see [Cross-field rules](#cross-field-rules))",
    "conflictTaskUUID": "the taskUUID was already used by this key",
    "missingApiKey": "no key: no Bearer header or authentication task; a WebSocket task before authenticating",
    "invalidApiKey": "a key that is not known (also blank or revoked)",
    "rateLimitExceeded": "over the key's requests per second (`CINEFUSE_RATE_LIMIT`)",
    "queueFull": "over the key's queued tasks (`CINEFUSE_QUEUE_LIMIT`)",
    "nsfwContentDetected": "the content safety check flagged the prompt, an input image or the result",
    "taskCancelled": "the task was cancelled before this result was finished",
    "uploadFailed": "the result could not be PUT to `uploadEndpoint` (it stays at `videoURL`)",
    "taskNotFound": "getResponse or cancelTask for a UUID this key never submitted (also another key's task)",
    "inferenceError": "the engine or encoder failed, or the job's worker was lost more often than the attempt cap",
    "timeoutProvider": "the job ran longer than the server's limit (`CINEFUSE_JOB_TIMEOUT`)",
}


def error_rows(found: dict[str, list[str]]) -> list[tuple[str, str, str, str]]:
    """(code, class, HTTP status or "result error", meaning) for every leaf of the error
    tree, in its order; ``found`` (code -> parameters the probes got it for) names the exact
    codes of the ``<Param>`` families and where the others come from."""
    notes = _tree_notes()
    classes = [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, CinefuseError) and cls.__module__ == errors.__name__ and cls.__name__ in notes
    ]
    order = list(notes)

    def own_code(cls: type[CinefuseError]) -> bool:
        """A node of the drawing that names its own code (a leaf, or ``InvalidPayload``)."""
        leaf = not any(o is not cls and issubclass(o, cls) for o in classes)
        return leaf or notes[cls.__name__].split(":")[0] == _instance(cls).code

    leaves = [cls for cls in classes if own_code(cls)]
    named = {_instance(cls).code for cls in leaves if not _instance(cls).code.endswith("FieldName")}
    rows = []
    for cls in sorted(leaves, key=lambda c: order.index(c.__name__)):
        error = _instance(cls)
        status = "result error" if isinstance(error, errors.TaskFailure) else str(http_status(error))
        note = notes[cls.__name__]
        first = note.split()[0].rstrip(":") if note else ""
        if first == error.code or "<Param>" in first:
            note = note[len(note.split()[0]) :].strip(" :")
        code = error.code
        if code.endswith("FieldName"):
            family = code.removesuffix("FieldName")
            code = f"{family}<Param>"
            exact = sorted(
                c
                for c in found
                if c.startswith(family) and c[len(family) : len(family) + 1].isupper() and c not in named
            )
            note += ": " + " ".join(f"`{c}`" for c in exact)
        elif (not note or note.startswith("(")) and code in MEANINGS:
            note = MEANINGS[code]
        if code in found and "<Param>" not in code and status != "result error":
            note += " (" + ", ".join(f"`{p}`" for p in dict.fromkeys(found[code])) + ")"
        rows.append((code, cls.__name__, status, note.strip()))
    return rows


def render() -> str:
    """The whole page."""
    document = openapi_document()
    resolver = Resolver(document)
    schemas = document["components"]["schemas"]
    found: dict[str, list[str]] = {}
    out: list[str] = [
        "# cinefuse API reference",
        "",
        "<!-- Generated by `python -m cinefuse.api.reference > docs/api-reference.md`: do not edit by hand. -->",
        "",
        "Generated from the code that enforces it: the parameter tables from the OpenAPI schemas (built from",
        "the parser's constants and the model capabilities), the error codes by running the parser on each",
        "field missing, of a wrong type and out of range, the rules by running it on an example of each.",
        "[api.md](api.md) is the contract with the reasons; [snippets.md](snippets.md) has ready-to-use",
        "clients. A running server serves the same schemas at `/openapi.json` and `/docs`.",
        "",
        "Contents: [Transport](#transport) · [Task types](#task-types) · [Cross-field rules](#cross-field-rules)"
        " · [Models](#models) · [Error codes](#error-codes) · [Replies](#replies)",
        "",
        "## Transport",
        "",
        "`POST /v1` takes a JSON array of tasks (REST); `GET /v1` upgraded to a WebSocket takes the same arrays",
        "as messages. Authenticate with `Authorization: Bearer <key>` or a first `authentication` task.",
        "`?dryRun=1` validates and answers without changing anything. Optional fields sent as `null` count as",
        "absent; an unknown field is refused at every level (`unknownParameter`).",
        "",
        "| HTTP status | when |",
        "| --- | --- |",
        *(f"| {status} | {text} |" for status, text in REPLY_STATUSES.items()),
        "",
        "## Task types",
        "",
    ]
    for task_type in TASK_TYPES:
        component = TASK_COMPONENTS[task_type]
        out += [f"### {task_type}", ""]
        if task_type == "videoInference":
            schema = schemas[model_component(MAIN_MODEL)]
            out += [
                f"{schemas[component]['description']} Shown for `{MAIN_MODEL}`; the other models differ only in",
                "the values of [Models](#models).",
                "",
            ]
            base = minimal_task()
        else:
            schema = schemas[component]
            out += [schema.get("description", ""), ""]
            base = resolver.example(schema)
        out += [*param_table(resolver, schema, base, found), ""]
    out += [
        "## Cross-field rules",
        "",
        f"Each row is the minimal `{MAIN_MODEL}` task with the changes shown, and what the parser answers;",
        "*in the schema* says whether `/openapi.json` states the rule too (so that generated clients and",
        "fuzzers know it), or whether the parser alone checks it.",
        "",
        "| rule | changes | code | parameter | message | in the schema |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rule, changes, stated in RULES:
        result = _code({**minimal_task(), **changes})
        code, parameter, message = result if result else ("(accepted)", None, "")
        if parameter and parameter not in found.setdefault(code, []):
            found[code].append(parameter)
        out.append(
            f"| {rule} | `{_cell(_json(changes))}` | `{code}` | {f'`{parameter}`' if parameter else ''} "
            f"| {_cell(message)} | {'yes' if stated else 'no: the parser only'} |"
        )
    out += ["", "## Models", ""]
    main = MODELS[MAIN_MODEL]
    for caps in MODELS.values():
        out += [f"### `{caps.model_id}`", "", "| capability | value |", "| --- | --- |"]
        out += [f"| {name} | {_cell(value)} |" for name, value in model_rows(caps, main)]
        out.append("")
    out += [
        "## Error codes",
        "",
        "Every error carries `code` and `message`; `parameter` names the field at fault (a dotted path),",
        "`allowedValues` and `type` where they help. `<Param>` is the field's leaf name with its first letter",
        "upper-cased (the table of [Task types](#task-types) lists the exact codes of each field). A *result",
        "error* is reported on a result of getResponse (and its webhook), not on the request.",
        "",
        "| code | class | HTTP status | meaning |",
        "| --- | --- | --- | --- |",
        *(f"| `{code}` | `{name}` | {status} | {_cell(note)} |" for code, name, status, note in error_rows(found)),
        "",
        "## Replies",
        "",
        'A reply is `{"data": [...]}`, `{"errors": [...]}` or both; `errors` is never empty. Items:',
        "",
    ]
    replies = reply_components()
    for name in (
        "AuthenticationReply",
        "PingReply",
        "ImageUploadReply",
        "VideoInferenceItem",
        "CancelTaskReply",
        "ErrorItem",
    ):
        schema = replies[name]
        required = set(schema.get("required", []))
        fields = ", ".join(
            f"`{field}`"
            + ("" if field in required else "?")
            + f" ({type_of(resolver, spec)}"
            + (f" {range_of(spec)}" if range_of(spec) else "")
            + ")"
            for field, spec in schema["properties"].items()
        )
        out += [f"- **{name}**: {fields}." + (f" {schema['description']}" if "description" in schema else "")]
    out += ["", "`?` marks a field that is not always present.", ""]
    return "\n".join(out)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
