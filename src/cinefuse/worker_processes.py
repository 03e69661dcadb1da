"""Workers as spawned processes: one per GPU for the neural engines.

A GPU worker process owns one device (``CUDA_VISIBLE_DEVICES`` set before anything imports
torch), loads its pipelines once and keeps them across jobs. Processes are *spawned*, never
forked: CUDA cannot survive a fork, and the parent never touches CUDA. Each process runs the
same ``run_job`` loop on the same job store as an embedded worker thread (claims decide who
runs what), so this is only a different dispatcher (``jobs.dispatch.Dispatcher``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.context import SpawnProcess
from typing import Any

from cinefuse.generation.registry import EngineUnavailable
from cinefuse.settings import Settings

log = logging.getLogger(__name__)

#: Seconds a worker process gets to give its job back on shutdown.
STOP_TIMEOUT = 30.0
#: Exit codes of a worker process that was asked to stop (it handled the signal, or died of
#: it before it could): not restarted.
STOPPED = (0, -signal.SIGTERM, -signal.SIGINT)
#: The longest wait before restarting a worker process that keeps dying young.
MAX_RESTART_DELAY = 30.0


def visible_gpus() -> list[str]:
    """The GPUs this host shows the server, without initialising CUDA: the entries of
    ``CUDA_VISIBLE_DEVICES`` when it is set, else what ``nvidia-smi -L`` lists."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [entry.strip() for entry in listed.split(",") if entry.strip() and entry.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def gpu_groups(gpus: Sequence[str], per_clip: int) -> list[str]:
    """``gpus`` in groups of ``per_clip`` (``CINEFUSE_CONTEXT_PARALLEL``), each written as a
    ``CUDA_VISIBLE_DEVICES`` value; GPUs left over past the last whole group stay idle.
    Raises ``EngineUnavailable`` when GPUs are visible but fewer than one group."""
    if per_clip == 1:
        return list(gpus)
    if gpus and len(gpus) < per_clip:
        raise EngineUnavailable(
            f"CINEFUSE_CONTEXT_PARALLEL={per_clip} needs {per_clip} GPUs per clip; this host shows {len(gpus)}"
        )
    if len(gpus) % per_clip:
        log.warning("%d GPUs in groups of %d: GPUs %s stay idle", len(gpus), per_clip, gpus[-(len(gpus) % per_clip) :])
    return [",".join(gpus[i : i + per_clip]) for i in range(0, len(gpus) - per_clip + 1, per_clip)]


def process_devices(settings: Settings, gpu_engine: bool, gpus: Sequence[str] | None = None) -> list[str | None] | None:
    """One entry per worker process: a GPU id, a group of GPU ids for context parallelism
    (``"0,1"``), or None for a CPU process; None when this server's workers are threads.
    ``gpus``: the GPUs to use (``cinefuse worker --gpus``), else the visible ones."""
    if gpus is None:
        gpus = visible_gpus() if gpu_engine else []
    groups = gpu_groups(gpus, settings.context_parallel)
    if settings.worker_processes is not None:
        return [groups[i % len(groups)] if groups else None for i in range(settings.worker_processes)]
    if groups:
        return list(groups)
    if settings.context_parallel > 1:  # a CPU group: its ranks are processes, never threads
        return [None]
    return None


#: A worker process's body: (settings values, device). It runs until a SIGTERM or SIGINT
#: (``wait_for_stop``). Importable by name in the spawned child (``services.run_worker_process``).
WorkerMain = Callable[[dict[str, Any], "str | None"], None]


def wait_for_stop() -> None:
    """In a worker process: return on SIGTERM or SIGINT, or when the parent is gone.

    Signals, not a shared ``multiprocessing.Event``: a server stopped with a signal to its
    process group kills its children while they wait on the event, which leaves the event's
    internal counters broken and a later ``set()`` in the parent blocked for good."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(1.0):
        if os.getppid() != parent:
            return


#: The CUDA caching allocator's setting for GPU worker processes, unless the environment sets
#: one: every job has its own shapes (sizes, durations), and fixed-size segments fragment
#: over a day of them until a job that fits the budget fails to allocate.
CUDA_ALLOC_CONF = "expandable_segments:True"


def set_device(device: str | None) -> None:
    """Give this (freshly spawned) process its GPU, before anything imports torch."""
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = device
        os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", CUDA_ALLOC_CONF)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")


class SupervisedProcesses:
    """Spawned processes, one per entry of ``devices``, each running
    ``target(*args_for(index))`` and restarted when it dies other than by being asked to stop
    (after 1 s, doubling up to ``MAX_RESTART_DELAY`` while it keeps dying young). An exit
    code in ``final`` is logged with its reason and never restarted. ``stop`` sends SIGTERM
    and gives the processes ``STOP_TIMEOUT`` to give their jobs back."""

    def __init__(
        self,
        label: str,
        devices: Sequence[str | None],
        target: Callable[..., None],
        args_for: Callable[[int], tuple[Any, ...]],
        *,
        daemon: bool = True,
        final: dict[int, str] | None = None,
    ) -> None:
        self.label = label
        self.devices = list(devices)
        self.target = target
        self.args_for = args_for
        self.daemon = daemon
        self.final = final or {}
        self._context = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._processes: list[SpawnProcess | None] = []
        self._supervisor: threading.Thread | None = None

    def _spawn(self, index: int) -> SpawnProcess:
        device = self.devices[index]
        process = self._context.Process(
            target=self.target,
            args=self.args_for(index),
            name=f"cinefuse-{self.label.split()[0]}-{index}",
            daemon=self.daemon,
        )
        process.start()
        log.info("%s %d (pid %s) on %s", self.label, index, process.pid, f"GPU {device}" if device else "CPU")
        return process

    def start(self) -> None:
        self._processes = [self._spawn(index) for index in range(len(self.devices))]
        self._supervisor = threading.Thread(target=self._supervise, name=f"cinefuse-{self.label}es", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        started = [time.monotonic()] * len(self._processes)
        delay = [1.0] * len(self._processes)
        while not self._stop.wait(0.5):
            for index, process in enumerate(self._processes):
                if process is None or process.is_alive() or process.exitcode in STOPPED:
                    continue
                code = process.exitcode
                if code in self.final:
                    log.error("%s %d %s: not restarted", self.label, index, self.final[code])
                    self._processes[index] = None
                    continue
                lived = time.monotonic() - started[index]
                delay[index] = 1.0 if lived > 60 else min(delay[index] * 2, MAX_RESTART_DELAY)
                log.warning("%s %d exited with %s after %.0f s: restarting", self.label, index, code, lived)
                if self._stop.wait(delay[index]):
                    return
                started[index] = time.monotonic()
                self._processes[index] = self._spawn(index)

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        alive = [p for p in self._processes if p is not None and p.is_alive()]
        for process in alive:
            process.terminate()  # SIGTERM: it gives its job back and exits
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in alive:
            process.join(timeout=max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p is not None and p.pid is not None]


class ProcessWorkerPool(SupervisedProcesses):
    """A ``Dispatcher`` whose workers are spawned processes, one per entry of ``devices``,
    each running ``main`` (``SupervisedProcesses``). ``dispatch`` only hints: the processes
    poll the job store."""

    def __init__(self, settings: Settings, devices: list[str | None], main: WorkerMain) -> None:
        values = settings.model_dump()
        super().__init__(
            "worker process",
            devices,
            main,
            lambda index: (values, devices[index]),
            # A context-parallel leader starts its followers: daemons may have no children.
            daemon=settings.context_parallel == 1,
        )

    def dispatch(self, job_id: str) -> None:
        pass
