"""API benchmark (issue 2): acknowledgements, polls and idle memory of ``cinefuse serve``.

Runs the real server with embedded workers off (``CINEFUSE_WORKERS=0``), so only the API
is measured, each task durably written (SQLite WAL, synchronous=FULL) before its
acknowledgement. Load comes from ``wrk`` (a C load generator; a Python client would
measure itself), 32 connections, with Lua scripts making a fresh taskUUID per request.
Each run uses a fresh server and data dir; the table gives the median of the runs and
the ratio to the bare ``/health`` endpoint of the same server in the same run.

    python bench/bench_api.py [--runs 5] [--duration 10]

Prints a table and writes ``bench/results/api.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINEFUSE_")}
    env |= {
        "CINEFUSE_DATA_DIR": str(data_dir),
        "CINEFUSE_API_KEYS": KEY,
        "CINEFUSE_WORKERS": "0",
        "CINEFUSE_QUEUE_LIMIT": "0",
    }
    exe = Path(sys.executable).with_name("cinefuse")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def torch_loaded(pid: int) -> bool:
    return "torch" in Path(f"/proc/{pid}/maps").read_text()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, duration: int, script: str | None = None, env: dict[str, str] | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c32", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(HERE / "wrk" / script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, env=os.environ | (env or {}), check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        lat[pct] = float(value) * _UNITS[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": lat["50"], "p99_ms": lat["99"], "non2xx": int(non2xx.group(1)) if non2xx else 0}


def seed_tasks(port: int, count: int, path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for start in range(0, count, 100):
        body = [
            {"taskType": "videoInference", "taskUUID": u, "model": "pixverse:1@3", "positivePrompt": "a cat"}
            for u in ids[start : start + 100]
        ]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as reply:
            assert reply.status == 200
    path.write_text("\n".join(ids) + "\n")


def one_run(duration: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="cinefuse-bench-"))
    port = free_port()
    proc = start_server(tmp / "data", port)
    try:
        time.sleep(2)
        idle = rss_mb(proc.pid)
        url = f"http://127.0.0.1:{port}"
        env = {"CINEFUSE_KEY": KEY}
        bare = wrk(f"{url}/health", duration)
        submit = wrk(f"{url}/v1", duration, "submit.lua", env)
        tasks = tmp / "tasks.txt"
        seed_tasks(port, 2000, tasks)
        polls = wrk(f"{url}/v1", duration, "poll.lua", env | {"CINEFUSE_TASKS": str(tasks)})
        return {
            "idle_rss_mb": idle,
            "torch_loaded": torch_loaded(proc.pid),
            "bare": bare,
            "submit": submit,
            "poll": polls,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    runs = [one_run(args.duration) for _ in range(args.runs)]

    def med(path: tuple[str, str]) -> float:
        return statistics.median(float(r[path[0]][path[1]]) for r in runs)  # type: ignore[index]

    summary = {
        "submit_rps": med(("submit", "rps")),
        "submit_p50_ms": med(("submit", "p50_ms")),
        "submit_p99_ms": med(("submit", "p99_ms")),
        "poll_rps": med(("poll", "rps")),
        "poll_p99_ms": med(("poll", "p99_ms")),
        "bare_rps": med(("bare", "rps")),
        "submit_over_bare": statistics.median(r["submit"]["rps"] / r["bare"]["rps"] for r in runs),  # type: ignore[index]
        "poll_over_bare": statistics.median(r["poll"]["rps"] / r["bare"]["rps"] for r in runs),  # type: ignore[index]
        "idle_rss_mb": statistics.median(float(r["idle_rss_mb"]) for r in runs),  # type: ignore[arg-type]
        "torch_loaded": any(r["torch_loaded"] for r in runs),
    }
    targets = {
        "submit_rps": (">=", 2500),
        "submit_p99_ms": ("<=", 20),
        "poll_rps": (">=", 6500),
        "idle_rss_mb": ("<=", 150),
    }
    print(f"cinefuse API benchmark: {args.runs} runs x {args.duration} s, wrk -t2 -c32, median")
    print(f"{'metric':<20}{'median':>12}{'target':>12}  per run")
    for name, value in summary.items():
        target = targets.get(name)
        per_run = ""
        section, _, field = name.partition("_")
        if section in ("submit", "poll", "bare") and field in ("rps", "p50_ms", "p99_ms"):
            per_run = " ".join(f"{r[section][field]:.1f}" for r in runs)  # type: ignore[index]
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{name:<20}{shown:>12}{(target[0] + str(target[1])) if target else '':>12}  {per_run}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps({"summary": summary, "runs": runs, "args": vars(args)}, indent=2))
    print(f"wrote {RESULTS / 'api.json'}")


if __name__ == "__main__":
    main()
