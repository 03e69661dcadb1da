"""``/openapi.json`` describes ``POST /v1`` precisely, checked against a live server.

The document is fetched from a real ``cinefuse serve`` (API only: ``CINEFUSE_WORKERS=0``, so
accepted tasks wait in the queue instead of rendering). Schemathesis then generates, for
every task type, bodies that fit the schema (positive) and bodies that break it (negative),
sends them, and checks: no 5xx; the status is a documented one; the reply matches the
documented ``Reply`` shape; every schema-breaking body is refused (so the schema is never
looser than the parser). Positive bodies may still be refused, but only for what the schema
does not state (``BEYOND_THE_SCHEMA``: images that must exist or decode, task UUIDs used or
unknown, keys that must be known, two cross-field rules left out on purpose, see
``schemas/cross_rules.py``), and at least ``ACCEPTED_FLOOR`` of the generated videoInference
tasks are accepted: the schema is not looser than needed either.

Schemas are checked with ``jsonschema_rs`` (what schemathesis generates with): its ``pattern``
is ECMA-262's, where Python's ``jsonschema`` lets ``$`` match before a final newline.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.schema_acceptance import measure
from tests.integration.conftest import LiveServer, start_live_server

from cinefuse.api.openapi import TASK_COMPONENTS, model_component, openapi_document
from cinefuse.errors import RequestError
from cinefuse.models.registry import MODELS
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.tasks import TASK_TYPES

#: Examples per task type and mode: the whole module stays well under a minute.
EXAMPLES = 20
#: (code, parameter pattern) a schema-valid task may still get: what the schema does not state.
BEYOND_THE_SCHEMA: dict[str, set[tuple[str, str]]] = {
    "authentication": {("invalidApiKey", "apiKey")},  # a well-formed key that is not known
    "ping": set(),
    "imageUpload": {("invalidImage", "image")},  # it must decode (a URL is fetched at once)
    "videoInference": {
        ("conflictTaskUUID", "taskUUID"),  # a UUID used before
        ("invalidImage", r".*Images\[\d+\](\.image|\.inputImage)?"),  # a UUID must exist, base64 decode
        ("incompatibleParameters", "frameImages|referenceImages"),  # in inputs and at top level (cross_rules.py)
        ("incompatibleParameters", r".*frameImages\[\d+\]\.frame"),  # two images on one position (cross_rules.py)
        ("invalidWebhookURL", "webhookURL"),  # an xn-- host label that is not valid punycode
        ("invalidUploadEndpoint", "uploadEndpoint"),
    },
    "getResponse": {("taskNotFound", "taskUUID")},  # not a task of this key
    "cancelTask": {("taskNotFound", "taskUUID")},
}
#: The least share of generated (positive) videoInference tasks the server accepts, each with a
#: fresh taskUUID, over ``ACCEPTANCE_EXAMPLES`` bodies: 0.85 to 0.95 measured with seeds 1..7, where
#: the schema written apart from the parser gave 0.51 to 0.64. What is still refused: an image UUID
#: nobody uploaded, base64 that is no image, an image array given in both forms.
ACCEPTED_FLOOR = 0.75
ACCEPTANCE_EXAMPLES = 60


def beyond_the_schema(task_type: str, error: dict[str, Any]) -> bool:
    return any(
        error.get("code") == code and re.fullmatch(parameter, str(error.get("parameter", "")))
        for code, parameter in BEYOND_THE_SCHEMA[task_type]
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("openapi"), {"CINEFUSE_WORKERS": "0"})
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    reply = httpx.get(f"{server.base_url}/openapi.json", timeout=10)
    assert reply.status_code == 200
    body: dict[str, Any] = reply.json()
    return body


def body_schema(document: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"]["/v1"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return schema


def validator(document: dict[str, Any]) -> Any:
    """Validates a request body against the document's schema (with its components)."""
    return jsonschema_rs.Draft202012Validator({**body_schema(document), "components": document["components"]})


