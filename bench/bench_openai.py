"""The OpenAI-style front door against ``POST /v1`` (issue 16): create-to-downloadable time of
the same clip (5 s, 1280x720, the CPU preview engine) through each, in the same run.

One real ``cinefuse serve`` (one embedded worker, the preview engine). Each round makes the
clip through ``POST /v1/videos`` (poll ``GET /v1/videos/{id}`` until ``completed``, then
download ``/content``) and through ``POST /v1`` (poll ``getResponse`` until ``success``, then
download ``videoURL``), alternating which goes first; both poll every 50 ms with one httpx
client, and both ask for the same model (``pixverse:1@3``) and seed, so the clip is the same.
The table gives each path's median seconds over the rounds and the ratio of the medians
(target: within 5%).

    python bench/bench_openai.py [--rounds 7]

Prints a table and writes ``bench/results/openai.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
KEY = "bench-key"
POLL_S = 0.05
PROMPT = "a lighthouse on a cliff at sunset, waves below"
MODEL = "pixverse:1@3"
SEED = 7


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINEFUSE_")}
    env |= {"CINEFUSE_DATA_DIR": str(data_dir), "CINEFUSE_API_KEYS": KEY, "CINEFUSE_ENGINE": "preview"}
    env |= {"CINEFUSE_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    exe = Path(sys.executable).with_name("cinefuse")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not become healthy")


def through_videos(client: httpx.Client, base: str) -> tuple[float, int]:
    """Seconds from the create to the last byte of the download, and the file's size."""
    started = time.perf_counter()
    # The same model as the task path: the default alias (sora-2) would pick the fastest model present, whose
    # defaults (fps) make another clip.
    # The same seed: the same clip through both doors, so only the door differs (a random seed changes the
    # preview's scene, and its encode time with it).
    fields = {"prompt": PROMPT, "model": MODEL, "seconds": "5", "size": "1280x720", "seed": str(SEED)}
    video = client.post(f"{base}/v1/videos", data=fields).json()
    while video["status"] not in ("completed", "failed"):
        time.sleep(POLL_S)
        video = client.get(f"{base}/v1/videos/{video['id']}").json()
    assert video["status"] == "completed", video
    data = client.get(f"{base}/v1/videos/{video['id']}/content").content
    return time.perf_counter() - started, len(data)


def through_tasks(client: httpx.Client, base: str) -> tuple[float, int]:
    started = time.perf_counter()
    task_uuid = str(uuid.uuid4())
    task = {
        "taskType": "videoInference",
        "taskUUID": task_uuid,
        "model": MODEL,
        "seed": SEED,
        "positivePrompt": PROMPT,
        "width": 1280,
        "height": 720,
        "duration": 5,
    }
    reply = client.post(f"{base}/v1", json=[task]).json()
    assert "errors" not in reply, reply
    while True:
        items = client.post(f"{base}/v1", json=[{"taskType": "getResponse", "taskUUID": task_uuid}]).json()
        item = (items.get("data") or items.get("errors"))[0]
        if item["status"] in ("success", "error"):
            break
        time.sleep(POLL_S)
    assert item["status"] == "success", item
    data = client.get(item["videoURL"]).content
    return time.perf_counter() - started, len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path, default=RESULTS / "openai.json")
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rows: dict[str, list[float]] = {"POST /v1/videos": [], "POST /v1": []}
    sizes: dict[str, list[int]] = {name: [] for name in rows}
    with tempfile.TemporaryDirectory(prefix="cinefuse-bench-openai-") as folder:
        server = start_server(Path(folder), port)
        try:
            with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as client:
                through_videos(client, base)  # warm both paths (first render, first encode)
                through_tasks(client, base)
                for round_ in range(args.rounds):
                    order = [("POST /v1/videos", through_videos), ("POST /v1", through_tasks)]
                    for name, run in order if round_ % 2 == 0 else reversed(order):
                        seconds, size = run(client, base)
                        rows[name].append(seconds)
                        sizes[name].append(size)
        finally:
            server.terminate()
            server.wait(timeout=30)

    medians = {name: statistics.median(times) for name, times in rows.items()}
    ratio = medians["POST /v1/videos"] / medians["POST /v1"]
    print(f"create-to-downloadable, 5 s 1280x720 preview clip, median of {args.rounds} rounds (same server, same run)")
    print(f"{'path':<18}{'median s':>10}{'min s':>9}{'max s':>9}{'MiB':>8}")
    for name, times in rows.items():
        mib = statistics.median(sizes[name]) / 2**20
        print(f"{name:<18}{medians[name]:>10.3f}{min(times):>9.3f}{max(times):>9.3f}{mib:>8.2f}")
    print(f"ratio /v1/videos : /v1 = {ratio:.3f} (target within 5%: {'yes' if abs(ratio - 1) <= 0.05 else 'no'})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"rounds": args.rounds, "seconds": rows, "medians": medians, "ratio": ratio, "bytes": sizes}, indent=2
        )
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
