"""``GET /docs`` (api/swagger.py): Swagger UI served by this server, nothing from a CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cinefuse.app import create_app
from cinefuse.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    settings = Settings(data_dir=tmp_path_factory.mktemp("swagger"), api_keys="k")
    return TestClient(create_app(settings))  # type: ignore[arg-type]  # RestEndpoint is an ASGI app


def test_the_docs_page_loads_only_files_of_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/docs/static/swagger-ui-bundle.js" in sources and "/docs/static/swagger-ui.css" in sources
    assert all(source.startswith("/") for source in sources), sources  # no other host
    assert "url: '/openapi.json'" in page.text
    for source in sources:
        assert client.get(source).status_code == 200, source


def test_the_bundle_is_served_like_the_studios_files(client: TestClient) -> None:
    bundle = client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert bundle.headers["x-content-type-options"] == "nosniff"
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert (
        client.get("/docs/static/swagger-ui-bundle.js", headers={"If-None-Match": bundle.headers["etag"]}).status_code
        == 304
    )


@pytest.mark.parametrize("path", ["nope.js", "../swagger-ui-bundle.js", "..%2F..%2F__init__.py", "index.j2", ""])
def test_anything_else_under_docs_static_is_not_found(client: TestClient, path: str) -> None:
    assert client.get(f"/docs/static/{path}").status_code == 404
