"""``run_job``: the one function that executes a job, in every profile.

Steps (ARCHITECTURE.md): claim -> resolve inputs -> generate (streamed) -> encode ->
store -> finish each result under the fence (with its outbox rows) -> complete.
Any write after the lease was lost is refused by the store, so a zombie worker
never publishes a second result; a crash at any point leaves the job ``running``
with an expiring lease, which the sweeper turns back into ``queued``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cinefuse.errors import ContentFlagged, TaskFailure
from cinefuse.generation.base import Engine, GenerationInterrupted, GenerationRequest
from cinefuse.jobs.models import Claim, NewDelivery
from cinefuse.jobs.repository import JobRepository
from cinefuse.media.inputs import ImageInputs
from cinefuse.media.video import encode_frames, extension
from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.registry import get_model
from cinefuse.safety.guard import ContentGuard
from cinefuse.schemas.tasks import VideoInferenceTask, task_from_record
from cinefuse.storage.base import MediaStore

log = logging.getLogger(__name__)

#: Progress is written at most this often (seconds); heartbeats also at lease/3.
PROGRESS_INTERVAL = 1.0


@dataclass
class RunnerContext:
    """What ``run_job`` needs; built once per worker process (or thread pool)."""

    repo: JobRepository
    store: MediaStore
    images: ImageInputs
    engine_for: Callable[[str], Engine]  # model id -> loaded engine
    prices: dict[str, float]
    work_dir: Path
    lease_seconds: float = 30.0
    default_ttl: int = 86_400
    x264_preset: str = "veryfast"
    owner: str = field(default_factory=lambda: f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    #: Set by the pool on shutdown: running jobs give their lease back.
    stopping: Callable[[], bool] = lambda: False
    #: Content safety (API.md 3.2 ``safety``). The default has no backend: tasks that ask
    #: for a check fail with ``inferenceError`` instead of passing unchecked.
    safety: ContentGuard = field(default_factory=lambda: ContentGuard(None))


class _Interrupt(GenerationInterrupted):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "cancel" | "lost" | "shutdown"


class _Heartbeat:
    """The ``on_step`` callback handed to engines: renews the lease, records progress,
    and raises ``_Interrupt`` when the job was cancelled or the lease lost."""

    def __init__(self, ctx: RunnerContext, claim: Claim) -> None:
        self.ctx, self.claim = ctx, claim
        self.idx = 0
        self.interval = min(PROGRESS_INTERVAL, ctx.lease_seconds / 3)
        self.last = time.monotonic()

    def beat(self, progress: int | None = None) -> None:
        state = self.ctx.repo.heartbeat(
            self.claim, self.ctx.lease_seconds, None if progress is None else {self.idx: progress}
        )
        self.last = time.monotonic()
        if state != "ok":
            raise _Interrupt(state)

    def __call__(self, step: int, total: int) -> None:
        if self.ctx.stopping():
            raise _Interrupt("shutdown")
        if time.monotonic() - self.last >= self.interval:
            self.beat(min(99, step * 100 // max(total, 1)))


def cost_of(task: VideoInferenceTask, prices: dict[str, float]) -> float:
    """API.md 5: price per second at the resolution x duration, per result."""
    return round(prices[task.resolution] * task.duration, 6)


def _resolve_inputs(
    ctx: RunnerContext, claim: Claim, task: VideoInferenceTask, caps: ModelCapabilities
) -> tuple[VideoInferenceTask, dict[str, Any], dict[str, npt.NDArray[np.uint8]]]:
    """The task with its output size settled, the engine's images, and every input image
    by its parameter path (for the safety check)."""
    images: dict[str, Any] = {"first": None, "last": None, "refs": ()}
    named: dict[str, npt.NDArray[np.uint8]] = {}
    loaded: list[npt.NDArray[np.uint8]] = []
    for frame in task.frame_images:
        pixels = ctx.images.load(claim.key_id, frame.image.value, frame.image.parameter)
        images[frame.position] = named[frame.image.parameter] = pixels
        loaded.append(pixels)
    for ref in task.reference_images:
        named[ref.parameter] = ctx.images.load(claim.key_id, ref.value, ref.parameter)
    images["refs"] = tuple(named[ref.parameter] for ref in task.reference_images)
    if task.width is None or task.height is None:
        height, width = loaded[0].shape[:2]
        w, h = caps.size_for_image(task.resolution, width, height)
        task = replace(task, width=w, height=h)
    return task, images, named


def _deliveries(task: VideoInferenceTask, is_error: bool, video_uuid: str) -> list[NewDelivery]:
    """Outbox rows for a finished result. With an upload, the webhook waits for it: the
    upload's outcome (success, or ``uploadFailed``) is what the webhook must report."""
    upload = bool(task.upload_endpoint) and not is_error
    out: list[NewDelivery] = []
    if upload:
        out.append(NewDelivery("upload", task.upload_endpoint or "", f"upl_{video_uuid}"))
    if task.webhook_url:
        out.append(NewDelivery("webhook", task.webhook_url, f"msg_{video_uuid}", blocked=upload))
    return out


