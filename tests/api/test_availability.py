"""``GET /v1/models`` says which models run here (``api/availability.py``): from this
process's engine checks in the embedded profile, from the live workers' heartbeats in the
distributed one, with the command that makes a missing one run."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cinefuse.api.availability import ModelAvailability, Snapshot, fleet_snapshot, local_snapshot, pull_hint
from cinefuse.api.models import models_router
from cinefuse.models.registry import MODELS
from cinefuse.settings import Settings

ALWAYS = {"pixverse:1@3", "cinefuse:preview@1"}  # the best engine present, down to the CPU preview


def test_without_weights_the_neural_models_are_missing_with_the_pull_to_run(tmp_path: Path) -> None:
    pytest.importorskip("diffusers", reason="without the 'gpu' extra the hint is the pip install (next test)")
    snapshot = local_snapshot(Settings(models_dir=tmp_path / "empty", data_dir=tmp_path))
    assert {m for m, missing in snapshot.items() if missing is None} == ALWAYS
    assert "cinefuse models pull Wan2.2-TI2V-5B-Diffusers" in str(snapshot["cinefuse:wan2.2-ti2v@1"])
    assert "cinefuse models pull Wan2.2-TI2V-5B-Diffusers" in str(snapshot["cinefuse:wan@1"])
    assert "cinefuse models pull LTX-Video-0.9.8-13B-distilled" in str(snapshot["cinefuse:ltx-distilled@1"])


def test_with_the_weights_every_model_runs(tiny_models_dir: Path, tmp_path: Path) -> None:
    snapshot = local_snapshot(Settings(models_dir=tiny_models_dir, data_dir=tmp_path))
    # The shared tiny set has the Wan and LTX-Video folders; the newer models' are built by
    # their own tests, and here each says which folder to pull.
    absent = {
        "cinefuse:wan2.2-a14b@1": "Wan2.2-T2V-A14B-Diffusers",
        "cinefuse:ltx2@1": "LTX-2",
        "cinefuse:ltx2-distilled@1": "LTX-2-19b-distilled",
        "cinefuse:hunyuanvideo1.5@1": "HunyuanVideo-1.5-Diffusers-720p_t2v",
    }
    for model_id, folder in absent.items():
        assert f"cinefuse models pull {folder}`" in str(snapshot.pop(model_id)), model_id
    assert snapshot == dict.fromkeys(m for m in MODELS if m not in absent)


def test_every_model_naming_an_engine_has_a_folder_to_pull() -> None:
    for model_id, caps in MODELS.items():
        if caps.engine not in (None, "preview"):
            assert pull_hint(model_id).startswith("run `cinefuse models pull "), model_id


def test_the_fleet_says_what_its_live_workers_serve() -> None:
    assert fleet_snapshot(None) == dict.fromkeys(MODELS)  # no worker yet, or one serving "*"
    snapshot = fleet_snapshot({"cinefuse:preview@1", "cinefuse:wan@1"})
    assert snapshot["cinefuse:wan@1"] is None and snapshot["pixverse:1@3"] is None
    assert "No worker serves it" in str(snapshot["cinefuse:ltx-distilled@1"])


def test_the_document_follows_the_snapshot_and_recomputes_only_after_the_ttl() -> None:
    calls: list[Snapshot] = []
    missing: Snapshot = dict.fromkeys(MODELS)

    def compute() -> Snapshot:
        calls.append(dict(missing))
        return calls[-1]

    availability = ModelAvailability(compute, ttl=3600)
    app = FastAPI()
    app.include_router(models_router(availability=availability))
    client = TestClient(app)
    first = client.get("/v1/models").json()
    assert all(m["available"] and m["missing"] is None for m in first["models"])
    missing["cinefuse:ltx-distilled@1"] = "No weights on this server: run `cinefuse models pull X` on the server."
    client.get("/v1/models")
    assert len(calls) == 1  # within the ttl: the same snapshot
    availability.ttl = 0
    ltx = next(m for m in client.get("/v1/models").json()["models"] if m["id"] == "cinefuse:ltx-distilled@1")
    assert (ltx["available"], ltx["missing"]) == (False, missing["cinefuse:ltx-distilled@1"])
    assert len(calls) == 2


def test_edits_need_the_wan_engine_and_here_its_vace_weights(tiny_models_dir: Path, tmp_path: Path) -> None:
    from cinefuse.api.availability import edit_problem

    with_vace = Settings(models_dir=tiny_models_dir, data_dir=tmp_path)
    assert edit_problem(with_vace, "cinefuse:wan@1", local=True) is None
    assert edit_problem(with_vace, "pixverse:1@3", local=True) is None  # its best engine here is Wan
    assert "no video-to-video" in str(edit_problem(with_vace, "cinefuse:ltx-distilled@1", local=True))
    bare = Settings(models_dir=tmp_path / "empty", data_dir=tmp_path)
    assert "preview engine, which has no video-to-video" in str(edit_problem(bare, "pixverse:1@3", local=True))
    # A fleet's API server knows its workers' engines, not their weights: the worker decides.
    assert edit_problem(bare, "cinefuse:wan@1", local=False) is None
    assert edit_problem(bare, "pixverse:1@3", local=False) is None
    assert "no video-to-video" in str(edit_problem(bare, "cinefuse:preview@1", local=False))


def test_an_edit_without_vace_weights_names_the_pull(tmp_path: Path) -> None:
    pytest.importorskip("diffusers", reason="the tiny weights need the 'gpu' extra")
    from tests.generation.neural.tiny_weights import build_wan22_ti2v

    from cinefuse.api.availability import edit_problem

    build_wan22_ti2v(tmp_path / "models")
    settings = Settings(models_dir=tmp_path / "models", data_dir=tmp_path)
    assert "cinefuse models pull Wan2.1-VACE-1.3B-diffusers" in str(
        edit_problem(settings, "cinefuse:wan@1", local=True)
    )
