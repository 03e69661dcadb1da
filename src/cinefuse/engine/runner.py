"""``run_job``: the one function that executes a job, in every profile.

Steps (docs/architecture.md): claim -> load inputs -> safety pre-check -> per result:
generate (streamed) -> safety inspect -> encode -> store -> finish under the fence (with its
outbox rows) -> complete. Any write after the lease was lost is refused by the store, so a
zombie worker never publishes a second result; a crash at any point leaves the job
``running`` with an expiring lease, which the sweeper turns back into ``queued``.
"""

from __future__ import annotations

import enum
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cinefuse.engine.inputs import ImageInputs, TaskImages
from cinefuse.engine.requests import generation_request
from cinefuse.errors import KEY_REVOKED, ContentFlagged, InferenceError, TaskCancelled, TaskFailure, TimeoutProvider
from cinefuse.generation.base import Engine, GenerationInterrupted
from cinefuse.jobs.models import (
    Claim,
    JobStatus,
    LeaseState,
    NewResult,
    ResultFailure,
    ResultOutcome,
    ResultSuccess,
    deliveries_for,
)
from cinefuse.jobs.store import JobStore
from cinefuse.media.video import encode_frames, extension
from cinefuse.metrics import count_failure, observe_job
from cinefuse.models.registry import require_model
from cinefuse.owners import new_owner, process_alive
from cinefuse.safety.guard import ContentGuard
from cinefuse.schemas.tasks import VideoInferenceTask
from cinefuse.settings import SoundMode
from cinefuse.storage.base import MediaStore

log = logging.getLogger(__name__)

#: The lease is renewed (and progress written) this often, or at a third of the lease.
PROGRESS_INTERVAL = 1.0
#: Engines' steps read the lease at most this often: a cancel stops a neural engine at its
#: next denoising step, while the preview engine's fast frames do not read it every time.
CHECK_INTERVAL = 0.02
CANCELLED_MESSAGE = "Task cancelled by the client."


@dataclass
class RunnerContext:
    """What ``run_job`` needs; built once per worker process (or thread pool)."""

    store: JobStore
    media: MediaStore
    inputs: ImageInputs
    engine_for: Callable[[str], Engine]  # model id -> loaded engine
    prices: dict[str, float]
    work_dir: Path
    lease_seconds: float = 30.0
    #: How often a running job's lease is renewed; None: every second, or a third of the lease.
    renew_every: float | None = None
    #: The longest a job may run, all its results together; then ``timeoutProvider``.
    job_timeout: float = 3_600.0
    default_ttl: int = 86_400
    x264_preset: str = "veryfast"
    #: ``CINEFUSE_SOUND``: which clips carry the sound their engine makes.
    sound: SoundMode = "auto"
    owner: str = field(default_factory=new_owner)
    #: Set by the pool on shutdown: running jobs give their lease back.
    stopping: Callable[[], bool] = lambda: False
    #: Content safety. The default has no backend: tasks that ask for a check fail with
    #: ``inferenceError`` instead of passing unchecked.
    safety: ContentGuard = field(default_factory=lambda: ContentGuard(None))


