"""Crash safety: a worker SIGKILLed mid-job, and a server killed with queued jobs.

Each job must complete after recovery with every result published exactly once: one
success item per result, one file per result on disk, and the videoUUIDs issued at
submission unchanged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.client import poll, submit, wait_done
from tests.integration.conftest import LiveServer, cinefuse_executable, start_live_server

pytestmark = pytest.mark.slow

LEASE = "2"


def start_worker(server: LiveServer, log: Path) -> subprocess.Popen[bytes]:
    env = server.env() | {"CINEFUSE_LEASE_SECONDS": LEASE, "CINEFUSE_SWEEP_INTERVAL": "0.5"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(cinefuse_executable()), "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def video_files(server: LiveServer) -> list[Path]:
    return sorted((server.data_dir / "media" / "videos").glob("*"))


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def test_worker_sigkilled_mid_job_completes_once(tmp_path: Path) -> None:
    server = start_live_server(
        tmp_path, {"CINEFUSE_WORKERS": "0", "CINEFUSE_LEASE_SECONDS": LEASE, "CINEFUSE_SWEEP_INTERVAL": "0.5"}
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        # 720p x 8 s: long enough on this machine to be killed in the middle.
        uuids = [
            submit(server.base_url, server.api_key, resolution="720p", duration=8, numberResults=2) for _ in range(2)
        ]
        issued = {u: None for u in uuids}
        workers.append(start_worker(server, tmp_path / "worker1.log"))

        def first_is_running() -> bool:
            items = poll(server.base_url, server.api_key, uuids[0])["data"]
            return any(i["status"] == "processing" and i["progress"] > 0 for i in items)

        wait_until(first_is_running, 120, "the first job never started")
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        assert all(i["status"] == "processing" for i in poll(server.base_url, server.api_key, uuids[0])["data"])
        workers.append(start_worker(server, tmp_path / "worker2.log"))
        for task_uuid in uuids:
            items = wait_done(server.base_url, server.api_key, task_uuid, timeout=300)["data"]
            assert [i["status"] for i in items] == ["success", "success"]
            issued[task_uuid] = [i["videoUUID"] for i in items]  # type: ignore[assignment]
        files = video_files(server)
        expected = sorted(f"{v}.mp4" for vs in issued.values() for v in vs)  # type: ignore[union-attr]
        assert [f.name for f in files] == expected  # exactly one file per result, no strays
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
        server.stop()


def test_server_killed_with_queued_jobs_finishes_them_after_restart(tmp_path: Path) -> None:
    server = start_live_server(tmp_path, {"CINEFUSE_WORKERS": "0"})
    try:
        uuids = [submit(server.base_url, server.api_key) for _ in range(4)]
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGKILL)  # no shutdown hooks: only what is on disk survives
        server.proc.wait()
        server.proc = None
        server.extra_env["CINEFUSE_WORKERS"] = "1"
        server.start()
        for task_uuid in uuids:
            items = wait_done(server.base_url, server.api_key, task_uuid, timeout=180)["data"]
            assert [i["status"] for i in items] == ["success"]
        assert len(video_files(server)) == 4
    finally:
        server.stop()
