"""``/openapi.json`` describes ``POST /v1`` precisely, checked against a live server.

The document is fetched from a real ``cinefuse serve`` (API only: ``CINEFUSE_WORKERS=0``, so
accepted tasks wait in the queue instead of rendering). Schemathesis then generates, for
every task type, bodies that fit the schema (positive) and bodies that break it (negative),
sends them, and checks: no 5xx; the status is a documented one; the reply matches the
documented ``Reply`` shape; every schema-breaking body is refused (so the schema is never
looser than the parser). Positive bodies may still be refused, but only for rules no JSON
Schema states (cross-field limits, images that must decode, unknown task UUIDs): that keeps
the schema from being stricter than needed in the other direction.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
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
from tests.integration.conftest import LiveServer, start_live_server

from cinefuse.api.openapi import TASK_COMPONENTS, model_component, openapi_document
from cinefuse.errors import RequestError
from cinefuse.models.registry import MODELS
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.tasks import TASK_TYPES

#: Examples per task type and mode: the whole module stays well under a minute.
EXAMPLES = 20
#: Codes a schema-valid task may still get: rules JSON Schema cannot state.
BEYOND_THE_SCHEMA: dict[str, set[str]] = {
    "authentication": {"invalidApiKey"},  # a well-formed key that is not known
    "ping": set(),
    "imageUpload": {"invalidImage"},  # the string must decode to an image of the right size
    "videoInference": {
        "conflictTaskUUID",  # a UUID used before
        "incompatibleParameters",  # width without height, camera with effect, two images on one frame...
        "unsupportedDimensions",  # width and height must be a pair of the size table
        "unsupportedDuration",  # per resolution, and with camera/effect/style
        "unsupportedResolution",  # with camera/effect/style
        "invalidImage",  # inline images must decode, UUIDs must exist
        "invalidWebhookURL",  # the host must be IDNA-encodable and the port valid
        "invalidUploadEndpoint",
    },
    "getResponse": {"taskNotFound"},
    "cancelTask": {"taskNotFound"},
}


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


def validator(document: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """Validates a request body against the document's schema (with its components)."""
    return jsonschema.Draft202012Validator({**body_schema(document), "components": document["components"]})


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


@pytest.mark.parametrize(
    "task",
    [
        {"taskType": "ping"},
        {"taskType": "authentication", "apiKey": "k", "connectionSessionUUID": None},
        {"taskType": "getResponse", "taskUUID": "8C3F0B1A-2A4B-4C5D-8E6F-7A8B9C0D1E2F"},
        {
            "taskType": "videoInference",
            "taskUUID": "8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f",
            "model": "pixverse:1@3",
            "positivePrompt": "a lighthouse",
            "duration": 5.0,
            "fps": 24,
            "seed": None,
            "webhookURL": "HTTPS://example.com/hook?token=1",
            "safety": {"mode": "full", "checkContent": None},
            "inputs": {"frameImages": ["abc", {"inputImage": "def", "frame": -1}], "referenceImages": None},
            "providerSettings": {"pixverse": {"cameraMovement": "zoom_in", "motionMode": "fast"}},
        },
    ],
)
def test_tasks_the_parser_takes_fit_the_schema(task: dict[str, Any]) -> None:
    parse_task(task)
    assert list(validator(openapi_document()).iter_errors([task])) == []


@pytest.mark.parametrize(
    "task",
    [
        {"taskType": "ping", "extra": None},
        {"taskType": "getResponse", "taskUUID": "{8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f}"},
        {"taskType": "getResponse", "taskUUID": "8c3f0b1a-2a4b-1c5d-8e6f-7a8b9c0d1e2f"},  # v1
        {
            "taskType": "videoInference",
            "taskUUID": "8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f",
            "model": "cinefuse:wan2.2-ti2v@1",
            "positivePrompt": "a lighthouse",
            "inputs": {"referenceImages": ["abc"]},
        },
        {
            "taskType": "videoInference",
            "taskUUID": "8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f",
            "model": "pixverse:1@3",
            "positivePrompt": "a lighthouse",
            "inputs": {"frameImages": [{"image": "abc", "inputImage": "def"}]},
        },
        {
            "taskType": "videoInference",
            "taskUUID": "8c3f0b1a-2a4b-4c5d-8e6f-7a8b9c0d1e2f",
            "model": "pixverse:1@3",
            "positivePrompt": "a lighthouse",
            "webhookURL": "ftp://example.com/",
        },
    ],
)
def test_tasks_the_schema_refuses_the_parser_refuses(task: dict[str, Any]) -> None:
    assert not validator(openapi_document()).is_valid([task])
    with pytest.raises(RequestError):
        parse_task(task)


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
            codes = {error["code"] for error in response.json().get("errors", [])}
            unexpected = codes - BEYOND_THE_SCHEMA[task_type]
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


def test_no_server_error_left_in_the_log(server: LiveServer, tmp_path: Path) -> None:
    """Runs after the fuzzing (same module): the server logged no traceback."""
    assert "Traceback" not in server.log_tail(10_000)