def progress_percent(step: int, total: int) -> int:
    """A result's progress, 0..99, after ``step`` of the ``total`` units of work its engine
    reports through ``on_step`` (the preview engine: frames; the neural engines: denoising
    steps, then decoded chunks). Never 100: the frames are encoded as they come, and the
    encoder's last frames and the file are written after the engine's last step. 100 is
    the result written (getResponse's ``success``; the end of ``cinefuse generate``'s bar)."""
    return min(99, step * 100 // max(total, 1))


class StopReason(enum.Enum):
    CANCELLED = "cancelled"
    LEASE_LOST = "lease lost"
    SHUTDOWN = "shutdown"


class _Stop(GenerationInterrupted):
    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class _Heartbeat:
    """Keeps a job's lease and watches it, as the ``on_step`` callback handed to engines.

    A keep-alive thread renews the lease (and writes progress) every ``interval`` seconds
    for as long as the job may run, so long stages that are not steps (loading weights,
    encoding text, decoding) never lose the job to the sweeper. Each ``on_step`` call
    records progress and, at most every ``CHECK_INTERVAL``, reads the lease: a cancel or a
    lost lease stops the engine at the next step (raising from inside its loop), as do
    the worker shutting down and the job running past ``job_timeout``.
    """

    def __init__(self, ctx: RunnerContext, claim: Claim) -> None:
        self.ctx, self.claim = ctx, claim
        self.idx = 0
        self.progress: int | None = None
        self.step = self.total = 0
        self.interval = ctx.renew_every or min(PROGRESS_INTERVAL, ctx.lease_seconds / 3)
        self.started = time.monotonic()
        self.state = LeaseState.HELD
        #: The engine running the job, once chosen (metrics; ``after_job``).
        self.engine: Engine | None = None
        self._last_check = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep_alive, name=f"lease-{claim.job_id[:8]}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _keep_alive(self) -> None:
        while not self._stop.wait(self.interval):
            if time.monotonic() - self.started > self.ctx.job_timeout:
                return  # a stuck engine: let the lease expire, the sweeper decides
            try:
                self.state = self._renew()
            except Exception:  # the store is unreachable for a moment: try again next round
                log.exception("job %s: lease renewal failed", self.claim.job_id)

    def _renew(self) -> LeaseState:
        progress, idx = self.progress, self.idx
        return self.ctx.store.leases.heartbeat(
            self.claim, self.ctx.lease_seconds, None if progress is None else {idx: progress}
        )

    def beat(self) -> None:
        """Renew the lease now; raises when the job is no longer ours to finish."""
        self.state = self._renew()
        self._raise_for(self.state)

    def next_result(self, idx: int) -> None:
        self.idx, self.progress = idx, None

    @staticmethod
    def _raise_for(state: LeaseState) -> None:
        if state is LeaseState.LOST:
            raise _Stop(StopReason.LEASE_LOST)
        if state is LeaseState.CANCEL_REQUESTED:
            raise _Stop(StopReason.CANCELLED)

    def __call__(self, step: int, total: int) -> None:
        if self.ctx.stopping():
            raise _Stop(StopReason.SHUTDOWN)
        now = time.monotonic()
        if now - self.started > self.ctx.job_timeout:
            raise TimeoutProvider(f"The task ran longer than the server's limit of {self.ctx.job_timeout:g} s.")
        self.step, self.total = step, total
        self.progress = progress_percent(step, total)
        if now - self._last_check >= CHECK_INTERVAL:
            self._last_check = now
            self.state = self.ctx.store.leases.check(self.claim)
        self._raise_for(self.state)


def cost_of(task: VideoInferenceTask, prices: dict[str, float]) -> float:
    """Price per second at the resolution x duration x the model's price scale, per result
    (docs/api.md, "Cost")."""
    return round(prices[task.resolution] * task.duration * require_model(task.model).price_scale, 6)


def _finish(ctx: RunnerContext, claim: Claim, result: NewResult, outcome: ResultOutcome) -> bool:
    deliveries = deliveries_for(claim.task, result.video_uuid, succeeded=isinstance(outcome, ResultSuccess))
    finished = ctx.store.leases.finish_result(claim, result.idx, outcome, deliveries)
    if finished and isinstance(outcome, ResultFailure):
        count_failure(outcome.code)
    return finished


def _fail_pending(ctx: RunnerContext, claim: Claim, pending: list[NewResult], failure: ResultFailure) -> None:
    for result in pending:
        if not _finish(ctx, claim, result, failure):
            return


def work_dir_prefix() -> str:
    """Temporary folders of this process start with its pid (``clean_stale_work_dirs``)."""
    return f"{os.getpid()}-"


def clean_stale_work_dirs(work_dir: Path) -> int:
    """Remove temporary folders left by processes that died (killed mid-encode); returns
    how many. A folder's pid prefix tells whether its process still runs on this host."""
    removed = 0
    if not work_dir.is_dir():
        return 0
    for entry in work_dir.iterdir():
        pid_text = entry.name.split("-", 1)[0]
        if not entry.is_dir() or not pid_text.isdigit() or process_alive(int(pid_text)):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    return removed


def _render(
    ctx: RunnerContext,
    task: VideoInferenceTask,
    images: TaskImages,
    result: NewResult,
    engine: Engine,
    heartbeat: _Heartbeat,
) -> ResultOutcome:
    """Generate, check, encode and store one result; a flagged one is that result's failure."""
    request = generation_request(task, images, result.seed, ctx.sound)
    media_key = f"videos/{result.video_uuid}.{extension(task.output_format)}"
    frames = engine.generate(request, heartbeat)
    if task.safety_mode != "none":
        # Checks the frames as they stream; a flag raises ContentFlagged out of the
        # encoder, which deletes its partial file: nothing reaches the store.
        frames = ctx.safety.inspector(task.safety_mode, task.num_frames, task.safety_tolerance).wrap(frames)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix=work_dir_prefix()) as tmp:
            encoded = encode_frames(
                frames,
                Path(tmp) / Path(media_key).name,
                fmt=task.output_format,
                width=request.width,
                height=request.height,
                fps=task.fps,
                quality=task.output_quality,
                x264_preset=ctx.x264_preset,
                soundtrack=request.soundtrack,
            )
            heartbeat.beat()  # still ours? (checked again, atomically, by finish_result)
            ctx.media.put_file(media_key, encoded.path, encoded.content_type)
    except ContentFlagged as flagged:
        # This result only: the others of the task are generated and checked on their own.
        log.info("job %s: result %d flagged by the content safety check", heartbeat.claim.job_id, result.idx)
        return ResultFailure.of(flagged)
    return ResultSuccess(
        media_key=media_key,
        content_type=encoded.content_type,
        size_bytes=encoded.size_bytes,
        expires_at=time.time() + (task.ttl or ctx.default_ttl),
        cost=cost_of(task, ctx.prices) if task.include_cost else None,
        # The inspector consumed the whole stream unflagged.
        nsfw=False if task.safety_mode != "none" else None,
    )


