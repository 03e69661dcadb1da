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
import subprocess
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

from cinefuse.settings import Settings

log = logging.getLogger(__name__)

#: Seconds a worker process gets to give its job back on shutdown.
STOP_TIMEOUT = 30.0


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


def process_devices(settings: Settings, gpu_engine: bool) -> list[str | None] | None:
    """One entry per worker process (a GPU id, or None for a CPU process), or None when
    this server's workers are threads."""
    if settings.worker_processes is not None:
        gpus = visible_gpus() if gpu_engine else []
        return [gpus[i % len(gpus)] if gpus else None for i in range(settings.worker_processes)]
    if not gpu_engine:
        return None
    return list(visible_gpus()) or None


#: A worker process's body: (settings values, device, stop event). Importable by name in the
#: spawned child (``services.run_worker_process``).
WorkerMain = Callable[[dict[str, Any], "str | None", Event], None]


def set_device(device: str | None) -> None:
    """Give this (freshly spawned) process its GPU, before anything imports torch."""
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = device
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")


class ProcessWorkerPool:
    """A ``Dispatcher`` whose workers are spawned processes, one per entry of ``devices``,
    each running ``main``. ``dispatch`` only hints: the processes poll the job store."""

    def __init__(self, settings: Settings, devices: list[str | None], main: WorkerMain) -> None:
        self.settings = settings
        self.devices = devices
        self.main = main
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._processes: list[SpawnProcess] = []

    def dispatch(self, job_id: str) -> None:
        pass

    def start(self) -> None:
        values = self.settings.model_dump()
        for index, device in enumerate(self.devices):
            process = self._context.Process(
                target=self.main, args=(values, device, self._stop), name=f"cinefuse-worker-{index}", daemon=True
            )
            process.start()
            log.info("worker process %d (pid %s) on %s", index, process.pid, f"GPU {device}" if device else "CPU")
            self._processes.append(process)

    def stop(self) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(timeout=STOP_TIMEOUT)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]