def only_task(document: dict[str, Any], task_type: str) -> dict[str, Any]:
    """The document with ``POST /v1`` only, its body items narrowed to one task type."""
    narrowed = copy.deepcopy(document)
    narrowed["paths"] = {"/v1": narrowed["paths"]["/v1"]}
    body_schema(narrowed)["items"] = {"$ref": f"#/components/schemas/{TASK_COMPONENTS[task_type]}"}
    return narrowed


def test_the_document_has_every_task_type_and_model(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1"]["post"]
    assert set(operation["responses"]) == {"200", "400", "401", "413", "429"}
    schemas = document["components"]["schemas"]
    union = schemas["Task"]
    assert union["discriminator"]["propertyName"] == "taskType"
    assert list(union["discriminator"]["mapping"]) == list(TASK_TYPES)
    by_model = schemas["VideoInferenceTask"]["discriminator"]["mapping"]
    assert set(by_model) == set(MODELS)
    for model_id, caps in MODELS.items():
        fields = schemas[model_component(model_id)]["properties"]
        assert fields["model"]["const"] == model_id
        assert fields["duration"]["enum"][:-1] == list(caps.durations)
        assert fields["resolution"]["enum"][:-1] == list(caps.resolutions)
        assert fields["positivePrompt"]["maxLength"] == caps.prompt_length[1]
        camera = fields["providerSettings"]["properties"][caps.provider]["properties"]
        assert camera["cameraMovement"]["enum"][:-1] == list(caps.camera_movements)


def test_the_served_document_is_the_one_built_from_the_code(document: dict[str, Any]) -> None:
    built = openapi_document()
    assert document["paths"]["/v1"] == built["paths"]["/v1"]
    for name, schema in built["components"]["schemas"].items():
        assert document["components"]["schemas"][name] == schema, name


def test_interactive_docs_are_served(server: LiveServer) -> None:
    reply = httpx.get(f"{server.base_url}/docs", timeout=10)
    assert reply.status_code == 200 and "/openapi.json" in reply.text


def video(**fields: Any) -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": "8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f",
        "model": "pixverse:1@3",
        "positivePrompt": "a lighthouse",
        **fields,
    }


IMAGE_UUID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
IMAGE_URL = "https://images.example.com/a.png"
PIXVERSE = "providerSettings"


@pytest.mark.parametrize(
    "task",
    [
        {"taskType": "ping"},
        {"taskType": "authentication", "apiKey": "k", "connectionSessionUUID": None},
        {"taskType": "getResponse", "taskUUID": "8C3F0B1A-2A4B-4C5D-8E6F-7A8B9C0D1E2F"},
        {"taskType": "imageUpload", "taskUUID": "8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f", "image": "iVBORw0KGgo="},
        video(
            duration=5.0,
            fps=24,
            seed=None,
            webhookURL="HTTPS://example.com/hook?token=1",
            safety={"mode": "full", "checkContent": None},
            inputs={"frameImages": [IMAGE_UUID, {"inputImage": IMAGE_URL, "frame": -1}], "referenceImages": None},
            providerSettings={"pixverse": {"cameraMovement": "zoom_in", "motionMode": "fast"}},
        ),
        video(inputs={"frameImages": [{"image": "data:image/png;base64,iVBORw0KGgo=", "frame": "last"}]}),
        video(frameImages=[{"inputImage": IMAGE_URL, "frame": 0.0}], resolution="1080p"),
        video(width=1080, height=1920, duration=5, uploadEndpoint="http://[2001:db8::1]:8080/put?sig=a%2Fb"),
        video(width=720, height=540, duration=8, webhookURL="https://xn--bcher-kva.example./hook"),
        video(positivePrompt=" a", negativePrompt="  ", providerSettings={"pixverse": {"style": "anime"}}),
        video(resolution="720p", providerSettings={"pixverse": {"effect": "kiss kiss", "cameraMovement": None}}),
    ],
)
def test_tasks_the_parser_takes_fit_the_schema(task: dict[str, Any]) -> None:
    parse_task(task)
    assert validator(openapi_document()).is_valid([task])


