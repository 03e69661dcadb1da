"""Property tests: bad input is always a client error, never a crash (docs/api.md section 1: "5xx never
for bad input").

(a) ``parse_task`` on arbitrary JSON-like values, and on valid videoInference tasks with fields
    mutated, added, dropped or given random types, returns a task or raises ``RequestError``
    with a well-formed code; anything it accepts satisfies docs/api.md 3.2's invariants.
(b) The real app, in-process over HTTP: random bytes, random JSON and arrays of mutated tasks
    sent to ``POST /v1`` never get a 5xx, and the reply is a well-formed ``data``/``errors``
    envelope whose task-level errors carry the task's ``taskType``/``taskUUID``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cinefuse.errors import RequestError
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.task_rules import HTTP_URL, IMAGE
from cinefuse.schemas.tasks import SEED_MAX, VideoInferenceTask

CODE_RE = re.compile(r"^[a-z][A-Za-z]+$")
MODEL = "pixverse:1@3"
API_KEY = "testkey"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
RESOLUTIONS = ["360p", "540p", "720p", "1080p"]
SIZES = {
    (640, 360),
    (480, 360),
    (360, 360),
    (360, 480),
    (360, 640),
    (960, 540),
    (720, 540),
    (540, 540),
    (540, 720),
    (540, 960),
    (1280, 720),
    (960, 720),
    (720, 720),
    (720, 960),
    (720, 1280),
    (1920, 1080),
    (1440, 1080),
    (1080, 1080),
    (1080, 1440),
    (1080, 1920),
}
CAMERA = ["zoom_in", "whip_pan", "fix_bg", "hitchcock", "spin"]
EFFECTS = ["kiss kiss", "boom drop", "360 microwave", "moonwalk"]
STYLES = ["anime", "3d_animation", "clay", "watercolor"]
IMAGES = [
    "3f2504e0-4f89-41d3-9a0c-0305e82c3301",  # an image UUID nobody uploaded
    "https://images.example.com/a.png",
    "data:image/png;base64,iVBORw0KGgo=",
    "aGVsbG8=",
    "",
    "not base64 at all!",
    "data:text/plain;base64,aGk=",
    "http://127.0.0.1:9/x.png",
]
#: Image values safe to send in an ``imageUpload`` (which fetches URLs at once): no public hosts.
UPLOAD_IMAGES = [v for v in IMAGES if "example.com" not in v]


# ---------------------------------------------------------------------------- strategies


def json_values(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=12,
    )


#: Anything ``json.loads`` could give, and more (NaN, infinities, huge ints): parse_task must cope.
PY_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
#: What survives a JSON round trip through orjson.
WIRE_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


FieldPath = tuple[str | int, ...]

#: Where mutations land: every field docs/api.md 3.2 names, at its nesting.
MUTATION_PATHS: list[FieldPath] = [
    ("taskType",),
    ("taskUUID",),
    ("model",),
    ("positivePrompt",),
    ("negativePrompt",),
    ("width",),
    ("height",),
    ("resolution",),
    ("duration",),
    ("fps",),
    ("seed",),
    ("numberResults",),
    ("outputType",),
    ("outputFormat",),
    ("outputQuality",),
    ("deliveryMethod",),
    ("webhookURL",),
    ("uploadEndpoint",),
    ("ttl",),
    ("includeCost",),
    ("safety",),
    ("safety", "checkContent"),
    ("safety", "mode"),
    ("safety", "checkInputs"),
    ("safety", "tolerance"),
    ("inputs",),
    ("inputs", "frameImages"),
    ("inputs", "frameImages", 0),
    ("inputs", "frameImages", 1),
    ("inputs", "frameImages", 0, "image"),
    ("inputs", "frameImages", 0, "inputImage"),
    ("inputs", "frameImages", 0, "frame"),
    ("inputs", "frameImages", 1, "frame"),
    ("inputs", "referenceImages"),
    ("inputs", "referenceImages", 0),
    ("inputs", "referenceImages", 0, "image"),
    ("frameImages",),
    ("frameImages", 0),
    ("frameImages", 0, "inputImage"),
    ("frameImages", 0, "frame"),
    ("referenceImages",),
    ("providerSettings",),
    ("providerSettings", "pixverse"),
    ("providerSettings", "pixverse", "cameraMovement"),
    ("providerSettings", "pixverse", "effect"),
    ("providerSettings", "pixverse", "style"),
    ("providerSettings", "pixverse", "motionMode"),
]

#: Meaningful values per leaf name (valid ones and ones just off), beside values of random type.
LEAF_VALUES: dict[str | int, list[Any]] = {
    "taskType": ["videoInference", "getResponse", "imageUpload", "nope", ""],
    "taskUUID": [str(uuid.uuid1()), "not-a-uuid", "", str(uuid.uuid4()).upper()],
    "model": [MODEL, "pixverse:1@2", ""],
    "positivePrompt": ["a", "ab", "x" * 2049, "x" * 2048, "   ", "\u3000\t"],
    "negativePrompt": ["b", "ab", "n" * 2049],
    "width": [*sorted({w for w, _ in SIZES}), 0, -1, 1000, 1280.0, 1280.5, 10_001],
    "height": [*sorted({h for _, h in SIZES}), 0, 1000, 720.0],
    "resolution": [*RESOLUTIONS, "4k", "720P"],
    "duration": [5, 8, 5.0, 8.0, 6, 5.5, "5"],
    "fps": [16, 24, 30, 24.0, 16.5],
    "seed": [0, SEED_MAX, -1, SEED_MAX + 1, 1.5, 2**64],
    "numberResults": [1, 2, 4, 0, 5],
    "outputType": ["URL", "base64Data"],
    "outputFormat": ["MP4", "WEBM", "MOV", "GIF", "mp4"],
    "outputQuality": [20, 95, 99, 19, 100],
    "deliveryMethod": ["async", "sync"],
    "webhookURL": [
        "https://hooks.example.com/x?t=1",
        "ftp://x",
        "http://[",
        "http://",
        "http://a b",
        "https://a.example/\x01",
        "https://xn--zz.example/",
        "https://b\u00fccher.example/",
    ],
    "uploadEndpoint": ["https://bucket.example.com/k", "s3://b/k", "http://[::1", "https://u:p@b.example/"],
    "ttl": [60, 59, 86_400, 10**12],
    "includeCost": [True, False, "yes"],
    "checkContent": [True, False, "yes"],
    "mode": ["none", "fast", "full", "strict"],
    "checkInputs": [True, False, 1],
    "tolerance": [True, False],
    "frameImages": [[], [IMAGES[0]] * 3],
    "referenceImages": [[], [IMAGES[0]] * 4],
    "image": [*IMAGES, {"image": IMAGES[0]}],
    "inputImage": [*IMAGES, {"inputImage": IMAGES[0]}],
    "frame": ["first", "last", 0, -1, 1, "middle", True, 0.0, -1.0, [0], {"f": 0}],
    "cameraMovement": CAMERA,
    "effect": EFFECTS,
    "style": STYLES,
    "motionMode": ["normal", "fast", "slow"],
    0: [*IMAGES, {"image": IMAGES[1], "frame": "last"}, {"frame": "first"}],
    1: [*IMAGES, {"inputImage": IMAGES[1], "frame": "first"}],
}


def set_path(root: dict[str, Any], path: FieldPath, value: Any, *, delete: bool = False) -> None:
    """Set (or delete) ``root[path]``, creating or replacing containers on the way as needed."""
    node: Any = root
    for i, key in enumerate(path[:-1]):
        want_list = isinstance(path[i + 1], int)
        child = node[key] if isinstance(node, list) else node.get(key)
        if not isinstance(child, list if want_list else dict):
            child = [] if want_list else {}
            node[key] = child
        if want_list:
            index = path[i + 1]
            assert isinstance(index, int)
            while len(child) <= index:
                child.append({})
        node = child
    leaf = path[-1]
    if isinstance(node, list):
        assert isinstance(leaf, int)
        if delete:
            del node[leaf]
        else:
            node[leaf] = value
    elif delete:
        node.pop(leaf, None)
    else:
        node[leaf] = value


def task_strategies(scalars: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    """Strategies for every kind of task, built over ``scalars``: valid tasks, then mutated."""
    anything = json_values(scalars)
    #: a value of random JSON type, containers included often
    random_type = (
        scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=8), scalars, max_size=3) | anything
    )

    def field(*values: Any) -> st.SearchStrategy[Any]:
        return st.sampled_from(values) | random_type

    def with_extras(objects: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        extras = st.dictionaries(st.text(max_size=8), anything, min_size=1, max_size=2)
        return objects | st.builds(lambda o, e: {**e, **o}, objects, extras)

    uuid4s = st.uuids(version=4).map(str)
    task_uuid = uuid4s | uuid4s.map(str.upper) | field(str(uuid.uuid1()), "not-a-uuid", "")

    # ---- valid videoInference tasks, with random valid options
    valid_image = st.sampled_from(IMAGES[:4])
    image_item = valid_image | valid_image.map(lambda i: {"image": i}) | valid_image.map(lambda i: {"inputImage": i})

    @st.composite
    def valid_frames(draw: st.DrawFn) -> list[Any]:
        items = draw(st.lists(image_item, min_size=1, max_size=2))
        if draw(st.booleans()):  # explicit, distinct positions
            spots = draw(st.permutations([("first", 0), ("last", -1)]))
            placed = []
            for item, spot in zip(items, spots, strict=False):
                obj = {"image": item} if isinstance(item, str) else dict(item)
                obj["frame"] = draw(st.sampled_from(spot))
                placed.append(obj)
            items = placed
        return items

    pixverse = st.fixed_dictionaries(
        {},
        optional={
            "cameraMovement": st.sampled_from(CAMERA[:-1]),
            "style": st.sampled_from(STYLES[:-1]),
            "motionMode": st.sampled_from(["normal", "fast"]),
        },
    ) | st.builds(lambda e: {"effect": e}, st.sampled_from(EFFECTS[:-1]))
    valid_optional = {
        "negativePrompt": st.just("blurry, watermark"),
        "resolution": st.sampled_from(RESOLUTIONS),
        "duration": st.sampled_from([5, 8, 5.0]),
        "fps": st.sampled_from([16, 24]),
        "seed": st.integers(0, SEED_MAX),
        "numberResults": st.integers(1, 4),
        "outputType": st.just("URL"),
        "outputFormat": st.sampled_from(["MP4", "WEBM", "MOV"]),
        "outputQuality": st.integers(20, 99),
        "deliveryMethod": st.just("async"),
        "webhookURL": st.just("https://hooks.example.com/cb?token=1"),
        "uploadEndpoint": st.just("https://bucket.example.com/key?sig=2"),
        "ttl": st.integers(60, 10**7),
        "includeCost": st.booleans(),
        "safety": st.fixed_dictionaries(
            {},
            optional={
                "checkContent": st.booleans(),
                "mode": st.sampled_from(["none", "fast", "full"]),
                "checkInputs": st.booleans(),
                "tolerance": st.booleans(),
            },
        ),
        "inputs": st.fixed_dictionaries(
            {},
            optional={"frameImages": valid_frames(), "referenceImages": st.lists(image_item, min_size=1, max_size=3)},
        ),
        "providerSettings": st.builds(lambda p: {"pixverse": p}, pixverse),
    }

    @st.composite
    def video(draw: st.DrawFn) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "taskType": "videoInference",
            "taskUUID": draw(uuid4s),
            "model": MODEL,
            "positivePrompt": "a paper boat on a rainy street",
        }
        raw.update(draw(st.fixed_dictionaries({}, optional=valid_optional)))
        if draw(st.integers(0, 3)) == 0:  # an explicit size instead of resolution / frame images
            raw.pop("resolution", None)
            raw.get("inputs", {}).pop("frameImages", None)
            raw["width"], raw["height"] = draw(st.sampled_from(sorted(SIZES)))
        if draw(st.integers(0, 4)) == 0:  # the legacy top-level forms
            inputs = raw.pop("inputs", {})
            raw.update(inputs)
        for _ in range(draw(st.integers(0, 3))):
            path = draw(st.sampled_from(MUTATION_PATHS))
            action = draw(st.sampled_from(["set", "set", "delete", "extra"]))
            if action == "delete":
                set_path(raw, path, None, delete=True)
            elif action == "extra":
                set_path(raw, (*path[:-1], draw(st.text(min_size=1, max_size=10))), draw(anything))
            else:
                set_path(raw, path, draw(field(*LEAF_VALUES.get(path[-1], [None]))))
        return raw

    lookups = st.builds(
        lambda t, u: {"taskType": t, "taskUUID": u}, st.sampled_from(["getResponse", "cancelTask"]), task_uuid
    )
    uploads = st.builds(
        lambda u, i: {"taskType": "imageUpload", "taskUUID": u, "image": i}, task_uuid, field(*UPLOAD_IMAGES)
    )
    pings = st.fixed_dictionaries({"taskType": st.just("ping")}, optional={"ping": field(True, False)})
    auths = st.fixed_dictionaries(
        {"taskType": st.just("authentication")},
        optional={"apiKey": field(API_KEY, "wrong"), "connectionSessionUUID": field(str(uuid.uuid4()))},
    )
    shapeless = st.fixed_dictionaries({}, optional={"taskType": field(*LEAF_VALUES["taskType"]), "taskUUID": task_uuid})
    others = st.one_of(*(with_extras(s) for s in (lookups, uploads, pings, auths, shapeless)))
    return {"video": video(), "other": others, "anything": anything}


PY = task_strategies(PY_SCALARS)
WIRE = task_strategies(WIRE_SCALARS)


# ---------------------------------------------------------------------------- (a) parse_task


def check_outcome(raw: Any) -> None:
    """``parse_task(raw)`` returns a task or raises a well-formed ``RequestError``; nothing else."""
    try:
        task = parse_task(raw)
    except RequestError as error:
        assert isinstance(error.code, str) and CODE_RE.match(error.code), error.code
        assert isinstance(error.message, str) and error.message
        assert error.parameter is None or isinstance(error.parameter, str)
        wire = error.to_wire("videoInference", "x")
        orjson.dumps(wire)  # serialisable as it stands
        return
    if isinstance(task, VideoInferenceTask):
        check_video_invariants(task)


def check_video_invariants(task: VideoInferenceTask) -> None:
    """What docs/api.md 3.2 guarantees about any accepted videoInference task."""
    assert task.model == MODEL
    assert isinstance(task.positive_prompt, str) and 2 <= len(task.positive_prompt) <= 2048
    assert task.positive_prompt.strip(), "a prompt of white space only"
    assert task.negative_prompt is None or 2 <= len(task.negative_prompt) <= 2048
    uuid_value = uuid.UUID(task.task_uuid)
    assert uuid_value.version == 4 and str(uuid_value) == task.task_uuid.lower()
    assert task.resolution in RESOLUTIONS
    if task.frame_images:
        assert (task.width, task.height) == (None, None)
        assert 1 <= len(task.frame_images) <= 2
        assert len({fi.position for fi in task.frame_images}) == len(task.frame_images)
        assert all(isinstance(fi.image.value, str) and fi.image.value for fi in task.frame_images)
    else:
        assert (task.width, task.height) in SIZES
    assert len(task.reference_images) <= 3
    assert all(isinstance(r.value, str) and r.value for r in task.reference_images)
    assert task.duration in (5, 8) and task.fps in (16, 24)
    assert task.resolution != "1080p" or task.duration == 5
    assert isinstance(task.seed, int) and not isinstance(task.seed, bool) and 0 <= task.seed <= SEED_MAX
    assert 1 <= task.number_results <= 4
    assert all(0 <= task.result_seed(i) <= SEED_MAX for i in range(task.number_results))
    assert task.output_type == "URL" and task.output_format in ("MP4", "WEBM", "MOV")
    assert 20 <= task.output_quality <= 99 and task.delivery_method == "async"
    for url in (task.webhook_url, task.upload_endpoint):
        assert url is None or (url.lower().startswith(("http://", "https://")) and HTTP_URL.problem(url) is None)
    for image in [fi.image for fi in task.frame_images] + list(task.reference_images):
        assert IMAGE.problem(image.value) is None, image
    assert task.ttl is None or task.ttl >= 60
    assert isinstance(task.include_cost, bool) and task.safety_mode in ("none", "fast", "full")
    assert not (task.camera_movement and task.effect)
    if task.camera_movement or task.effect or task.style:
        assert task.duration == 5 and task.resolution in ("360p", "540p", "720p")
    assert task.motion_mode in ("normal", "fast")


PARSE_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PARSE_SETTINGS
@given(PY["anything"])
def test_parse_task_arbitrary_values(raw: Any) -> None:
    check_outcome(raw)


@settings(PARSE_SETTINGS, max_examples=600)
@given(PY["video"])
def test_parse_task_mutated_video_inference(raw: dict[str, Any]) -> None:
    check_outcome(raw)


@PARSE_SETTINGS
@given(PY["other"])
def test_parse_task_mutated_other_tasks(raw: dict[str, Any]) -> None:
    check_outcome(raw)


# ---------------------------------------------------------------------------- (b) HTTP, in process


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from cinefuse.app import create_app
    from cinefuse.settings import Settings

    data_dir: Path = tmp_path_factory.mktemp("cinefuse-fuzz")
    app = create_app(Settings(data_dir=data_dir, api_keys=API_KEY, workers=0))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def post(client: TestClient, body: bytes, headers: dict[str, str] | None = None) -> Any:
    reply = client.post("/v1", content=body, headers={"Content-Type": "application/json", **(headers or AUTH)})
    assert reply.status_code < 500, reply.text
    assert reply.status_code in (200, 400, 401, 413, 429), reply.status_code
    assert reply.headers["content-type"].startswith("application/json")
    envelope = reply.json()
    assert isinstance(envelope, dict) and envelope, envelope
    assert set(envelope) <= {"data", "errors"}
    for item in envelope.get("data", []):
        assert isinstance(item, dict) and isinstance(item.get("taskType"), str), item
    for error in envelope.get("errors", []):
        assert isinstance(error, dict), error
        assert isinstance(error.get("code"), str) and CODE_RE.match(error["code"]), error
        assert isinstance(error.get("message"), str) and error["message"], error
        assert "error" not in envelope  # never the bare {"error": true} the runware SDK hangs on
    if reply.status_code == 200:
        # only result errors of getResponse (a failed or cancelled job) come with HTTP 200
        assert all(e.get("status") == "error" for e in envelope.get("errors", [])), envelope
    else:
        assert envelope.get("errors"), envelope
    return envelope


def check_task_labels(tasks: list[Any], envelope: dict[str, Any]) -> None:
    """Task-level errors carry the taskType/taskUUID of the task they answer, when it had them as strings."""
    errors = envelope.get("errors", [])
    types = {t["taskType"] for t in tasks if isinstance(t, dict) and isinstance(t.get("taskType"), str)}
    # case-insensitive here; exact echo of an upper-case taskUUID is pinned by test_http_task_uuid_echoed_as_sent
    uuids = {t["taskUUID"].lower() for t in tasks if isinstance(t, dict) and isinstance(t.get("taskUUID"), str)}
    unlabelled_types = sum(1 for t in tasks if not (isinstance(t, dict) and isinstance(t.get("taskType"), str)))
    unlabelled_uuids = sum(1 for t in tasks if not (isinstance(t, dict) and isinstance(t.get("taskUUID"), str)))
    for error in errors:
        if "taskType" in error:
            assert error["taskType"] in types | {"videoInference"}, error
        if "taskUUID" in error:
            assert error["taskUUID"].lower() in uuids, error
    assert sum(1 for e in errors if "taskType" not in e) <= unlabelled_types, (tasks, errors)
    assert sum(1 for e in errors if "taskUUID" not in e) <= unlabelled_uuids, (tasks, errors)
    # every task is answered
    assert len(envelope.get("data", [])) + len(errors) >= len(tasks)


HTTP_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def wire_bytes(value: Any) -> bytes:
    """``value`` as a client would send it: orjson's bytes, or the standard library's where a
    leaf is an integer past 64 bits (``seed`` 2**64), which orjson will not write."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


