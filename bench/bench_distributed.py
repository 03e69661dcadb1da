"""Distributed profile benchmarks (docs/deployment.md): real processes on this machine.

* ``dispatch``: the time from a task's acknowledgement to a worker claiming its job, one
  task at a time on an idle worker (p50, p99): the embedded profile (``cinefuse serve``
  with one worker thread, SQLite) against Celery (an API server and one ``cinefuse worker``
  job process, PostgreSQL + RabbitMQ). Each task is cancelled once claimed.
* ``scaling``: jobs/s of one ``cinefuse worker`` with 1, 2 and 4 job processes
  (``CINEFUSE_WORKER_PROCESSES``) on a fixed short preview job (360x360, 5 s, 16 fps),
  PostgreSQL + RabbitMQ, a batch of tasks submitted at once, timed until the last is done.
* ``api``: acknowledgements/s of one API server (no workers) with ``wrk -t2 -c32`` as in
  bench/bench_api.py, on SQLite, on PostgreSQL, and on PostgreSQL with Celery dispatch.

    python bench/bench_distributed.py [--runs 3] [--only dispatch,scaling,api]

Needs PostgreSQL and RabbitMQ on 127.0.0.1 (``CINEFUSE_TEST_POSTGRES_URL``,
``CINEFUSE_TEST_AMQP_URL`` override them) and Debian's ``wrk``. Prints a table per part
(medians of the runs) and writes ``bench/results/distributed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
import bench_api  # noqa: E402  (bench/ is not a package)

KEY = "bench-key"
POSTGRES = os.environ.get("CINEFUSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AMQP = os.environ.get("CINEFUSE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
EXE = Path(sys.executable).with_name("cinefuse")


# ---------------------------------------------------------------------------- plumbing


def fresh_database(name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def clean_queues() -> None:
    import kombu
    import kombu.pools

    from cinefuse.engine.celery_app import queue_name
    from cinefuse.models.registry import MODELS

    with kombu.Connection(AMQP, connect_timeout=3) as conn:
        for model in MODELS:
            channel = conn.channel()
            with suppress(Exception):
                channel.queue_delete(queue_name(model))
            with suppress(Exception):
                channel.close()
    kombu.pools.reset()


def env_for(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINEFUSE_")}
    env |= {"CINEFUSE_DATA_DIR": str(data_dir), "CINEFUSE_API_KEYS": KEY, "CINEFUSE_ENGINE": "preview"}
    env |= {f"CINEFUSE_{name.upper()}": value for name, value in settings.items()}
    return env


@contextmanager
def processes() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start processes in their own groups; all are stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        proc = subprocess.Popen(
            [str(EXE), *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in started:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_healthy(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def post(port: int, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1",
        data=json.dumps(tasks).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        body: dict[str, Any] = json.loads(reply.read())
        return body


def task(**fields: Any) -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "pixverse:1@3",
        "positivePrompt": "a lighthouse on a cliff at sunset, cinematic",
        "width": 360,
        "height": 360,
        **fields,
    }


class Jobs:
    """Reads job rows straight from the server's database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.engine = None if self.sqlite else create_engine(url)

    def row(self, task_uuid: str) -> tuple[str, float | None] | None:
        sql = "SELECT status, claimed_at FROM jobs WHERE task_uuid = :u"
        if self.sqlite:
            with sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=10) as conn:
                found = conn.execute(sql.replace(":u", "?"), (task_uuid,)).fetchone()
        else:
            from sqlalchemy import text

            assert self.engine is not None
            with self.engine.connect() as conn:
                found = conn.execute(text(sql), {"u": task_uuid}).fetchone()
        return None if found is None else (found[0], found[1])

    def live_workers(self) -> int:
        from sqlalchemy import text

        assert self.engine is not None
        with self.engine.connect() as conn:
            since = time.time() - 3
            return int(
                conn.execute(
                    text("SELECT count(*) FROM workers WHERE role = 'worker' AND last_seen_at > :s"), {"s": since}
                ).scalar_one()
            )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(every)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------- dispatch


def _claimed_at(jobs: Jobs, task_uuid: str) -> float | None:
    row = jobs.row(task_uuid)
    return None if row is None else row[1]


def dispatch_samples(port: int, jobs: Jobs, count: int) -> list[float]:
    """ms from acknowledgement to claim, one task at a time, each cancelled once claimed."""
    samples = []
    for _ in range(count):
        one = task()
        post(port, [one])
        acked = time.time()
        wait_for(lambda u=one["taskUUID"]: _claimed_at(jobs, u) is not None, 30, "job never claimed")
        claimed = _claimed_at(jobs, one["taskUUID"])
        assert claimed is not None
        samples.append((claimed - acked) * 1000)
        post(port, [{"taskType": "cancelTask", "taskUUID": one["taskUUID"]}])
        wait_for(lambda u=one["taskUUID"]: jobs.row(u)[0] not in ("queued", "running"), 30, "not cancelled", 0.01)  # type: ignore[index]
        time.sleep(0.05)  # the worker back to waiting
    return samples