#: Tasks both refuse, each breaking one rule the schema states (field rules, then cross-field ones).
BOTH_REFUSE = [
    pytest.param({"taskType": "ping", "extra": None}, id="unknown-field"),
    pytest.param({"taskType": "getResponse", "taskUUID": "{8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f}"}, id="uuid-braces"),
    pytest.param({"taskType": "getResponse", "taskUUID": "8c3f0b1a-2a4b-1c5d-8e6f-7a8b9c0d1e2f"}, id="uuid-v1"),
    pytest.param({"taskType": "imageUpload", "taskUUID": IMAGE_UUID, "image": "0"}, id="image-0"),
    pytest.param(video(model="cinefuse:wan2.2-ti2v@1", inputs={"referenceImages": [IMAGE_URL]}), id="refs-none"),
    pytest.param(video(inputs={"frameImages": [{"image": IMAGE_URL, "inputImage": IMAGE_URL}]}), id="image-twice"),
    pytest.param(video(inputs={"frameImages": ["0"]}), id="frame-image-0"),  # the example
    pytest.param(video(inputs={"referenceImages": ["not base64!"]}), id="ref-not-an-image-form"),
    pytest.param(video(inputs={"frameImages": ["https://exa mple.com/a.png"]}), id="image-url-space"),
    pytest.param(video(positivePrompt="   "), id="prompt-spaces"),
    pytest.param(video(positivePrompt="\t\n\u3000\u00a0"), id="prompt-unicode-spaces"),
    pytest.param(video(webhookURL="ftp://example.com/"), id="webhook-ftp"),
    pytest.param(video(webhookURL="https://example.com/a\x01b"), id="webhook-control-char"),
    pytest.param(video(webhookURL="https://example.com/a\x7f"), id="webhook-del"),
    pytest.param(video(webhookURL="https://example.com/hook\n"), id="webhook-final-newline"),
    pytest.param(video(webhookURL="https://bücher.example/hook"), id="webhook-unicode-host"),
    pytest.param(video(webhookURL="https://user:pw@example.com/"), id="webhook-userinfo"),
    pytest.param(video(webhookURL="https://example.com:0/"), id="webhook-port-0"),
    pytest.param(video(uploadEndpoint="https://example.com:65536/"), id="upload-port-65536"),
    pytest.param(video(uploadEndpoint="https://[::1/"), id="upload-ipv6-unclosed"),
    pytest.param(video(uploadEndpoint="https://1.2.3.999/"), id="upload-bad-ipv4"),
    pytest.param(video(width=640), id="width-alone"),
    pytest.param(video(height=360, width=None), id="height-alone"),
    pytest.param(video(width=640, height=640), id="pair-not-in-table"),
    pytest.param(video(width=640, height=360, resolution="360p"), id="size-and-resolution"),
    pytest.param(video(width=640, height=360, inputs={"frameImages": [IMAGE_URL]}), id="size-and-frames"),
    pytest.param(video(width=640, height=360, frameImages=[IMAGE_URL]), id="size-and-legacy-frames"),
    pytest.param(video(resolution="1080p", duration=8), id="1080p-8s"),
    pytest.param(video(width=1080, height=1080, duration=8), id="1080p-pair-8s"),
    pytest.param(video(duration=8, providerSettings={"pixverse": {"style": "anime"}}), id="style-8s"),
    pytest.param(video(resolution="1080p", providerSettings={"pixverse": {"effect": "kiss kiss"}}), id="effect-1080p"),
    pytest.param(
        video(width=1440, height=1080, providerSettings={"pixverse": {"cameraMovement": "zoom_in"}}), id="camera-1080p"
    ),
    pytest.param(
        video(providerSettings={"pixverse": {"cameraMovement": "zoom_in", "effect": "kiss kiss"}}), id="camera-effect"
    ),
]