@HTTP_SETTINGS
@given(body=st.binary(max_size=64))
def test_http_random_bytes(client: TestClient, body: bytes) -> None:
    post(client, body)


@HTTP_SETTINGS
@given(value=WIRE["anything"])
def test_http_random_json(client: TestClient, value: Any) -> None:
    envelope = post(client, wire_bytes(value))
    if isinstance(value, list) and value:
        check_task_labels(value, envelope)


@HTTP_SETTINGS
@given(
    tasks=st.lists(WIRE["video"] | WIRE["other"] | WIRE["anything"], min_size=1, max_size=4),
    auth=st.sampled_from(["bearer", "bearer", "bearer", "none", "task"]),
)
def test_http_arrays_of_mutated_tasks(client: TestClient, tasks: list[Any], auth: str) -> None:
    headers: dict[str, str] = AUTH if auth == "bearer" else {}
    if auth == "task":
        tasks = [{"taskType": "authentication", "apiKey": API_KEY}, *tasks]
    envelope = post(client, wire_bytes(tasks), headers)
    check_task_labels(tasks, envelope)


def test_http_wrong_bearer_key_is_401(client: TestClient) -> None:
    envelope = post(client, b'[{"taskType":"ping","ping":true}]', {"Authorization": "Bearer nope"})
    assert envelope["errors"][0]["code"] == "invalidApiKey"


