"""What every neural engine needs at run time: the device and precision, the bridge from
diffusers' step callback to the engine seam, and out-of-memory errors as a job's failure.
(Loading and placing pipelines: ``pipelines.py``; speed options: ``speed.py``.)"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from typing import Any

import torch

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationInterrupted, StepCallback
from cinefuse.generation.neural.parallel import current_group
from cinefuse.settings import Settings

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def resolve_device(settings: Settings) -> torch.device:
    """The device this process renders on: its rank's GPU in a context-parallel group,
    else ``settings.device`` (``auto``: CUDA when a GPU is visible, else the CPU)."""
    group = current_group()
    if group is not None:
        return group.device
    if settings.device != "auto":
        return torch.device(settings.device)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def resolve_dtype(settings: Settings, device: torch.device) -> torch.dtype:
    if settings.precision != "auto":
        return _DTYPES[settings.precision]
    return torch.bfloat16 if device.type == "cuda" else torch.float32


class StepBridge:
    """diffusers' ``callback_on_step_end`` -> the engine's ``on_step`` seam.

    A stop raised by ``on_step`` (a cancel, a lost lease, a time limit) is kept and the
    pipeline's interrupt flag set, so it skips its remaining steps; ``raise_if_stopped``
    re-raises it after the pipeline returns, before any decoding starts. In a
    context-parallel group, ``agree`` makes every rank stop at the same step. ``offset``:
    the steps of the clip's earlier pipeline calls (a two-stage recipe), so progress only
    moves forward.
    """

    def __init__(
        self,
        on_step: StepCallback,
        total: int,
        observe: Callable[[Any], None] | None = None,
        agree: Callable[[bool], bool] | None = None,
        offset: int = 0,
    ) -> None:
        self.on_step = on_step
        self.total = total
        self.offset = offset
        self.observe = observe
        self.agree = agree
        self.steps = 0
        self.stop: BaseException | None = None

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        self.steps = self.offset + step + 1
        if self.observe is not None:
            self.observe(pipe)
        if self.stop is None:
            try:
                self.on_step(self.steps, self.total)
            except Exception as stop:  # GenerationInterrupted, or a TaskFailure such as the time limit
                self.stop = stop
            if self.agree is not None and self.agree(self.stop is not None) and self.stop is None:
                self.stop = GenerationInterrupted("another rank of the context-parallel group stopped")
            if self.stop is not None:
                pipe._interrupt = True
        return {}

    def raise_if_stopped(self) -> None:
        if self.stop is not None:
            raise self.stop


@contextlib.contextmanager
def gpu_errors(what: str) -> Iterator[None]:
    """Turn running out of GPU memory into this job's ``inferenceError`` (the worker lives
    on) rather than a crash. The memory is given back after the job (``release_memory``,
    from the engine's ``after_job``): here the error's traceback still holds the tensors of
    the frames that failed, so emptying the cache now would free nothing."""
    try:
        yield
    except torch.OutOfMemoryError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "out of memory"
        raise InferenceError(
            f"Out of GPU memory while {what}: lower the resolution or duration, or set CINEFUSE_OFFLOAD. ({message})"
        ) from None


def release_memory() -> None:
    """After a job, once its exceptions are gone: collect what a failure left (reference
    cycles through tracebacks) and give the cached GPU memory back."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
