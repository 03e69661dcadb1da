"""Workers as spawned processes: which processes a server starts, and that they run jobs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest

from cinefuse.generation.registry import EngineUnavailable
from cinefuse.settings import Settings
from cinefuse.worker_processes import gpu_groups, process_devices, visible_gpus
from tests.integration.client import submit, wait_done
from tests.integration.conftest import LiveServer, start_live_server


@pytest.mark.parametrize(
    ("listed", "gpus"),
    [("0,1", ["0", "1"]), ("", []), ("-1", []), (" 2 , 3 ", ["2", "3"]), ("GPU-3f0c", ["GPU-3f0c"])],
)
def test_visible_gpus_follow_cuda_visible_devices(
    monkeypatch: pytest.MonkeyPatch, listed: str, gpus: list[str]
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", listed)
    assert visible_gpus() == gpus


def test_one_process_per_gpu_for_a_gpu_engine_and_threads_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    assert process_devices(Settings(), gpu_engine=True) == ["0", "1", "2"]
    assert process_devices(Settings(), gpu_engine=False) is None  # the CPU preview engine: threads
    assert process_devices(Settings(worker_processes=2), gpu_engine=False) == [None, None]
    assert process_devices(Settings(worker_processes=4), gpu_engine=True) == ["0", "1", "2", "0"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert process_devices(Settings(), gpu_engine=True) is None  # no GPU: threads, on the CPU


def test_context_parallelism_groups_the_gpus_one_process_per_group(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gpu_groups(["0", "1", "2", "3"], 2) == ["0,1", "2,3"]
    assert gpu_groups(["0", "1", "2", "3", "4"], 2) == ["0,1", "2,3"]  # GPU 4 stays idle
    assert gpu_groups(["0", "1", "2", "3"], 4) == ["0,1,2,3"]
    with pytest.raises(EngineUnavailable, match="CONTEXT_PARALLEL=4 needs 4 GPUs per clip; this host shows 2"):
        gpu_groups(["0", "1"], 4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    assert process_devices(Settings(context_parallel=2), gpu_engine=True) == ["0,1", "2,3"]
    assert process_devices(Settings(context_parallel=2), gpu_engine=True, gpus=["4", "5"]) == ["4,5"]
    assert process_devices(Settings(context_parallel=2, worker_processes=3), gpu_engine=True) == ["0,1", "2,3", "0,1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert process_devices(Settings(context_parallel=2), gpu_engine=True) == [None]  # a CPU group: processes


def started_processes(server: LiveServer) -> list[tuple[str, int]]:
    return [(index, int(pid)) for index, pid in re.findall(r"worker process (\d) \(pid (\d+)\)", server.log_tail(400))]


def test_a_server_with_worker_processes_runs_its_jobs_in_them(tmp_path: Path) -> None:
    """...restarts one that dies, and stops at once on a SIGTERM to its process group."""
    server = start_live_server(tmp_path, {"CINEFUSE_WORKER_PROCESSES": "2"})
    try:
        assert server.proc is not None
        uuids = [submit(server.base_url, server.api_key, seed=i) for i in range(3)]
        for task_uuid in uuids:
            body = wait_done(server.base_url, server.api_key, task_uuid, timeout=120)
            assert [item["status"] for item in body["data"]] == ["success"]
        children = subprocess.run(
            ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(server.proc.pid)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        workers = [line for line in children.splitlines() if "spawn_main" in line]
        assert len(workers) == 2, children
        started = started_processes(server)
        assert sorted(index for index, _ in started) == ["0", "1"]

        os.kill(started[0][1], signal.SIGKILL)  # a crashed worker process is started again
        deadline = time.monotonic() + 60
        while len(started_processes(server)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started_processes(server)[2] == (started[0][0], mock.ANY), server.log_tail(40)
        body = wait_done(server.base_url, server.api_key, submit(server.base_url, server.api_key), timeout=120)
        assert [item["status"] for item in body["data"]] == ["success"]

        began = time.monotonic()  # what a service manager does: SIGTERM to the whole group
        os.killpg(server.proc.pid, signal.SIGTERM)
        server.proc.wait(timeout=15)
        # uvicorn shuts down, then re-raises the signal it caught: -15 after a clean stop
        assert time.monotonic() - began < 10 and server.proc.returncode in (0, -signal.SIGTERM)
        assert len(started_processes(server)) == 3  # stopped children were not restarted
    finally:
        server.stop()


def test_a_gpu_worker_process_gets_its_gpu_and_an_allocator_that_does_not_fragment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review's finding 12: each job allocates its own shapes; expandable segments keep
    a long-running GPU process from fragmenting. An operator's own setting wins."""
    from cinefuse.worker_processes import CUDA_ALLOC_CONF, set_device

    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    set_device("3")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == CUDA_ALLOC_CONF == "expandable_segments:True"
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:512")
    set_device("1")
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:512"
