"""``run_job`` end to end on a real job store: a clip rendered by the preview engine,
encoded and stored with its webhook row; a cancel, a lost lease, a shutdown and a job
timeout arriving from inside the engine's frame loop; an engine that raises; a frame
image URL that cannot be fetched; and the clean-up of work folders of dead processes.

The engine is the seam: the preview engine is the real one, ``ScriptedEngine`` a fake
that yields flat frames and runs a test's hook after each ``on_step``. Everything else
(store, image inputs, outbound guard, encoder, media store) is cinefuse's own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from tests.conftest import FakeClock
from tests.factories import new_job

from cinefuse.delivery.outbound import OutboundClient, OutboundPolicy
from cinefuse.engine.inputs import ImageInputs
from cinefuse.engine.runner import (
    CANCELLED_MESSAGE,
    RunnerContext,
    clean_stale_work_dirs,
    run_job,
    work_dir_prefix,
)
from cinefuse.errors import InferenceError
from cinefuse.generation.base import Engine, GenerationRequest, StepCallback, no_progress
from cinefuse.generation.preview import PreviewEngine
from cinefuse.jobs.models import Delivery, JobView, NewJob, ResultView
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.jobs.tables import jobs
from cinefuse.media.frames import Frame
from cinefuse.media.probe import probe
from cinefuse.safety.guard import ContentGuard
from cinefuse.storage.memory import MemoryMediaStore

API_KEY = "runner-test-key"
SEED = 100  # tests.factories' seed: result i renders with SEED + i
NUM_FRAMES = 80  # 5 s x 16 fps, the factories' task
PRICE_360P = 0.02
DEFAULT_TTL = 7_200  # the context's; distinct from the task ttl used below
TASK_TTL = 600
WEBHOOK = "https://hooks.example.com/cinefuse?token=abc"
#: A lease this short makes the heartbeat interval (lease / 3) 10 ms, so the first
#: ``on_step`` after a short pause reaches the store. The fake clock never lets it expire
#: unless a test moves it.
SHORT_LEASE = 0.03
PAUSE = SHORT_LEASE / 2  # longer than the heartbeat interval

Hook = Callable[[GenerationRequest, int], None]


class ScriptedEngine:
    """A fake engine: flat frames (a grey level per seed); ``hook(request, step)`` runs
    right after each ``on_step(step, total)``. Records the requests it got and the step
    whose ``on_step`` raised (the runner stopping it)."""

    name = "scripted"

    def __init__(self, hook: Hook | None = None) -> None:
        self.hook = hook
        self.requests: list[GenerationRequest] = []
        self.interrupted_at: list[tuple[int, int]] = []  # (seed, step)
        self.jobs_ended = 0

    def after_job(self) -> None:
        self.jobs_ended += 1

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        self.requests.append(request)
        return self._frames(request, on_step)

    def _frames(self, request: GenerationRequest, on_step: StepCallback) -> Iterator[Frame]:
        value = (request.seed * 37) % 256
        for step in range(1, request.num_frames + 1):
            try:
                on_step(step, request.num_frames)
            except BaseException:
                self.interrupted_at.append((request.seed, step))
                raise
            if self.hook is not None:
                self.hook(request, step)
            yield np.full((request.height, request.width, 3), value, np.uint8)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.requests]


class BrokenEngine:
    """A fake engine whose ``generate`` fails before yielding anything."""

    name = "broken"

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        raise RuntimeError("weights file truncated at byte 4096")

    def after_job(self) -> None:
        """Nothing to release."""


class OutOfMemoryEngine:
    """A fake engine that runs out of GPU memory (the job's ``inferenceError``) in a frame
    holding an object, as a failed forward holds its tensors; ``after_job`` records whether
    that object was still alive when it ran."""

    name = "oom"

    def __init__(self) -> None:
        self.held: weakref.ref[object] | None = None
        self.alive_after_job: list[bool] = []

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        activations = _Held()
        self.held = weakref.ref(activations)
        raise InferenceError("Out of GPU memory while generating 1280x736x121")

    def after_job(self) -> None:
        assert self.held is not None
        self.alive_after_job.append(self.held() is not None)


class _Held:
    """Something a failed frame holds (weak-referenceable)."""


class Harness:
    """A worker's ``RunnerContext`` on the test's job store, as the services build it."""

    def __init__(self, repo: JobStore, tmp_path: Path, engine: Engine, *, policy: OutboundPolicy | None = None) -> None:
        self.repo = repo
        self.engine = engine
        self.store = MemoryMediaStore()
        self.work_dir = tmp_path / "work"
        self.key_id = repo.keys.ensure([API_KEY])[hash_key(API_KEY)]
        self.models: list[str] = []
        outbound = OutboundClient(policy or OutboundPolicy(), connect_timeout=2.0, total_timeout=5.0)
        self.ctx = RunnerContext(
            store=repo,
            media=self.store,
            inputs=ImageInputs(repo.images, self.store, outbound),
            engine_for=self._engine_for,
            prices={"360p": PRICE_360P},
            work_dir=self.work_dir,
            default_ttl=DEFAULT_TTL,
            x264_preset="ultrafast",  # the fake engines' flat frames; the preview test uses the default
            safety=ContentGuard(None),
        )

    def _engine_for(self, model: str) -> Engine:
        self.models.append(model)
        return self.engine

    def submit(self, results: int = 1, **fields: Any) -> NewJob:
        job = new_job(self.key_id, results=results, **fields)
        assert self.repo.jobs.insert([job]) == [True]
        return job

    def view(self, job: NewJob) -> JobView:
        view = self.repo.jobs.view(self.key_id, job.task_uuid)
        assert view is not None
        return view

    def deliveries(self) -> list[Delivery]:
        return sorted(self.repo.outbox.claim_due(100, 60.0), key=lambda d: (d.result_idx, d.kind))

    def videos(self) -> list[str]:
        stored = self.store.keys()  # a list: MemoryMediaStore is not a mapping
        return [key for key in stored if key.startswith("videos/")]

    def files_left(self) -> list[Path]:
        return list(self.work_dir.rglob("*")) if self.work_dir.exists() else []


def attempts(repo: JobStore, job_id: str) -> int:
    with repo.engine.connect() as conn:
        return int(conn.execute(select(jobs.c.attempts).where(jobs.c.id == job_id)).scalar_one())


def expected_webhooks(job: NewJob, results: tuple[ResultView, ...]) -> list[tuple[int, str, str, str, str]]:
    return [(r.idx, "webhook", WEBHOOK, f"msg_{r.video_uuid}", job.task_uuid) for r in results]


def delivered(job: NewJob, rows: list[Delivery]) -> list[tuple[int, str, str, str, str]]:
    return [(d.result_idx, d.kind, d.url, d.delivery_id, d.task_uuid) for d in rows if d.job_id == job.id]


# ---------------------------------------------------------------------------------- success


@pytest.mark.parametrize("repo", ["sqlite"], indirect=True)  # 2 s of rendering: the store is covered below
def test_a_preview_clip_is_rendered_encoded_stored_and_announced(repo: JobStore, tmp_path: Path) -> None:
    harness = Harness(repo, tmp_path, PreviewEngine())
    harness.ctx.x264_preset = RunnerContext.x264_preset  # the server's default
    job = harness.submit(duration=5, fps=16, includeCost=True, ttl=TASK_TTL, webhookURL=WEBHOOK)
    before = time.time()
    assert run_job(harness.ctx, job.id) == "success"
    after = time.time()

    view = harness.view(job)
    (result,) = view.results
    assert (view.status, result.status, result.progress, result.seed) == ("success", "success", 100, SEED)
    assert (result.error_code, result.nsfw) == (None, None)  # no safety mode: no NSFWContent field
    assert result.video_uuid == job.results[0].video_uuid
    assert result.media_key == f"videos/{result.video_uuid}.mp4"
    assert harness.models == ["pixverse:1@3"]

    data, content_type = harness.store.get(result.media_key)
    assert harness.videos() == [result.media_key]
    assert content_type == result.content_type == "video/mp4"
    encoded = tmp_path / "out.mp4"
    encoded.write_bytes(data)
    info = probe(encoded)
    assert (info.codec, info.width, info.height, info.frame_count) == ("h264", 640, 360, NUM_FRAMES)
    assert info.fps == pytest.approx(16)

    assert result.cost == pytest.approx(PRICE_360P * 5)
    assert result.expires_at is not None
    assert before + TASK_TTL <= result.expires_at <= after + TASK_TTL
    assert delivered(job, harness.deliveries()) == expected_webhooks(job, view.results)
    assert harness.files_left() == []  # the temporary folder went with the encode


def test_without_include_cost_ttl_or_webhook_there_is_no_cost_the_default_ttl_and_no_row_and_no_rerun(
    repo: JobStore, tmp_path: Path
) -> None:
    engine = ScriptedEngine()
    harness = Harness(repo, tmp_path, engine)
    job = harness.submit(results=2)
    before = time.time()
    assert run_job(harness.ctx, job.id) == "success"
    after = time.time()
    view = harness.view(job)
    assert [(r.status, r.cost, r.seed) for r in view.results] == [("success", None, SEED), ("success", None, SEED + 1)]
    for result in view.results:
        assert result.expires_at is not None
        assert before + DEFAULT_TTL <= result.expires_at <= after + DEFAULT_TTL
    assert engine.seeds == [SEED, SEED + 1]
    assert harness.videos() == sorted(f"videos/{r.video_uuid}.mp4" for r in view.results)
    assert harness.deliveries() == []

    assert run_job(harness.ctx, job.id) is None  # a repeated dispatch of a finished job
    assert run_job(harness.ctx, "0" * 32) is None  # an id the store does not know
    assert engine.seeds == [SEED, SEED + 1]


# --------------------------------------------------------------------------------- progress


class ChunkedEngine:
    """A fake neural engine: ``on_step`` counts ``steps`` denoising steps, then one decoded
    chunk of frames each (``chunks``), as the Wan and LTX engines do: a total that is not
    the number of frames. ``hook(step)`` runs right after each ``on_step``."""

    name = "chunked"

    def __init__(self, steps: int, chunks: int, hook: Callable[[int], None]) -> None:
        self.steps, self.chunks, self.hook = steps, chunks, hook

    def after_job(self) -> None:
        """Nothing to release."""

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        total = self.steps + self.chunks
        for step in range(1, self.steps + 1):
            on_step(step, total)
            self.hook(step)
        frames = np.array_split(np.arange(request.num_frames), self.chunks)
        for chunk, indices in enumerate(frames, start=self.steps + 1):
            on_step(chunk, total)
            self.hook(chunk)
            yield from (np.full((request.height, request.width, 3), 90, np.uint8) for _ in indices)


@pytest.mark.parametrize("repo", ["sqlite"], indirect=True)
def test_stored_progress_counts_the_engine_s_units_and_is_100_only_once_the_result_is_stored(
    repo: JobStore, tmp_path: Path
) -> None:
    seen: list[int] = []

    def stored_progress_after(step: int) -> None:
        # What getResponse would show once the heartbeat wrote this step's progress.
        wanted = min(99, step * 100 // 5)
        deadline = time.monotonic() + 5
        while (progress := harness.view(job).results[0].progress) != wanted and time.monotonic() < deadline:
            time.sleep(0.005)
        seen.append(progress)

    harness = Harness(repo, tmp_path, ChunkedEngine(steps=2, chunks=3, hook=stored_progress_after))
    harness.ctx.renew_every = 0.005
    job = harness.submit()
    assert run_job(harness.ctx, job.id) == "success"
    assert seen == [20, 40, 60, 80, 99]  # the last chunk decoded: its frames not yet encoded, nothing stored
    (result,) = harness.view(job).results
    assert (result.status, result.progress) == ("success", 100)


# ----------------------------------------------------------------------------------- cancel


def test_a_cancel_while_running_stops_the_engine_and_fails_only_unfinished_results(
    repo: JobStore, tmp_path: Path
) -> None:
    engine = ScriptedEngine()
    harness = Harness(repo, tmp_path, engine)
    job = harness.submit(results=3, webhookURL=WEBHOOK)
    answers: list[str | None] = []

    def cancel_during_second_result(request: GenerationRequest, step: int) -> None:
        if request.seed == SEED + 1 and step == 3:
            answers.append(repo.jobs.request_cancel(harness.key_id, job.task_uuid, "client changed its mind"))
            time.sleep(PAUSE)

    engine.hook = cancel_during_second_result
    harness.ctx.lease_seconds = SHORT_LEASE

    assert run_job(harness.ctx, job.id) == "cancelled"
    assert answers == ["running"]  # the API saw it running: it stops at its next step
    assert engine.seeds == [SEED, SEED + 1]  # the third result never started
    assert engine.interrupted_at == [(SEED + 1, 4)]  # stopped by the on_step right after the cancel

    view = harness.view(job)
    assert view.status == "cancelled"
    assert [(r.status, r.error_code, r.error_message) for r in view.results] == [
        ("success", None, None),
        ("error", "taskCancelled", CANCELLED_MESSAGE),
        ("error", "taskCancelled", CANCELLED_MESSAGE),
    ]
    assert harness.videos() == [view.results[0].media_key]
    assert delivered(job, harness.deliveries()) == expected_webhooks(job, view.results)
    assert harness.files_left() == []


# ------------------------------------------------------------------------------- lost lease


@pytest.mark.parametrize(("lose_at", "interrupted"), [(3, [(SEED, 4)]), (NUM_FRAMES, [])], ids=["mid-clip", "end"])
def test_a_worker_that_lost_its_lease_publishes_nothing_and_the_job_runs_again(
    repo: JobStore, clock: FakeClock, tmp_path: Path, lose_at: int, interrupted: list[tuple[int, int]]
) -> None:
    engine = ScriptedEngine()
    harness = Harness(repo, tmp_path, engine)
    job = harness.submit(webhookURL=WEBHOOK)
    swept: list[tuple[list[str], list[str]]] = []

    def lose_the_lease(request: GenerationRequest, step: int) -> None:
        if step == lose_at and not swept:
            clock.advance(SHORT_LEASE + 60)  # the lease ran out: the sweeper takes the job back
            swept.append(repo.leases.requeue_expired())
            time.sleep(PAUSE)

    engine.hook = lose_the_lease
    harness.ctx.lease_seconds = SHORT_LEASE
    harness.ctx.renew_every = 3600  # a stalled worker: nothing renews the lease in time

    assert run_job(harness.ctx, job.id) is None
    assert swept == [([job.id], [])]
    # mid-clip the next on_step notices; after the last step the check before storing does
    assert engine.interrupted_at == interrupted
    view = harness.view(job)
    assert view.status == "queued"
    assert [(r.status, r.media_key, r.error_code) for r in view.results] == [("pending", None, None)]
    assert harness.videos() == [] and harness.deliveries() == [] and harness.files_left() == []

    # The next worker (here the same context) runs it to the end, under the same videoUUID.
    harness.ctx.lease_seconds, harness.ctx.renew_every = 30.0, None
    assert run_job(harness.ctx, job.id) == "success"
    (result,) = harness.view(job).results
    assert (result.status, result.video_uuid) == ("success", job.results[0].video_uuid)
    assert attempts(repo, job.id) == 2
    assert harness.videos() == [f"videos/{result.video_uuid}.mp4"]


# ---------------------------------------------------------------------------- engine errors


def _raise_mid_clip(request: GenerationRequest, step: int) -> None:
    if step == 10:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


@pytest.mark.parametrize(
    ("broken", "text"),
    [
        (lambda: ScriptedEngine(_raise_mid_clip), "CUDA error: an illegal memory access was encountered"),
        (BrokenEngine, "weights file truncated at byte 4096"),
    ],
    ids=["mid-clip", "in-generate"],
)
def test_an_engine_exception_is_an_inference_error_and_the_worker_survives(
    repo: JobStore, tmp_path: Path, broken: Callable[[], Engine], text: str
) -> None:
    harness = Harness(repo, tmp_path, broken())
    failing = harness.submit(results=2, webhookURL=WEBHOOK)
    assert run_job(harness.ctx, failing.id) == "error"
    view = harness.view(failing)
    assert view.status == "error"
    for result in view.results:
        assert (result.status, result.error_code, result.media_key) == ("error", "inferenceError", None)
        assert result.error_message is not None and text in result.error_message
        assert "RuntimeError" in result.error_message
    assert delivered(failing, harness.deliveries()) == expected_webhooks(failing, view.results)
    assert harness.videos() == [] and harness.files_left() == []

    # The same worker takes the next job as if nothing happened.
    harness.engine = ScriptedEngine()
    following = harness.submit()
    assert run_job(harness.ctx, following.id) == "success"
    assert [r.status for r in harness.view(following).results] == ["success"]


def test_the_engine_s_after_job_runs_once_the_job_and_its_exception_are_gone(repo: JobStore, tmp_path: Path) -> None:
    """What a failed job held (a failed forward's tensors, through its traceback) is
    released by then, so the neural engines' ``after_job`` can give the GPU memory back."""
    broken = OutOfMemoryEngine()
    harness = Harness(repo, tmp_path, broken)
    assert run_job(harness.ctx, harness.submit().id) == "error"
    assert broken.alive_after_job == [False]
    working = ScriptedEngine()
    harness.engine = working
    assert run_job(harness.ctx, harness.submit().id) == "success"
    assert working.jobs_ended == 1


def test_a_task_accepted_before_its_key_was_revoked_is_cancelled_not_run(repo: JobStore, tmp_path: Path) -> None:
    """A server may accept a revoked key's task until its next key refresh (one sweep); the
    worker that takes it cancels it (docs/api.md, "Revoked keys")."""
    from cinefuse.errors import KEY_REVOKED

    engine = ScriptedEngine()
    harness = Harness(repo, tmp_path, engine)
    job = harness.submit(webhookURL=WEBHOOK)
    assert repo.keys.revoke(harness.key_id)
    assert run_job(harness.ctx, job.id) == "cancelled"
    view = harness.view(job)
    assert view.status == "cancelled" and engine.requests == []
    assert [(r.error_code, r.error_message) for r in view.results] == [("taskCancelled", KEY_REVOKED)]
    assert delivered(job, harness.deliveries()) == expected_webhooks(job, view.results)


# --------------------------------------------------------------------------------- shutdown


def test_a_shutting_down_worker_gives_the_job_back_without_spending_an_attempt(repo: JobStore, tmp_path: Path) -> None:
    stopping: list[bool] = []

    def shut_down_during_second_result(request: GenerationRequest, step: int) -> None:
        if request.seed == SEED + 1 and step == 2:
            stopping.append(True)

    engine = ScriptedEngine(shut_down_during_second_result)
    harness = Harness(repo, tmp_path, engine)
    harness.ctx.stopping = lambda: bool(stopping)
    job = harness.submit(results=2, webhookURL=WEBHOOK)

    assert run_job(harness.ctx, job.id) is None
    assert engine.interrupted_at == [(SEED + 1, 3)]
    view = harness.view(job)
    assert view.status == "queued"
    assert [r.status for r in view.results] == ["success", "pending"]  # a finished result stays
    assert attempts(repo, job.id) == 0
    finished = view.results[0]
    assert delivered(job, harness.deliveries()) == expected_webhooks(job, (finished,))
    assert harness.videos() == [finished.media_key] and harness.files_left() == []

    # After the restart only the unfinished result is rendered; the first one is kept as is.
    stopping.clear()
    engine.hook = None
    assert run_job(harness.ctx, job.id) == "success"
    assert engine.seeds == [SEED, SEED + 1, SEED + 1]
    again = harness.view(job)
    assert again.results[0] == finished
    assert [r.status for r in again.results] == ["success", "success"]
    assert attempts(repo, job.id) == 1


def test_stopping_before_the_first_step_leaves_every_result_pending(repo: JobStore, tmp_path: Path) -> None:
    engine = ScriptedEngine()
    harness = Harness(repo, tmp_path, engine)
    harness.ctx.stopping = lambda: True
    job = harness.submit(results=2)
    assert run_job(harness.ctx, job.id) is None
    assert engine.interrupted_at == [(SEED, 1)]
    view = harness.view(job)
    assert (view.status, [r.status for r in view.results]) == ("queued", ["pending", "pending"])
    assert attempts(repo, job.id) == 0
    assert harness.videos() == [] and harness.deliveries() == []


# ---------------------------------------------------------------------------------- timeout


def test_a_job_past_its_time_limit_fails_its_pending_results_with_timeout_provider(
    repo: JobStore, tmp_path: Path
) -> None:
    engine = ScriptedEngine()
    harness = Harness(repo, tmp_path, engine)
    harness.ctx.job_timeout = 1e-6
    job = harness.submit(results=2, webhookURL=WEBHOOK)
    assert run_job(harness.ctx, job.id) == "error"
    assert engine.interrupted_at == [(SEED, 1)]  # stopped at its first step, not after the clip
    view = harness.view(job)
    assert view.status == "error"
    for result in view.results:
        assert (result.status, result.error_code, result.media_key) == ("error", "timeoutProvider", None)
        assert result.error_message is not None and "1e-06 s" in result.error_message
    assert delivered(job, harness.deliveries()) == expected_webhooks(job, view.results)
    assert harness.videos() == [] and harness.files_left() == []


# ------------------------------------------------------------------------------ input image


def closed_local_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("allow", "why"),
    [("127.0.0.1", "could not be fetched"), ("", "is not allowed")],
    ids=["refused-connection", "refused-by-the-guard"],
)
def test_a_frame_image_url_that_cannot_be_fetched_is_invalid_image_naming_it(
    repo: JobStore, tmp_path: Path, allow: str, why: str
) -> None:
    engine = ScriptedEngine()
    harness = Harness(repo, tmp_path, engine, policy=OutboundPolicy.from_setting(allow))
    url = f"http://127.0.0.1:{closed_local_port()}/first.png"
    job = harness.submit(results=2, webhookURL=WEBHOOK, inputs={"frameImages": [url]})
    assert job.task.frame_images[0].image.value == url

    assert run_job(harness.ctx, job.id) == "error"
    assert engine.requests == []  # nothing was generated
    view = harness.view(job)
    assert view.status == "error"
    for result in view.results:
        assert (result.status, result.error_code) == ("error", "invalidImage")
        assert result.error_parameter == "inputs.frameImages[0]"
        assert result.error_message is not None and why in result.error_message
    assert delivered(job, harness.deliveries()) == expected_webhooks(job, view.results)


# ----------------------------------------------------------------------- stale work folders


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_clean_stale_work_dirs_removes_only_folders_of_dead_processes(tmp_path: Path) -> None:
    work = tmp_path / "work"
    dead, live = dead_pid(), os.getpid()
    assert work_dir_prefix() == f"{live}-"
    stale = work / f"{dead}-a1b2c3"
    (stale / "nested").mkdir(parents=True)
    (stale / "nested" / "partial.mp4").write_bytes(b"\x00" * 100)
    kept = [work / f"{live}-d4e5f6", work / "cache", work / "12ab-not-a-pid"]
    for folder in kept:
        folder.mkdir()
    (work / f"{dead}-a-file").write_text("not a folder")

    assert clean_stale_work_dirs(work) == 1
    assert not stale.exists()
    assert sorted(p.name for p in work.iterdir()) == sorted([*(p.name for p in kept), f"{dead}-a-file"])
    assert clean_stale_work_dirs(work) == 0
    assert clean_stale_work_dirs(tmp_path / "missing") == 0
