"""The studio's routes (``api/ui.py``, ``api/models.py``) and its static files, without a browser."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cinefuse.api.models import models_json
from cinefuse.api.ui import STATIC_DIR, ui_router
from cinefuse.models.registry import MODELS
from cinefuse.schemas.tasks import SEED_MAX, TTL_MAX, TTL_MIN

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(ui_router())
    return TestClient(app)


def test_the_studio_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "form-action 'none'" in policy
    assert "connect-src 'self' ws://testserver wss://testserver;" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="static/js/main.js"></script>' in response.text


def test_a_malformed_host_is_left_out_of_the_policy(client: TestClient) -> None:
    policy = client.get("/", headers={"Host": "evil.example; script-src *"}).headers["content-security-policy"]
    assert "connect-src 'self';" in policy and "evil" not in policy


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("js/main.js", "text/javascript"), ("css/studio.css", "text/css"), ("icon.svg", "image/svg+xml")],
)
def test_static_files_have_their_media_type(client: TestClient, path: str, media_type: str) -> None:
    response = client.get(f"/static/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["cache-control"] == "no-cache"
    assert client.get(f"/static/{path}", headers={"If-None-Match": response.headers["etag"]}).status_code == 304


@pytest.mark.parametrize(
    "path",
    ["nope.js", "../api/ui.py", "..%2Fapi%2Fui.py", "js/../../api/ui.py", "/etc/passwd", "%2Fetc%2Fpasswd", ""],
)
def test_nothing_outside_the_static_files_is_served(client: TestClient, path: str) -> None:
    response = client.get(f"/static/{path}")
    assert response.status_code == 404


def test_a_missing_static_folder_gives_404s(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(ui_router(tmp_path / "absent"))
    assert TestClient(app).get("/").status_code == 404


def test_every_model_is_listed_with_its_capabilities(client: TestClient) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert [m["id"] for m in body["models"]] == list(MODELS)
    assert body == models_json()
    for listed in body["models"]:
        caps = MODELS[listed["id"]]
        assert listed["resolutions"] == list(caps.resolutions)
        assert listed["aspectRatios"] == list(caps.aspects)
        for resolution in caps.resolutions:
            for aspect, (width, height) in caps.sizes[resolution].items():
                assert listed["sizes"][resolution][aspect] == {"width": width, "height": height}
        assert listed["durations"] == list(caps.durations)
        assert listed["durationsByResolution"] == {r: list(d) for r, d in caps.durations_by_resolution.items()}
        assert listed["providerSettingDurations"] == list(caps.provider_setting_durations)
        assert listed["providerSettingMaxResolution"] == caps.provider_setting_max_resolution
        assert listed["maxFrameImages"] == caps.max_frame_images
        assert listed["maxReferenceImages"] == caps.max_reference_images
        assert listed["cameraMovements"] == list(caps.camera_movements)
        assert listed["effects"] == list(caps.effects)
        assert listed["styles"] == list(caps.styles)
        assert listed["outputQuality"] == {
            "min": caps.output_quality[0],
            "max": caps.output_quality[1],
            "default": caps.default_output_quality,
        }
        assert listed["defaults"]["resolution"] == caps.default_resolution
        assert listed["priceScale"] == caps.price_scale
        assert listed["description"] == caps.description
    pixverse = body["models"][0]
    assert pixverse["id"] == "pixverse:1@3"
    assert pixverse["durationsByResolution"] == {"1080p": [5]}
    assert pixverse["fastModeExcludedDurations"] == [8]
    assert pixverse["fastModeExcludedResolutions"] == ["1080p"]
    assert body["limits"]["seed"] == {"min": 0, "max": SEED_MAX}
    assert body["limits"]["ttl"] == {"min": TTL_MIN, "max": TTL_MAX}
    assert body["limits"]["safetyModes"] == ["none", "fast", "full"]


def test_the_model_list_is_not_the_task_endpoint(client: TestClient) -> None:
    assert client.post("/v1/models", json=[]).status_code == 405


def _static_files() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


def test_the_studio_loads_nothing_from_other_hosts() -> None:
    """Offline: no CDN, font or script from elsewhere; only relative URLs in the markup and styles."""
    offenders = []
    for path in _static_files():
        text = path.read_text()
        if path.suffix in (".html", ".css"):
            for url in re.findall(r"""(?:src|href)=["']([^"']+)["']|url\(([^)]+)\)""", text):
                target = next(u for u in url if u).strip("'\"")
                if re.match(r"^(?:[a-z]+:)?//", target) and not target.startswith("data:"):
                    offenders.append(f"{path.name}: {target}")
        if path.suffix == ".js":
            offenders += [
                f"{path.name}: import {m}"
                for m in re.findall(r"""from\s+["']([^"']+)["']""", text)
                if not m.startswith("./")
            ]
            offenders += [f"{path.name}: {m}" for m in re.findall(r"""fetch\(\s*["'](https?:[^"']+)""", text)]
    assert offenders == []


def _glob_match(path: str, pattern: str) -> bool:
    """setuptools' package-data globbing: ``*`` stays within one folder."""
    parts, wanted = path.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(fnmatch(p, w) for p, w in zip(parts, wanted, strict=True))


def test_every_static_file_is_packaged() -> None:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        patterns = tomllib.load(handle)["tool"]["setuptools"]["package-data"]["cinefuse"]
    package = STATIC_DIR.parent.parent
    missing = [
        str(p.relative_to(package))
        for p in _static_files()
        if not any(_glob_match(p.relative_to(package).as_posix(), pattern) for pattern in patterns)
    ]
    assert missing == []
