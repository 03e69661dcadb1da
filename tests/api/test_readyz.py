"""``GET /readyz`` tells anyone whether the server is ready, and only callers with a key or on
this machine what it checked (``api/metrics.py``, docs/api.md "Readiness"): the checks name the
database URL (a path; user, host and database in the fleet profile) and worker hosts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cinefuse.api.auth import is_local
from cinefuse.app import create_app
from cinefuse.settings import Settings

KEY = "readyz-key"


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, api_keys=KEY, workers=0, deliverer=False)


def client_from(app_settings: Settings, host: str) -> TestClient:
    return TestClient(create_app(app_settings), client=(host, 40000))  # type: ignore[arg-type]


@pytest.fixture
def remote(app_settings: Settings) -> Iterator[TestClient]:
    with client_from(app_settings, "203.0.113.7") as client:
        yield client


def test_a_remote_caller_without_a_key_learns_ready_and_nothing_else(remote: TestClient, tmp_path: Path) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        reply = remote.get("/readyz", headers=headers)
        assert reply.status_code == 200
        assert reply.json() == {"status": "ready"}
        assert str(tmp_path) not in reply.text


def test_a_caller_with_a_key_gets_the_checks(remote: TestClient, tmp_path: Path) -> None:
    body = remote.get("/readyz", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert body["status"] == "ready"
    assert str(tmp_path.resolve()) in body["checks"]["database"]["detail"]
    assert body["checks"]["workers"] == {
        "ok": False,
        "detail": "RuntimeError: no worker heartbeat in the last 30 s",
        "required": False,
    }


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_a_local_caller_gets_the_checks_without_a_key(app_settings: Settings, host: str) -> None:
    with client_from(app_settings, host) as client:
        assert "checks" in client.get("/readyz").json()


def test_not_ready_is_503_without_details_and_the_failure_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Settings(
        data_dir=tmp_path, api_keys=KEY, workers=0, deliverer=False, broker_url="amqp://guest:secret@127.0.0.1:1//"
    )
    with client_from(broken, "203.0.113.7") as client, caplog.at_level(logging.WARNING, "cinefuse.api.metrics"):
        replies = [client.get("/readyz") for _ in range(3)]
    assert [r.status_code for r in replies] == [503] * 3
    assert all(r.json() == {"status": "unavailable"} for r in replies)
    failures = [r for r in caplog.records if "failing checks" in r.getMessage()]
    assert len(failures) == 1 and "broker" in failures[0].getMessage()
    assert "secret" not in failures[0].getMessage()


@pytest.mark.parametrize(
    ("client", "local"),
    [
        (("127.0.0.1", 1), True),
        (("::1", 1), True),
        (("::ffff:127.0.0.1", 1), True),
        (("10.0.0.1", 1), False),
        (("::ffff:10.0.0.1", 1), False),
        (("testclient", 1), False),
        (None, False),
    ],
)
def test_is_local(client: tuple[str, int] | None, local: bool) -> None:
    assert is_local({"client": client}) is local
