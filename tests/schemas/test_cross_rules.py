"""The cross-field rules the OpenAPI schema states (``schemas/cross_rules.py``) are the parser's.

For every model, and for made-up capabilities that take the other branches of the statements
(a narrower tier that is the default and has no side of its own), a grid of tasks crossing
every size form (none, each tier, each pair of the size table, pairs outside it, half a
pair, a pair with a tier), every duration, the provider settings (style, camera, effect,
camera with effect) and frame images (none, one) goes through both: the schema of the
model (``jsonschema_rs``) and ``parse_task`` accept exactly the same tasks.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import jsonschema_rs
import pytest

from cinefuse.api.openapi import model_component, request_components
from cinefuse.errors import RequestError
from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.pixverse import PIXVERSE_V45
from cinefuse.models.registry import MODELS
from cinefuse.schemas import parser
from cinefuse.schemas.parser import parse_task

#: Made-up: 720p (the default tier, whose sides 720 and 960 are also 540p's) allows 5 s only,
#: and so do camera, effect and style, up to 540p: the pair-by-pair and default-tier branches.
NARROW = replace(
    PIXVERSE_V45,
    model_id="test:narrow@1",
    durations_by_resolution={"720p": (5,), "1080p": (5,)},
    provider_setting_max_resolution="540p",
)
IMAGE = "https://images.example.com/a.png"


def sizes(caps: ModelCapabilities) -> list[dict[str, Any]]:
    table = sorted(caps.all_sizes())
    forms: list[dict[str, Any]] = [{}]
    forms += [{"resolution": tier} for tier in caps.resolutions]
    forms += [{"width": w, "height": h} for w, h in table]
    forms += [{"width": 640, "height": 640}, {"width": 1280, "height": 540}, {"width": table[0][0]}]
    forms += [{"height": table[0][1]}, {"width": table[0][0], "height": table[0][1], "resolution": caps.resolutions[0]}]
    return forms


def grid(caps: ModelCapabilities) -> list[dict[str, Any]]:
    providers: list[dict[str, Any] | None] = [
        None,
        {"style": caps.styles[0]},
        {"cameraMovement": caps.camera_movements[0]},
        {"effect": caps.effects[0]},
        {"cameraMovement": caps.camera_movements[0], "effect": caps.effects[0]},
        {"motionMode": "fast"},
    ]
    durations: list[float | None] = [None, *caps.durations]
    frames: list[list[str] | None] = [None, [IMAGE]] if caps.max_frame_images else [None]
    tasks = []
    for size, duration, provider, frame in itertools.product(sizes(caps), durations, providers, frames):
        task: dict[str, Any] = {
            "taskType": "videoInference",
            "taskUUID": "8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f",
            "model": caps.model_id,
            "positivePrompt": "a lighthouse",
            **size,
        }
        if duration is not None:
            task["duration"] = duration
        if provider is not None:
            task["providerSettings"] = {caps.provider: provider}
        if frame is not None:
            task["inputs"] = {"frameImages": frame}
        tasks.append(task)
    return tasks


@pytest.mark.parametrize("caps", [*MODELS.values(), NARROW], ids=lambda caps: caps.model_id)
def test_the_schema_and_the_parser_accept_the_same_tasks(
    caps: ModelCapabilities, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = {**MODELS, caps.model_id: caps}
    monkeypatch.setattr(parser, "get_model", models.get)
    components = request_components(models)
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{model_component(caps.model_id)}", "components": {"schemas": components}}
    )
    tasks = grid(caps)
    for task in tasks:
        try:
            parse_task(task)
            accepted = True
        except RequestError:
            accepted = False
        assert validator.is_valid(task) == accepted, (task, "the parser takes it" if accepted else "it refuses it")
    assert len(tasks) > 500


def test_generators_can_still_build_the_union_with_room_for_more_models() -> None:
    """Why some rules are left out (``schemas/cross_rules.py``): ``jsonschema_rs`` (schemathesis)
    gives up on a union it cannot canonicalize within its budget. Today's models plus three more
    of ``pixverse:1@3``'s size still fit."""
    from jsonschema_rs import canonical
    from schemathesis.core.jsonschema import FANCY_REGEX_OPTIONS

    models = dict(MODELS)
    for i in range(3):
        models[f"test:more@{i}"] = replace(PIXVERSE_V45, model_id=f"test:more@{i}")
    root = {"$ref": "#/components/schemas/Task", "components": {"schemas": request_components(models)}}
    form = jsonschema_rs.canonicalize(root, draft=20, pattern_options=FANCY_REGEX_OPTIONS, validate_formats=True)
    assert form.kind is not canonical.CanonicalKind.RAW, form.view()
