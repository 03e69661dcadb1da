"""The envelope over both transports (docs/api.md section 1), in-process with the real app."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cinefuse.app import create_app
from cinefuse.settings import Settings

KEY = "transport-key"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, api_keys=KEY, workers=0, max_body_bytes=4096, deliverer=False)
    with TestClient(create_app(settings)) as test_client:  # type: ignore[arg-type]
        yield test_client


def video(task_uuid: str | None = None) -> dict[str, object]:
    return {
        "taskType": "videoInference",
        "taskUUID": task_uuid or str(uuid.uuid4()),
        "model": "pixverse:1@3",
        "positivePrompt": "a red kite over the sea",
        "resolution": "360p",
    }


def test_rest_auth_by_header_or_first_task(client: TestClient) -> None:
    task = video()
    by_header = client.post("/v1", json=[task], headers={"Authorization": f"Bearer {KEY}"})
    assert by_header.status_code == 200 and by_header.headers["content-type"] == "application/json"
    lookup = {"taskType": "getResponse", "taskUUID": task["taskUUID"]}
    by_task = client.post("/v1", json=[{"taskType": "authentication", "apiKey": KEY}, lookup])
    body = by_task.json()
    assert by_task.status_code == 200 and "errors" not in body
    assert body["data"][0]["taskType"] == "authentication" and body["data"][0]["connectionSessionUUID"]
    assert body["data"][1] == {
        "taskType": "videoInference",
        "taskUUID": task["taskUUID"],
        "status": "processing",
        "progress": 0,
    }


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"[", {"Authorization": f"Bearer {KEY}"}, 400, "invalidJson"),
        (b'{"taskType":"ping"}', {"Authorization": f"Bearer {KEY}"}, 400, "invalidPayload"),
        (b"[]", {"Authorization": f"Bearer {KEY}"}, 400, "invalidPayload"),
        (b'[{"taskType":"getResponse","taskUUID":"' + str(uuid.uuid4()).encode() + b'"}]', {}, 401, "missingApiKey"),
        (b'[{"taskType":"ping"}]', {"Authorization": "Bearer wrong"}, 401, "invalidApiKey"),
        (b"[" + b'"x",' * 2000 + b'"x"]', {"Authorization": f"Bearer {KEY}"}, 413, "invalidPayload"),
    ],
    ids=["bad-json", "not-array", "empty", "no-key", "wrong-key", "too-large"],
)
def test_rest_envelope_errors(client: TestClient, body: bytes, headers: dict[str, str], status: int, code: str) -> None:
    reply = client.post("/v1", content=body, headers=headers)
    assert reply.status_code == status
    assert reply.json()["errors"][0]["code"] == code


def test_rest_per_task_errors_do_not_stop_other_tasks(client: TestClient) -> None:
    good, bad = video(), video() | {"duration": 6}
    reply = client.post(
        "/v1", json=[good, bad, {"taskType": "ping", "ping": True}], headers={"Authorization": f"Bearer {KEY}"}
    )
    body = reply.json()
    assert reply.status_code == 400
    assert body["data"] == [
        {"taskType": "videoInference", "taskUUID": good["taskUUID"]},
        {"taskType": "ping", "pong": True},
    ]
    [error] = body["errors"]
    assert (error["code"], error["parameter"], error["taskUUID"]) == (
        "unsupportedDuration",
        "duration",
        bad["taskUUID"],
    )


def test_websocket_auth_ping_tasks_and_resume(client: TestClient) -> None:
    with client.websocket_connect("/v1") as ws:
        ws.send_json([{"taskType": "ping", "ping": True}])
        assert ws.receive_json() == {"data": [{"taskType": "ping", "pong": True}]}
        ws.send_json([video()])
        error = ws.receive_json()["errors"][0]
        assert (error["code"], error["taskType"]) == ("missingApiKey", "authentication")
        ws.send_json([{"taskType": "authentication", "apiKey": "wrong"}])
        error = ws.receive_json()["errors"][0]
        assert (error["code"], error["taskType"]) == ("invalidApiKey", "authentication")
        ws.send_json([{"taskType": "authentication", "apiKey": KEY}])
        session = ws.receive_json()["data"][0]["connectionSessionUUID"]
        task = video()
        ws.send_json([task])
        assert ws.receive_json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
        ws.send_json([task])  # an SDK's resend after a reconnect
        error = ws.receive_json()["errors"][0]
        assert (error["code"], error["taskUUID"]) == ("conflictTaskUUID", task["taskUUID"])
    with client.websocket_connect("/v1") as ws:
        ws.send_json([{"taskType": "authentication", "apiKey": KEY, "connectionSessionUUID": session}])
        assert ws.receive_json()["data"][0]["connectionSessionUUID"] == session
        # Two tasks in one message: one frame each, never data and errors mixed.
        ws.send_json(
            [
                {"taskType": "getResponse", "taskUUID": task["taskUUID"]},
                {"taskType": "getResponse", "taskUUID": str(uuid.uuid4())},
            ]
        )
        frames = [ws.receive_json(), ws.receive_json()]
        assert all(len(frame) == 1 for frame in frames)
        kinds = sorted(next(iter(frame)) for frame in frames)
        assert kinds == ["data", "errors"]


def test_queue_limit_and_rate_limit_answer_429(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_keys=KEY, workers=0, queue_limit=2, deliverer=False)
    with TestClient(create_app(settings)) as client:  # type: ignore[arg-type]
        auth = {"Authorization": f"Bearer {KEY}"}
        assert [client.post("/v1", json=[video()], headers=auth).status_code for _ in range(2)] == [200, 200]
        full = client.post("/v1", json=[video()], headers=auth)
        assert full.status_code == 429 and full.json()["errors"][0]["code"] == "queueFull"
    settings = Settings(data_dir=tmp_path / "b", api_keys=KEY, workers=0, rate_limit=1.0, deliverer=False)
    with TestClient(create_app(settings)) as client:  # type: ignore[arg-type]
        ping = {"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}
        codes = [
            client.post("/v1", json=[ping], headers={"Authorization": f"Bearer {KEY}"}).json()["errors"][0]["code"]
            for _ in range(4)
        ]
        assert codes[:2] == ["taskNotFound", "taskNotFound"] and codes[-1] == "rateLimitExceeded"


def test_idle_websocket_is_closed(tmp_path: Path) -> None:
    from starlette.websockets import WebSocketDisconnect

    settings = Settings(data_dir=tmp_path, api_keys=KEY, workers=0, ws_idle_timeout=0.3, deliverer=False)
    with TestClient(create_app(settings)) as client, client.websocket_connect("/v1") as ws:  # type: ignore[arg-type]
        ws.send_json([{"taskType": "ping", "ping": True}])
        assert ws.receive_json()["data"][0]["pong"] is True
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000