def run_job(ctx: RunnerContext, job_id: str) -> JobStatus | None:
    """Run one job if it can be claimed. Returns the final job status, or None when the
    job was not ours to run (already claimed or finished) or we lost it midway."""
    claim = ctx.store.leases.claim(job_id, ctx.owner, ctx.lease_seconds)
    if claim is None:
        return None
    with _Heartbeat(ctx, claim) as heartbeat:
        status = _run_claimed(ctx, claim, heartbeat)
    engine = heartbeat.engine
    if engine is not None:
        # Out of _run_claimed, so whatever the job raised is gone with its traceback.
        try:
            engine.after_job()
        except Exception:  # releasing memory must never fail a worker
            log.exception("job %s: the engine's after_job failed", job_id)
    # "interrupted": the lease was lost, or given back on shutdown.
    name = engine.name if engine is not None else "none"
    observe_job(name, claim.task.resolution, status or "interrupted", time.monotonic() - heartbeat.started)
    return status


def _run_claimed(ctx: RunnerContext, claim: Claim, heartbeat: _Heartbeat) -> JobStatus | None:
    task, job_id = claim.task, claim.job_id
    pending = list(claim.pending)
    if ctx.store.keys.revoked(claim.key_id):
        # Accepted by a server that had not yet read the revocation (up to one sweep): the
        # key's work is cancelled, not run (docs/api.md, "Revoked keys").
        _fail_pending(ctx, claim, pending, ResultFailure.of(TaskCancelled(KEY_REVOKED)))
        ctx.store.leases.complete(claim, "cancelled")
        return "cancelled"
    try:
        images = ctx.inputs.load_task_images(claim.key_id, task)
        # Prompt and input images, before any frame is generated: ContentFlagged or
        # SafetyUnavailable (both TaskFailure) fail every pending result below.
        ctx.safety.check_request(
            mode=task.safety_mode,
            check_inputs=task.safety_check_inputs,
            tolerance=task.safety_tolerance,
            prompt=task.positive_prompt,
            images=images.by_parameter,
        )
        engine = heartbeat.engine = ctx.engine_for(task.model)
        for result in list(pending):
            heartbeat.next_result(result.idx)
            outcome = _render(ctx, task, images, result, engine, heartbeat)
            if not _finish(ctx, claim, result, outcome):
                log.warning("job %s: lease lost before result %d was published", job_id, result.idx)
                return None
            pending.remove(result)
        ctx.store.leases.complete(claim, "success")
        return "success"
    except _Stop as stop:
        log.info(
            "job %s: stopped (%s) at step %d of %d of result %d",
            job_id,
            stop.reason.value,
            heartbeat.step,
            heartbeat.total,
            heartbeat.idx,
        )
        if stop.reason is StopReason.CANCELLED:
            # Through _finish, so each cancelled result also gets its webhook call.
            _fail_pending(ctx, claim, pending, ResultFailure.of(TaskCancelled(CANCELLED_MESSAGE)))
            ctx.store.leases.complete(claim, "cancelled")
            return "cancelled"
        if stop.reason is StopReason.SHUTDOWN:
            ctx.store.leases.release(claim)
        return None
    except TaskFailure as failure:
        return _fail(ctx, claim, pending, failure)
    except Exception as exc:  # an engine/encoder bug must fail the task, not kill the worker
        log.exception("job %s failed", job_id)
        return _fail(ctx, claim, pending, InferenceError(f"Inference failed: {type(exc).__name__}: {exc}"))


def _fail(ctx: RunnerContext, claim: Claim, pending: list[NewResult], error: TaskFailure) -> JobStatus:
    failure = ResultFailure.of(error)
    _fail_pending(ctx, claim, pending, failure)
    ctx.store.leases.complete(claim, "error", failure)
    return "error"
