"""``/v1`` takes POST (REST) and GET (the WebSocket upgrade); any other method is 405 with
``Allow`` and the API's error shape, not a 404 (``api/rest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cinefuse.app import create_app
from cinefuse.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("methods"), api_keys="k", workers=0, deliverer=False)
    with TestClient(create_app(settings)) as test_client:  # type: ignore[arg-type]
        yield test_client


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/v1", "/v1/"])
def test_other_methods_on_v1_are_405_with_allow(client: TestClient, method: str, path: str) -> None:
    reply = client.request(method, path)
    assert reply.status_code == 405
    assert reply.headers["allow"] == "GET, POST"
    assert reply.headers["content-type"] == "application/json"
    (error,) = reply.json()["errors"]
    assert error["code"] == "methodNotAllowed" and method in error["message"]


def test_post_and_other_paths_are_unchanged(client: TestClient) -> None:
    assert client.post("/v1", json=[{"taskType": "ping", "ping": True}]).status_code == 200
    assert client.put("/health").status_code == 405  # FastAPI's own answer elsewhere
    assert client.request("TRACE", "/nowhere").status_code == 404