def bench_dispatch(count: int, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with processes() as start:  # embedded: one worker thread in the server, SQLite
        port = bench_api.free_port()
        data = tmp / "embedded"
        start(["serve", "--port", str(port)], env_for(data, workers="1", deliverer="false"), tmp / "embedded.log")
        wait_healthy(port)
        jobs = Jobs(f"sqlite:///{data / 'cinefuse.db'}")
        dispatch_samples(port, jobs, 3)  # warm-up: the engine loads on first use
        out["embedded"] = dispatch_samples(port, jobs, count)
    clean_queues()
    url = fresh_database("cinefuse_bench")
    with processes() as start:  # Celery: an API server and one job process, PostgreSQL + RabbitMQ
        port = bench_api.free_port()
        common = {"database_url": url, "broker_url": AMQP, "heartbeat_interval": "1", "deliverer": "false"}
        start(["serve", "--port", str(port)], env_for(tmp / "api", workers="0", **common), tmp / "api.log")
        start(["worker", "--role", "jobs"], env_for(tmp / "worker", **common), tmp / "worker.log")
        wait_healthy(port)
        jobs = Jobs(url)
        wait_for(lambda: jobs.live_workers() >= 1, 120, "worker did not start", 0.2)
        dispatch_samples(port, jobs, 3)
        out["celery"] = dispatch_samples(port, jobs, count)
    return out


# ---------------------------------------------------------------------------- scaling


def bench_scaling(processes_count: int, tasks: int, tmp: Path) -> float:
    """jobs/s of one worker command with ``processes_count`` job processes."""
    clean_queues()
    url = fresh_database("cinefuse_bench")
    data = tmp / f"scaling{processes_count}"  # one data dir: the local media store is shared
    with processes() as start:
        port = bench_api.free_port()
        common = {"database_url": url, "broker_url": AMQP, "heartbeat_interval": "1", "deliverer": "false"}
        start(["serve", "--port", str(port)], env_for(data, workers="0", **common), tmp / "scaling-api.log")
        env = env_for(data, worker_processes=str(processes_count), **common)
        start(["worker", "--role", "jobs"], env, tmp / f"scaling-worker{processes_count}.log")
        wait_healthy(port)
        jobs = Jobs(url)
        wait_for(lambda: jobs.live_workers() >= processes_count, 180, "workers did not start", 0.2)
        batch = [task(seed=i) for i in range(tasks)]
        started = time.monotonic()
        post(port, batch)
        for one in batch:
            wait_for(lambda u=one["taskUUID"]: jobs.row(u)[0] == "success", 600, "job not done", 0.05)  # type: ignore[index]
        return tasks / (time.monotonic() - started)


# ---------------------------------------------------------------------------- API


def bench_api_acks(kind: str, duration: int, tmp: Path) -> dict[str, float]:
    settings = {"workers": "0", "queue_limit": "0", "deliverer": "false"}
    if kind != "sqlite":
        settings["database_url"] = fresh_database("cinefuse_bench")
    if kind == "postgres+celery":
        clean_queues()
        settings["broker_url"] = AMQP
    data = tmp / f"api-{kind}-{uuid.uuid4().hex[:6]}"
    with processes() as start:
        port = bench_api.free_port()
        start(["serve", "--port", str(port)], env_for(data, **settings), tmp / f"api-{kind}.log")
        wait_healthy(port)
        time.sleep(1)
        return bench_api.wrk(f"http://127.0.0.1:{port}/v1", duration, "submit.lua", {"CINEFUSE_KEY": KEY})


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="dispatch,scaling,api")
    parser.add_argument("--samples", type=int, default=60, help="dispatch samples per run and profile")
    parser.add_argument("--tasks", type=int, default=24, help="tasks per scaling run")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="cinefuse-bench-dist-"))
    report: dict[str, Any] = {"args": vars(args)}
    try:
        if "dispatch" in parts:
            runs = [bench_dispatch(args.samples, tmp) for _ in range(args.runs)]
            summary = {
                name: {
                    "p50_ms": statistics.median(pct(r[name], 0.5) for r in runs),
                    "p99_ms": statistics.median(pct(r[name], 0.99) for r in runs),
                }
                for name in ("embedded", "celery")
            }
            report["dispatch"] = {"summary": summary, "runs": runs}
            print(f"\ndispatch overhead, acknowledgement -> claim ({args.runs} runs x {args.samples} tasks, median)")
            print(f"{'profile':<12}{'p50 ms':>10}{'p99 ms':>10}")
            for name, values in summary.items():
                print(f"{name:<12}{values['p50_ms']:>10.1f}{values['p99_ms']:>10.1f}")
        if "scaling" in parts:
            scaling = {n: [bench_scaling(n, args.tasks, tmp) for _ in range(args.runs)] for n in (1, 2, 4)}
            report["scaling"] = {
                "runs": scaling,
                "median_jobs_per_s": {n: statistics.median(v) for n, v in scaling.items()},
            }
            print(f"\nthroughput, {args.tasks} preview jobs 360x360 5 s ({args.runs} runs, median)")
            print(f"({os.cpu_count()} cores on this machine)")
            print(f"{'processes':<12}{'jobs/s':>10}{'speed-up':>10}")
            base = statistics.median(scaling[1])
            for n, values in scaling.items():
                print(f"{n:<12}{statistics.median(values):>10.2f}{statistics.median(values) / base:>10.2f}")
        if "api" in parts:
            kinds = ("sqlite", "postgres", "postgres+celery")
            api = {kind: [bench_api_acks(kind, args.duration, tmp) for _ in range(args.runs)] for kind in kinds}
            summary = {
                kind: {field: statistics.median(r[field] for r in runs) for field in ("rps", "p50_ms", "p99_ms")}
                for kind, runs in api.items()
            }
            report["api"] = {"summary": summary, "runs": api}
            print(f"\nacknowledgements of one API server, wrk -t2 -c32 -d{args.duration}s ({args.runs} runs, median)")
            print(f"{'store':<18}{'acks/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
            for kind, values in summary.items():
                print(f"{kind:<18}{values['rps']:>10.0f}{values['p50_ms']:>10.2f}{values['p99_ms']:>10.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "distributed.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / 'distributed.json'}")


if __name__ == "__main__":
    main()