# ---------------------------------------------------------------------------- regressions found by fuzzing


def _video(**fields: Any) -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": MODEL,
        "positivePrompt": "a paper boat",
        **fields,
    }


@pytest.mark.parametrize(
    "task",
    [
        pytest.param(
            {"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()), "image": "http://["}, id="upload-url-bad-ipv6"
        ),
        pytest.param(_video(inputs={"frameImages": ["http://[x"]}), id="frame-url-bad-ipv6"),
        pytest.param(_video(inputs={"referenceImages": ["https://[::1"]}), id="reference-url-bad-ipv6"),
        pytest.param(_video(inputs={"frameImages": [{"image": "aGVsbG8=", "frame": [0]}]}), id="frame-list"),
    ],
)
def test_http_regressions_are_client_errors(client: TestClient, task: dict[str, Any]) -> None:
    envelope = post(client, orjson.dumps([task]))
    [error] = envelope["errors"]
    assert error["taskUUID"] == task["taskUUID"] and error["taskType"] == task["taskType"]


def test_http_an_integer_past_64_bits_is_refused_naming_its_parameter_and_task(client: TestClient) -> None:
    task = _video(seed=2**64)
    envelope = post(client, wire_bytes([task]))
    [error] = envelope["errors"]
    assert (error["code"], error["parameter"], error["taskUUID"]) == ("invalidSeed", "seed", task["taskUUID"]), error


def test_http_deeply_nested_image_object_is_a_client_error(client: TestClient) -> None:
    depth = 1000  # orjson parses up to 1024 levels
    nested = '{"image":' * depth + '"aGVsbG8="' + "}" * depth
    task_uuid = str(uuid.uuid4())
    body = (
        f'[{{"taskType":"videoInference","taskUUID":"{task_uuid}","model":"{MODEL}",'
        f'"positivePrompt":"a paper boat","inputs":{{"frameImages":[{nested}]}}}}]'
    )
    envelope = post(client, body.encode())
    assert envelope["errors"][0]["taskUUID"] == task_uuid


def test_http_task_uuid_echoed_as_sent(client: TestClient) -> None:
    """docs/api.md 1: every item carries the taskUUID of the task it answers; the SDKs route replies by
    comparing that string, so an upper-case UUID must come back upper-case."""
    task_uuid = str(uuid.uuid4()).upper()
    ack = post(client, orjson.dumps([{**_video(), "taskUUID": task_uuid}]))
    assert ack["data"] == [{"taskType": "videoInference", "taskUUID": task_uuid}]
    polled = post(client, orjson.dumps([{"taskType": "getResponse", "taskUUID": task_uuid}]))
    assert [item["taskUUID"] for item in polled["data"]] == [task_uuid]
