"""A real ``cinefuse serve`` subprocess for end-to-end tests.

``live_server`` (module scope) starts one server on a free loopback port with its own data
dir and a random API key, waits for ``GET /health`` to answer 200, and stops it after the
module. Its stdout/stderr go to a log file; when a test using it fails, the log's tail is
attached to the failure report. Other tests can start servers with their own settings via
:func:`start_live_server`.

Environment given to the server: inherited variables minus every ``CINEFUSE_*`` one, then
``CINEFUSE_DATA_DIR``, ``CINEFUSE_API_KEYS``, ``CINEFUSE_PUBLIC_URL``, ``CINEFUSE_WORKERS=1``,
``CINEFUSE_ENGINE=preview`` (the CPU engine, no weights) and any ``extra_env``.
``CINEFUSE_BIN`` overrides the executable (default: ``cinefuse`` beside this interpreter).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
LOG_TAIL_LINES = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cinefuse_executable() -> Path:
    override = os.environ.get("CINEFUSE_BIN")
    if override:
        return Path(override)
    beside = Path(sys.executable).with_name("cinefuse")
    if beside.exists():
        return beside
    found = shutil.which("cinefuse")
    if found is None:
        raise RuntimeError("cinefuse executable not found (pip install -e . or set CINEFUSE_BIN)")
    return Path(found)


@dataclass
class LiveServer:
    """One ``cinefuse serve`` process; ``start()``/``stop()``/``restart()`` keep port, key and data."""

    data_dir: Path
    log_path: Path
    api_key: str = field(default_factory=lambda: "sk-test-" + secrets.token_hex(16))
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CINEFUSE_")}
        env.update(
            CINEFUSE_DATA_DIR=str(self.data_dir),
            CINEFUSE_API_KEYS=self.api_key,
            CINEFUSE_PUBLIC_URL=self.base_url,
            CINEFUSE_WORKERS="1",
            CINEFUSE_ENGINE="preview",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        self._log_file.write(f"\n=== start {time.strftime('%H:%M:%S')} port {self.port} ===\n".encode())
        self._log_file.flush()
        cmd = [str(cinefuse_executable()), "serve", "--host", self.host, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Own process group, so stop() also reaches worker processes it spawned.
            start_new_session=True,
        )
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT_S) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"cinefuse serve exited with {self.proc.returncode} before becoming healthy\n"
                    f"--- server log tail ---\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
            except (OSError, urllib.error.URLError) as exc:
                last_error = repr(exc)
            time.sleep(0.25)
        raise RuntimeError(
            f"GET {self.base_url}/health not 200 within {timeout:.0f}s (last: {last_error})\n"
            f"--- server log tail ---\n{self.log_tail()}"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT_S)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if self._log_file is not None:
            self._log_file.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


def start_live_server(base_dir: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """Start a server whose data dir and log live under ``base_dir``; caller must ``stop()`` it."""
    server = LiveServer(
        data_dir=base_dir / "data",
        log_path=base_dir / "server.log",
        extra_env=dict(extra_env or {}),
    )
    server.start()
    return server


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("cinefuse-live"))
    try:
        yield server
    finally:
        server.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for value in funcargs.values():
            if isinstance(value, LiveServer):
                report.sections.append(
                    (f"cinefuse server log (last {LOG_TAIL_LINES} lines, {value.log_path})", value.log_tail())
                )
    return report
