"""What an untrusted body or message may cost (``api/envelope.py``, ``api/rest.py``, ``api/ws.py``),
in-process: the byte-level look at the first task, the bound on JSON values, and the rules built
on them (docs/api.md, "Transport"):

* a REST body over ``max_unauthenticated_bytes`` without an Authorization header is looked at
  no further than its first task, which must authenticate with a good key; the rest of the
  body is never read;
* a WebSocket message over that size before authenticating closes the socket with 1009;
* a body that could build more than ``max_json_values`` values is refused unparsed (413).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from cinefuse.api.envelope import leading_task, parse_tasks, release, values_bound
from cinefuse.app import create_app
from cinefuse.errors import InvalidJson, PayloadTooLarge
from cinefuse.settings import Settings

KEY = "limits-key"
LIMIT = 1024
AUTH_TASK = {"taskType": "authentication", "apiKey": KEY}
PING = {"taskType": "ping", "ping": True}


def lookup() -> dict[str, Any]:
    return {"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}


def settings(tmp_path: Path, **fields: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "api_keys": KEY,
        "workers": 0,
        "deliverer": False,
        "max_unauthenticated_bytes": LIMIT,
        "max_json_values": 5_000,
    }
    return Settings(**(values | fields))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path))) as test_client:  # type: ignore[arg-type]
        yield test_client


# --- the byte-level helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (b'[{"taskType":"authentication","apiKey":"k"}]', {"taskType": "authentication", "apiKey": "k"}),
        (b' \n[ \t{"apiKey":"a]},{[\\"x"} , [[]]', {"apiKey": 'a]},{["x'}),  # brackets and quotes in a string
        (
            b'[{"taskType":"authentication","apiKey":"k"}, ' + b"[]," * 1000,
            {"taskType": "authentication", "apiKey": "k"},
        ),
        (b'[{"taskType":"authentication","apiKey":"cut', None),  # the object ends past the prefix
        (b'[{"taskType":"authentication","nested":{"a":1}}]', None),  # not flat: not an authentication task
        (b'[[{"taskType":"authentication"}]]', None),
        (b'{"taskType":"authentication"}', None),  # not an array
        (b'[{"taskType":"authentication",}]', None),  # not JSON
        (b"", None),
    ],
)
def test_leading_task_reads_only_a_flat_first_object(prefix: bytes, expected: dict[str, Any] | None) -> None:
    assert leading_task(prefix) == expected


def test_leading_task_takes_linear_time_on_hostile_prefixes() -> None:
    hostile = [
        b'[{"a' + b'\\"' * 32_000,  # an escaped quote after another, never closed
        b"[{" + b" " * 64_000,
        b'[{"a":"' + b"x" * 64_000,
        b'[{"' + b'a":"b","' * 8_000,
    ]
    for prefix in hostile:
        started = time.perf_counter()
        assert leading_task(prefix) is None
        assert time.perf_counter() - started < 0.05, prefix[:20]


@pytest.mark.parametrize(
    "value",
    [
        [],
        [[]] * 10,
        [{"a": 1, "b": [1, 2, {"c": None}]}, "x,y:z[{", 3.5, True],
        {"k": {"k": {"k": []}}},
        [AUTH_TASK, PING, lookup()],
    ],
)
def test_values_bound_never_counts_fewer_values_than_a_parse_builds(value: Any) -> None:
    def built(item: Any) -> int:
        if isinstance(item, list):
            return 1 + sum(built(i) for i in item)
        if isinstance(item, dict):
            return 1 + sum(1 + built(v) for v in item.values())  # a key is a value too
        return 1

    data = orjson.dumps(value)
    assert values_bound(data) >= built(value)
    assert values_bound(data.decode()) == values_bound(data)


def test_parse_tasks_refuses_a_body_over_the_value_bound_unparsed() -> None:
    body = b"[" + b"[]," * 10_000 + b"[]]"
    with pytest.raises(PayloadTooLarge):
        asyncio.run(parse_tasks(body, max_values=10_000))
    assert asyncio.run(parse_tasks(body, max_values=20_003)) == [[]] * 10_001
    with pytest.raises(InvalidJson):
        asyncio.run(parse_tasks(b"[1,", max_values=10))
    large = b"[" + b"1," * 200_000 + b"1]"  # above the inline size: parsed on a worker thread
    parsed = asyncio.run(parse_tasks(large, max_values=500_000))
    assert len(parsed) == 200_001
    asyncio.run(release(parsed))
    assert parsed == []


# --- REST ------------------------------------------------------------------------------------------------


def padded(*tasks: dict[str, Any], size: int = 4 * LIMIT) -> bytes:
    """The tasks, then getResponse lookups until the body is over ``size`` bytes."""
    items = list(tasks)
    while len(orjson.dumps(items)) <= size:
        items.append(lookup())
    return orjson.dumps(items)


def test_a_small_body_without_a_key_is_answered_as_before(client: TestClient) -> None:
    reply = client.post("/v1", content=orjson.dumps([PING, lookup()]))
    assert reply.status_code == 401
    assert reply.json()["data"] == [{"taskType": "ping", "pong": True}]
    assert [e["code"] for e in reply.json()["errors"]] == ["missingApiKey"]


def test_a_large_body_without_a_key_or_a_first_authentication_task_is_refused(client: TestClient) -> None:
    for body in (padded(PING), padded(lookup(), AUTH_TASK), b"[" + b"[]," * 2000 + b"[]]", b"x" * 5000):
        reply = client.post("/v1", content=body)
        assert reply.status_code == 401, body[:40]
        (error,) = reply.json()["errors"]
        assert error["code"] == "missingApiKey" and f"{LIMIT} bytes" in error["message"]
        assert "data" not in reply.json()


def test_a_large_body_whose_first_task_authenticates_is_answered_in_full(client: TestClient) -> None:
    body = padded(AUTH_TASK, PING)
    reply = client.post("/v1", content=body)
    assert reply.status_code == 400, reply.text  # the lookups are taskNotFound: a full answer
    data, errors = reply.json()["data"], reply.json()["errors"]
    assert data[0]["taskType"] == "authentication" and data[1] == {"taskType": "ping", "pong": True}
    assert len(errors) == len(orjson.loads(body)) - 2 and {e["code"] for e in errors} == {"taskNotFound"}


@pytest.mark.parametrize(
    ("key", "code"), [("wrong", "invalidApiKey"), ("  ", "invalidApiKey"), (None, "missingApiKey")]
)
def test_a_large_body_whose_first_task_has_a_bad_key_is_refused_by_it(
    client: TestClient, key: str | None, code: str
) -> None:
    auth = {"taskType": "authentication", "taskUUID": str(uuid.uuid4())} | ({"apiKey": key} if key else {})
    reply = client.post("/v1", content=padded(auth))
    assert reply.status_code == 401
    (error,) = reply.json()["errors"]
    assert (error["code"], error["taskType"], error["taskUUID"]) == (code, "authentication", auth["taskUUID"])


def test_a_body_over_the_value_bound_is_413_even_with_a_key(client: TestClient) -> None:
    body = b"[" + b"[]," * 5_000 + b"[]]"
    reply = client.post("/v1", content=body, headers={"Authorization": f"Bearer {KEY}"})
    assert reply.status_code == 413
    assert reply.json()["errors"][0]["code"] == "invalidPayload"


def test_the_rest_of_an_unauthenticated_body_is_never_read(tmp_path: Path) -> None:
    """The endpoint stops asking for chunks once it has seen the first task; uvicorn then
    discards the rest as it arrives, unbuffered."""
    app = create_app(settings(tmp_path))
    chunk = b"[" + b"[]," * 20_000
    requested = 0

    async def receive() -> dict[str, Any]:
        nonlocal requested
        requested += 1
        return {"type": "http.request", "body": chunk if requested == 1 else b"[]," * 20_000, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    assert requested == 1
    assert sent[0]["status"] == 401


# --- WebSocket --------------------------------------------------------------------------------------------


def test_a_large_websocket_message_before_authenticating_closes_with_1009(client: TestClient) -> None:
    with client.websocket_connect("/v1") as ws:
        ws.send_bytes(padded(AUTH_TASK))  # even one that starts by authenticating
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1009


def test_after_authenticating_a_socket_takes_messages_up_to_the_body_limit(client: TestClient) -> None:
    with client.websocket_connect("/v1") as ws:
        ws.send_json([PING])  # small messages before authenticating are fine
        assert ws.receive_json() == {"data": [{"taskType": "ping", "pong": True}]}
        ws.send_json([AUTH_TASK])
        assert ws.receive_json()["data"][0]["taskType"] == "authentication"
        body = padded(PING, size=8 * LIMIT)
        ws.send_bytes(body)
        frames = [ws.receive_json() for _ in orjson.loads(body)]
        assert {"data": [{"taskType": "ping", "pong": True}]} in frames
        assert sum("errors" in frame for frame in frames) == len(orjson.loads(body)) - 1  # taskNotFound each


def test_a_websocket_message_over_the_value_bound_is_invalid_payload(client: TestClient) -> None:
    with client.websocket_connect("/v1") as ws:
        ws.send_json([AUTH_TASK])
        ws.receive_json()
        ws.send_bytes(b"[" + b"[]," * 5_000 + b"[]]")
        assert ws.receive_json()["errors"][0]["code"] == "invalidPayload"
        ws.send_json([PING])  # and the socket goes on
        assert ws.receive_json() == {"data": [{"taskType": "ping", "pong": True}]}