@pytest.mark.parametrize("task", BOTH_REFUSE)
def test_tasks_the_schema_refuses_the_parser_refuses(task: dict[str, Any]) -> None:
    assert not validator(openapi_document()).is_valid([task])
    with pytest.raises(RequestError):
        parse_task(task)


#: Schema-valid tasks the parser refuses: each is a cause ``BEYOND_THE_SCHEMA`` names.
PARSER_ONLY = [
    pytest.param(video(webhookURL="https://xn--zz.example/hook"), "invalidWebhookURL", id="invalid-a-label"),
    pytest.param(
        video(inputs={"frameImages": [IMAGE_URL]}, frameImages=[IMAGE_URL]), "incompatibleParameters", id="both-forms"
    ),
    pytest.param(
        video(inputs={"frameImages": [{"image": IMAGE_URL, "frame": "first"}, {"image": IMAGE_URL, "frame": 0}]}),
        "incompatibleParameters",
        id="one-position-twice",
    ),
]


@pytest.mark.parametrize(("task", "code"), PARSER_ONLY)
def test_what_the_schema_does_not_state_the_parser_refuses(task: dict[str, Any], code: str) -> None:
    assert validator(openapi_document()).is_valid([task])
    with pytest.raises(RequestError) as refused:
        parse_task(task)
    error = refused.value.to_wire()
    assert error["code"] == code and beyond_the_schema("videoInference", error), error


def _fuzz(server: LiveServer, document: dict[str, Any], task_type: str, mode: GenerationMode) -> None:
    operation = schemathesis.openapi.from_dict(only_task(document, task_type))["/v1"]["POST"]
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    if mode.is_negative:
        checks.append(negative_data_rejection)
    headers = {"Authorization": f"Bearer {server.api_key}"}
    refused: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same bodies in every run: a failure reproduces
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=server.base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=checks)
        if mode.is_positive and response.status_code != 200:
            errors = response.json().get("errors", [])
            unexpected = [e for e in errors if not beyond_the_schema(task_type, e)]
            assert not unexpected, f"a schema-valid {task_type} refused with {unexpected}: {response.text[:2000]}"
        refused.append(str(response.status_code))

    run()
    assert refused, "no request was sent"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_generated_tasks_get_documented_replies(
    server: LiveServer, document: dict[str, Any], task_type: str, mode: GenerationMode
) -> None:
    _fuzz(server, document, task_type, mode)


def test_most_schema_valid_video_tasks_are_accepted(server: LiveServer, document: dict[str, Any]) -> None:
    """What the schema allows the server takes, but for what no schema states (``BEYOND_THE_SCHEMA``):
    generated videoInference bodies, each task with a fresh taskUUID, are mostly accepted; no 5xx
    in either mode (``python -m tests.api.schema_acceptance`` gives the full figures)."""
    started = time.monotonic()
    positive = measure(
        server,
        document,
        "videoInference",
        GenerationMode.POSITIVE,
        examples=ACCEPTANCE_EXAMPLES,
        seed_value=1,
        fresh_uuids=True,
    )
    negative = measure(server, document, "videoInference", GenerationMode.NEGATIVE, examples=20, seed_value=1)
    assert positive.server_errors == negative.server_errors == 0
    assert positive.tasks >= ACCEPTANCE_EXAMPLES
    ratio = positive.tasks_accepted / positive.tasks
    assert ratio >= ACCEPTED_FLOOR, (ratio, positive.summary())
    assert time.monotonic() - started < 60


def test_no_server_error_left_in_the_log(server: LiveServer, tmp_path: Path) -> None:
    """Runs after the fuzzing (same module): the server logged no traceback."""
    assert "Traceback" not in server.log_tail(10_000)
