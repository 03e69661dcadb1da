"""A distributed cinefuse on this machine, for tests and benchmarks: ``cinefuse serve``
API servers (no embedded workers) and ``cinefuse worker`` processes on one PostgreSQL
database, a broker (RabbitMQ or Redis) and an S3 bucket (moto's threaded server in the
test process).

Each cluster gets its own database (dropped and created), its broker queues emptied, and
its own bucket. Helpers stop and start the shared services for fault tests; a test that
stops one starts it again in a ``finally``. Everything skips with a reason when a service
is unreachable.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from cinefuse.jobs.db import make_engine
from cinefuse.jobs.store import JobStore
from cinefuse.owners import process_alive
from tests.integration.conftest import LiveServer, cinefuse_executable

AMQP_URL = os.environ.get("CINEFUSE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("CINEFUSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
S3_KEYS = {"CINEFUSE_S3_ACCESS_KEY": "testing", "CINEFUSE_S3_SECRET_KEY": "testing", "CINEFUSE_S3_REGION": "us-east-1"}
WORKER_START_TIMEOUT = 90.0


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(every)


# ---------------------------------------------------------------------------- services


def clean_broker(broker_url: str) -> None:
    """Empty what earlier runs left on the broker (skips when it is unreachable): the
    ``cinefuse.*`` queues on RabbitMQ, the test's database on Redis."""
    import kombu
    import kombu.pools

    from cinefuse.engine.celery_app import queue_name
    from cinefuse.models.registry import MODELS

    try:
        if broker_url.startswith("redis"):
            import redis

            redis.Redis.from_url(broker_url, socket_connect_timeout=2).flushdb()
            return
        with kombu.Connection(broker_url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
            for model in [*MODELS, "default"]:
                channel = conn.channel()
                with contextlib.suppress(Exception):
                    channel.queue_delete(queue_name(model))
                with contextlib.suppress(Exception):
                    channel.close()
        # Producers of this process are pooled by URL and remember what they declared:
        # forget them, so the queues deleted here get declared again.
        kombu.pools.reset()
    except Exception as exc:
        pytest.skip(f"broker not reachable at {broker_url}: {type(exc).__name__}: {exc}")


class S3Server:
    """moto's S3 on a free loopback port, in this process."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def bucket(self, name: str) -> dict[str, str]:
        """Create bucket ``name``; returns the settings that point cinefuse at it."""
        self.client().create_bucket(Bucket=name)
        return {"CINEFUSE_S3_BUCKET": name, "CINEFUSE_S3_ENDPOINT_URL": self.endpoint, **S3_KEYS}

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def stop(self) -> None:
        self._server.stop()


def _run(*cmd: str, timeout: float = 60) -> None:
    subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_rabbitmq() -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl not installed: cannot stop the broker")
    _run("rabbitmqctl", "stop")
    wait_until(lambda: not port_open("127.0.0.1", 5672), 30, "RabbitMQ still listening")


def start_rabbitmq() -> None:
    if not port_open("127.0.0.1", 5672):
        _run("rabbitmq-server", "-detached")
    wait_until(lambda: port_open("127.0.0.1", 5672), 60, "RabbitMQ did not come back", every=0.5)


def restart_postgres() -> None:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        pytest.skip("no pg_ctlcluster here: cannot restart PostgreSQL")
    _run("pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart")
    wait_until(lambda: port_open("127.0.0.1", 5432), 60, "PostgreSQL did not come back", every=0.5)


# ---------------------------------------------------------------------------- processes


@dataclass
class WorkerProcess:
    """One ``cinefuse worker`` command (its own process group: its job processes too)."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(cinefuse_executable()), "worker", *self.args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, timeout: float = 40) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Job processes left behind by a killed parent share its process group.
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"


@dataclass
class Cluster:
    """API servers and workers sharing ``env`` (database, broker, bucket, timings)."""

    base: Path
    env: dict[str, str]
    database_url: str
    api_key: str = field(default_factory=lambda: "sk-dist-" + secrets.token_hex(12))
    servers: list[LiveServer] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)
    _store: JobStore | None = None

    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = JobStore(make_engine(self.database_url))
        return self._store

    def start_servers(self, count: int, **extra: str) -> list[LiveServer]:
        """Start ``count`` API servers at once (no embedded workers)."""
        started: list[LiveServer] = []
        for _ in range(count):
            index = len(self.servers) + len(started)
            env = {**self.env, "CINEFUSE_WORKERS": "0", **extra}
            env.setdefault("CINEFUSE_API_KEYS", self.api_key)
            server = LiveServer(
                data_dir=self.base / f"api{index}",
                log_path=self.base / f"api{index}.log",
                api_key=env["CINEFUSE_API_KEYS"],
                extra_env=env,
            )
            started.append(server)
        errors: list[BaseException] = []

        def start(server: LiveServer) -> None:
            try:
                server.start()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(s,)) for s in started]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.servers.extend(started)
        if errors:
            raise errors[0]
        return started

    def start_workers(self, count: int, *args: str, **extra: str) -> list[WorkerProcess]:
        """Start ``count`` ``cinefuse worker`` commands (``wait_live_workers`` / ``wait_roles``
        wait for their heartbeats)."""
        started = []
        for _ in range(count):
            index = len(self.workers)
            env = {k: v for k, v in os.environ.items() if not k.startswith("CINEFUSE_")}
            env |= {"PYTHONUNBUFFERED": "1", "CINEFUSE_ENGINE": "preview", "CINEFUSE_API_KEYS": self.api_key}
            env |= self.env | {"CINEFUSE_DATA_DIR": str(self.base / f"worker{index}")} | extra
            worker = WorkerProcess(list(args), env, self.base / f"worker{index}.log")
            worker.start()
            self.workers.append(worker)
            started.append(worker)
        return started

    def live_roles(self) -> dict[str, int]:
        """Live processes (recent heartbeat, process running) by role."""
        since = time.time() - 3 * float(self.env.get("CINEFUSE_HEARTBEAT_INTERVAL", "10"))
        roles: dict[str, int] = {}
        for worker in self.store.workers.live(since):
            if process_alive(worker.pid):
                roles[worker.role] = roles.get(worker.role, 0) + 1
        return roles

    def wait_roles(self, wanted: dict[str, int], timeout: float = WORKER_START_TIMEOUT) -> None:
        """Wait until at least ``wanted`` processes of each role are live."""

        def enough() -> bool:
            live = self.live_roles()
            return all(live.get(role, 0) >= n for role, n in wanted.items())

        try:
            wait_until(enough, timeout, f"{wanted} not live")
        except TimeoutError:
            tails = "\n".join(f"--- {w.log_path.name}\n{w.log_tail()}" for w in self.workers)
            raise TimeoutError(
                f"{wanted} not live within {timeout:.0f} s (live: {self.live_roles()})\n{tails}"
            ) from None

    def wait_live_workers(self, count: int, timeout: float = WORKER_START_TIMEOUT) -> None:
        self.wait_roles({"worker": count}, timeout)

    def stop(self) -> None:
        """Stop every process at once (each gives its running job back), then wait for them."""
        stops = [*(w.stop for w in self.workers), *(s.stop for s in self.servers)]
        with concurrent.futures.ThreadPoolExecutor(max(len(stops), 1)) as pool:
            for future in [pool.submit(stop) for stop in stops]:
                future.result()
        if self._store is not None:
            self._store.engine.dispose()

    def logs(self) -> str:
        parts = [f"--- {s.log_path.name}\n{s.log_tail(40)}" for s in self.servers]
        parts += [f"--- {w.log_path.name}\n{w.log_tail(40)}" for w in self.workers]
        return "\n".join(parts)


@contextlib.contextmanager
def cluster_logs_on_failure(cluster: Cluster) -> Iterator[None]:
    """Attach the cluster's log tails to an assertion or timeout raised inside."""
    try:
        yield
    except (AssertionError, TimeoutError) as exc:
        raise type(exc)(f"{exc}\n{cluster.logs()}") from exc