def _finish(ctx: RunnerContext, claim: Claim, task: VideoInferenceTask, idx: int, values: dict[str, Any]) -> bool:
    is_error = values["status"] == "error"
    return ctx.repo.finish_result(
        claim, idx, values=values, deliveries=_deliveries(task, is_error, claim.video_uuids[idx])
    )


def _fail_all(
    ctx: RunnerContext, claim: Claim, task: VideoInferenceTask, pending: list[int], code: str, msg: str
) -> None:
    for idx in pending:
        if not _finish(ctx, claim, task, idx, {"status": "error", "error_code": code, "error_message": msg}):
            return


def run_job(ctx: RunnerContext, job_id: str) -> str | None:
    """Run one job if it can be claimed. Returns the final job status, or None when the
    job was not ours to run (already claimed or finished) or we lost it midway."""
    claim = ctx.repo.claim(job_id, ctx.owner, ctx.lease_seconds)
    if claim is None:
        return None
    task = task_from_record(claim.request)
    caps = get_model(task.model)
    assert caps is not None, f"stored job {job_id} names unknown model {task.model}"
    heartbeat = _Heartbeat(ctx, claim)
    pending = list(claim.pending)
    try:
        task, images, named_images = _resolve_inputs(ctx, claim, task, caps)
        assert task.width is not None and task.height is not None
        # Prompt and input images, before any frame is generated: ContentFlagged or
        # SafetyUnavailable (both TaskFailure) fail every pending result below.
        ctx.safety.check_request(
            mode=task.safety_mode,
            check_inputs=task.safety_check_inputs,
            tolerance=task.safety_tolerance,
            prompt=task.positive_prompt,
            images=named_images,
        )
        engine = ctx.engine_for(task.model)
        motion = task.effective_motion_mode(caps)
        for idx in list(pending):
            heartbeat.idx = idx
            request = GenerationRequest(
                prompt=task.positive_prompt,
                negative_prompt=task.negative_prompt,
                width=task.width,
                height=task.height,
                fps=task.fps,
                num_frames=task.num_frames,
                seed=claim.seeds[idx],
                camera_movement=task.camera_movement,
                effect=task.effect,
                style=task.style,
                motion_mode="fast" if motion == "fast" else "normal",
                first_frame=images["first"],
                last_frame=images["last"],
                reference_images=images["refs"],
            )
            media_key = f"videos/{claim.video_uuids[idx]}.{extension(task.output_format)}"
            frames = engine.generate(request, heartbeat)
            if task.safety_mode != "none":
                # Checks the frames as they stream; a flag raises ContentFlagged out of the
                # encoder, which deletes its partial file: nothing reaches the store.
                frames = ctx.safety.inspector(task.safety_mode, task.num_frames, task.safety_tolerance).wrap(frames)
            ctx.work_dir.mkdir(parents=True, exist_ok=True)
            try:
                with tempfile.TemporaryDirectory(dir=ctx.work_dir) as tmp:
                    encoded = encode_frames(
                        frames,
                        Path(tmp) / Path(media_key).name,
                        fmt=task.output_format,
                        width=task.width,
                        height=task.height,
                        fps=task.fps,
                        quality=task.output_quality,
                        x264_preset=ctx.x264_preset,
                    )
                    heartbeat.beat()  # still ours? (checked again, atomically, by finish_result)
                    ctx.store.put_file(media_key, encoded.path, encoded.content_type)
            except ContentFlagged as flagged:
                # This result only: the others of the task are generated and checked on their own.
                log.info("job %s: result %d flagged by the content safety check", job_id, idx)
                error = {"status": "error", "error_code": flagged.code, "error_message": flagged.message}
                if not _finish(ctx, claim, task, idx, error):
                    return None
                pending.remove(idx)
                continue
            values: dict[str, Any] = {
                "status": "success",
                "progress": 100,
                "media_key": media_key,
                "content_type": encoded.content_type,
                "size_bytes": encoded.size_bytes,
                "expires_at": time.time() + (task.ttl or ctx.default_ttl),
            }
            if task.include_cost:
                values["cost"] = cost_of(task, ctx.prices)
            if task.safety_mode != "none":
                values["nsfw"] = False  # the inspector consumed the whole stream unflagged
            if not _finish(ctx, claim, task, idx, values):
                log.warning("job %s: lease lost before result %d was published", job_id, idx)
                return None
            pending.remove(idx)
        ctx.repo.complete(claim, "success")
        return "success"
    except _Interrupt as stop:
        if stop.reason == "cancel":
            # Through _finish, so each cancelled result also gets its webhook call.
            _fail_all(ctx, claim, task, pending, "taskCancelled", "Task cancelled by the client.")
            ctx.repo.complete(claim, "cancelled")
            return "cancelled"
        if stop.reason == "shutdown":
            ctx.repo.release(claim)
        return None
    except TaskFailure as failure:
        _fail_all(ctx, claim, task, pending, failure.code, failure.message)
        ctx.repo.complete(claim, "error", (failure.code, failure.message))
        return "error"
    except Exception as exc:  # an engine/encoder bug must fail the task, not kill the worker
        log.exception("job %s failed", job_id)
        message = f"Inference failed: {type(exc).__name__}: {exc}"
        _fail_all(ctx, claim, task, pending, "inferenceError", message)
        ctx.repo.complete(claim, "error", ("inferenceError", message))
        return "error"
