"""Safety through ``run_job``: flagged results become ``nsfwContentDetected`` with no file
on disk or in the store; clean ones carry ``NSFWContent: false``; modes check what they say.

The checker is the scripted test double at the model boundary; the engine is a tiny fake
that yields flat frames (bright for even seeds, dark for odd ones) so each result of a
task can be flagged on its own.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cinefuse.delivery.outbound import OutboundClient, OutboundPolicy
from cinefuse.engine.inputs import ImageInputs
from cinefuse.engine.runner import RunnerContext, run_job
from cinefuse.generation.base import GenerationRequest, StepCallback, no_progress
from cinefuse.jobs.models import JobView, NewJob, NewResult
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.media.frames import Frame
from cinefuse.media.images import encode_png
from cinefuse.safety.guard import ContentGuard
from cinefuse.safety.memory import ScriptedChecker
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.tasks import VideoInferenceTask
from cinefuse.storage.memory import MemoryMediaStore

BRIGHT, DARK = 200, 20
SEED = 100  # result i uses SEED + i: result 0 bright, result 1 dark
NUM_FRAMES = 80  # 5 s x 16 fps
CLEAN = "a lighthouse on a cliff at sunset"


class FlatEngine:
    """A fake engine: ``num_frames`` flat frames, bright for even seeds, dark for odd ones."""

    name = "flat"

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        self.requests.append(request)
        value = BRIGHT if request.seed % 2 == 0 else DARK
        for step in range(request.num_frames):
            on_step(step + 1, request.num_frames)
            yield np.full((request.height, request.width, 3), value, np.uint8)

    def after_job(self) -> None:
        """Nothing to release."""


def bright_is_explicit() -> ScriptedChecker:
    return ScriptedChecker(lambda frame: {"FEMALE_BREAST_EXPOSED": 0.95} if frame.mean() > 100 else {})


class Harness:
    def __init__(self, repo: JobStore, tmp_path: Path, checker: ScriptedChecker | None) -> None:
        self.repo = repo
        self.store = MemoryMediaStore()
        self.engine = FlatEngine()
        self.work_dir = tmp_path / "work"
        self.key_id = repo.keys.ensure(["k"])[hash_key("k")]
        self.images = ImageInputs(repo.images, self.store, OutboundClient(OutboundPolicy.from_setting("")))
        self.ctx = RunnerContext(
            store=repo,
            media=self.store,
            inputs=self.images,
            engine_for=lambda model: self.engine,
            prices={"360p": 0.02},
            work_dir=self.work_dir,
            safety=ContentGuard(checker),
        )

    def run(self, safety: dict[str, Any] | None = None, **fields: Any) -> JobView:
        raw: dict[str, Any] = {
            "taskType": "videoInference",
            "taskUUID": str(uuid.uuid4()),
            "model": "pixverse:1@3",
            "positivePrompt": CLEAN,
            "resolution": "360p",
            "duration": 5,
            "fps": 16,
            "seed": SEED,
        }
        if safety is not None:
            raw["safety"] = safety
        raw.update(fields)
        task = parse_task(raw)
        assert isinstance(task, VideoInferenceTask)
        job = NewJob(
            uuid.uuid4().hex,
            self.key_id,
            task,
            tuple(NewResult(i, str(uuid.uuid4()), task.result_seed(i)) for i in range(task.number_results)),
            0.0,
            3,
        )
        self.repo.jobs.insert([job])
        run_job(self.ctx, job.id)
        view = self.repo.jobs.view(self.key_id, task.task_uuid)
        assert view is not None
        return view

    def stored_videos(self) -> list[str]:
        stored = self.store.keys()
        return [key for key in stored if key.startswith("videos/")]

    def files_on_disk(self) -> list[Path]:
        return [p for p in self.work_dir.rglob("*") if p.is_file()] if self.work_dir.exists() else []


@pytest.mark.parametrize(("mode", "calls"), [("fast", [3]), ("full", [8])])
def test_a_flagged_result_is_nsfw_and_leaves_nothing_behind(
    repo: JobStore, tmp_path: Path, mode: str, calls: list[int]
) -> None:
    checker = bright_is_explicit()
    harness = Harness(repo, tmp_path, checker)
    view = harness.run({"mode": mode})
    (result,) = view.results
    assert (result.status, result.error_code, result.media_key) == ("error", "nsfwContentDetected", None)
    assert harness.stored_videos() == [] and harness.files_on_disk() == []
    # fast checks its 3 frames at the end; full stops generating at the first flagged batch
    assert checker.calls == calls


@pytest.mark.parametrize(
    ("safety", "calls"), [({"mode": "fast"}, [3]), ({"checkContent": True}, [3]), ({"mode": "full"}, [8] * 10)]
)
def test_clean_results_are_checked_and_say_so(
    repo: JobStore, tmp_path: Path, safety: dict[str, Any], calls: list[int]
) -> None:
    checker = bright_is_explicit()
    harness = Harness(repo, tmp_path, checker)
    view = harness.run(safety, seed=SEED + 1)  # dark: clean
    (result,) = view.results
    assert (result.status, result.nsfw) == ("success", False)
    assert checker.calls == calls and checker.frames_checked == sum(calls)
    assert len(harness.stored_videos()) == 1 and harness.files_on_disk() == []


def test_each_result_is_judged_on_its_own(repo: JobStore, tmp_path: Path) -> None:
    harness = Harness(repo, tmp_path, bright_is_explicit())
    view = harness.run({"mode": "fast"}, numberResults=2)
    assert [(r.status, r.error_code, r.nsfw) for r in view.results] == [
        ("error", "nsfwContentDetected", None),
        ("success", None, False),
    ]
    assert len(harness.stored_videos()) == 1


def test_a_flagged_prompt_fails_the_task_before_generating(repo: JobStore, tmp_path: Path) -> None:
    checker = ScriptedChecker()
    harness = Harness(repo, tmp_path, checker)
    view = harness.run({"mode": "fast"}, positivePrompt="a nude woman on a beach", numberResults=2)
    assert [(r.status, r.error_code) for r in view.results] == [("error", "nsfwContentDetected")] * 2
    assert harness.engine.requests == [] and checker.calls == []


def test_a_flagged_input_image_fails_the_task_before_generating(repo: JobStore, tmp_path: Path) -> None:
    checker = bright_is_explicit()
    harness = Harness(repo, tmp_path, checker)
    png = encode_png(np.full((360, 640, 3), BRIGHT, np.uint8))
    stored = harness.images.store_image(harness.key_id, base64.b64encode(png).decode(), "inputs.frameImages[0]")
    view = harness.run({"mode": "fast"}, inputs={"frameImages": [stored.uuid]}, seed=SEED + 1)
    assert [(r.status, r.error_code) for r in view.results] == [("error", "nsfwContentDetected")]
    assert harness.engine.requests == [] and checker.calls == [1]


def test_no_safety_means_no_check_and_no_nsfw_field(repo: JobStore, tmp_path: Path) -> None:
    checker = bright_is_explicit()
    harness = Harness(repo, tmp_path, checker)
    (result,) = harness.run().results
    assert (result.status, result.nsfw) == ("success", None)
    assert checker.calls == []


def test_without_a_backend_a_requested_check_is_an_error_not_a_pass(repo: JobStore, tmp_path: Path) -> None:
    harness = Harness(repo, tmp_path, None)
    (result,) = harness.run({"mode": "fast"}).results
    assert (result.status, result.error_code, result.nsfw) == ("error", "inferenceError", None)
    assert harness.engine.requests == [] and harness.stored_videos() == []
    (plain,) = harness.run().results
    assert plain.status == "success"
