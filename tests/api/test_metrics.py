"""``GET /metrics`` and ``GET /readyz`` of a real app (``api/metrics.py``), on the embedded
profile: the cluster gauges read from the job store, the job duration histogram after a
job ran in this process, and readiness naming what fails."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from cinefuse.app import create_app
from cinefuse.settings import Settings

KEY = "metrics-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def video(**fields: object) -> dict[str, object]:
    task: dict[str, object] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "pixverse:1@3",
        "positivePrompt": "a lighthouse at dusk",
        "width": 360,
        "height": 360,
    }
    return task | fields


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition ``text``, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_queue_depth_and_live_workers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_keys=KEY, workers=0, deliverer=False, engine="preview")
    with TestClient(create_app(settings)) as client:  # type: ignore[arg-type]
        for model in ("pixverse:1@3", "pixverse:1@3", "cinefuse:preview@1"):
            assert client.post("/v1", json=[video(model=model)], headers=AUTH).status_code == 200
        text = client.get("/metrics").text
        assert sample(text, "cinefuse_queue_depth", model="pixverse:1@3") == 2
        assert sample(text, "cinefuse_queue_depth", model="cinefuse:preview@1") == 1
        assert sample(text, "cinefuse_workers_live", role="worker") == 0  # an API-only server

        ready = client.get("/readyz", headers=AUTH)  # the checks are for callers with a key (or local ones)
        assert ready.status_code == 200  # tasks queue while workers are away
        checks = ready.json()["checks"]
        assert checks["database"]["ok"] and not checks["workers"]["ok"] and not checks["workers"]["required"]
        assert "broker" not in checks and "bucket" not in checks


def test_a_job_run_here_is_timed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_keys=KEY, workers=1, deliverer=False, engine="preview")
    labels = {"engine": "preview", "resolution": "360p", "status": "success"}
    with TestClient(create_app(settings)) as client:  # type: ignore[arg-type]
        before = sample(client.get("/metrics").text, "cinefuse_job_duration_seconds_count", **labels) or 0
        task = video()
        assert client.post("/v1", json=[task], headers=AUTH).status_code == 200
        lookup = [{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]
        deadline = time.monotonic() + 60
        while client.post("/v1", json=lookup, headers=AUTH).json()["data"][0]["status"] == "processing":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        text = client.get("/metrics").text
        assert sample(text, "cinefuse_job_duration_seconds_count", **labels) == before + 1
        assert sample(text, "cinefuse_workers_live", role="worker") == 1  # its embedded worker
        assert client.get("/readyz", headers=AUTH).json()["checks"]["workers"]["ok"]


def test_readiness_fails_naming_an_unreachable_broker(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, api_keys=KEY, workers=0, deliverer=False, broker_url="amqp://guest:guest@127.0.0.1:1//"
    )
    with TestClient(create_app(settings)) as client:  # type: ignore[arg-type]
        ready = client.get("/readyz", headers=AUTH)
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"]["ok"] and not body["checks"]["broker"]["ok"]
        # The API still acknowledges: the job is in the store, its message goes out later.
        assert client.post("/v1", json=[video()], headers=AUTH).status_code == 200
