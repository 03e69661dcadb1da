"""Deliverer benchmark: webhook calls per second to a local receiver, and memory while a
backlog of 10,000 pending calls drains.

Target (issue): >= 200 webhook calls/s sustained; a 10,000-call backlog drains without
growing memory.

Each run builds a fresh SQLite job store (WAL, synchronous=FULL and a background checkpointer, as the server
uses it) and fills its outbox
through the repository exactly as workers do: jobs inserted in batches, claimed, and each
result finished with ``finish_result(..., deliveries=[NewDelivery("webhook", ...)])``. A real
``Deliverer`` (its own thread and event loop, the real outbound guard allowing 127.0.0.1,
signed webhooks) then drains the backlog to a receiver running in a *separate process*
(asyncio + uvloop when available: answers ``200`` with ``Connection: close``), so the
receiver never competes for the deliverer's GIL. The receiver counts calls and distinct
``webhook-id`` values: every row must arrive exactly once.

Reported per run: calls/s over the whole drain, the median (and min) of 1-second windows,
RSS of this process (``VmRSS`` from ``/proc/self/status``) before the drain starts, at its
middle and at its end, and the outbox counts afterwards. The table gives the median of
the runs.

    python bench/bench_deliverer.py [--runs 3] [--calls 10000] [--profile]

``--profile`` runs ``py-spy`` on this process during the first run's drain and writes
``bench/results/deliverer-profile.txt`` (top functions by own and total time).
Prints a table and writes ``bench/results/deliverer.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent / "src"))

from cinefuse.delivery.deliverer import Deliverer, DeliverySettings  # noqa: E402
from cinefuse.delivery.outbound import OutboundClient, OutboundPolicy  # noqa: E402
from cinefuse.jobs.db import Checkpointer, make_engine, migrate  # noqa: E402
from cinefuse.jobs.models import NewDelivery, NewJob, NewResult  # noqa: E402
from cinefuse.jobs.store import JobStore, hash_key  # noqa: E402
from cinefuse.storage.memory import MemoryMediaStore  # noqa: E402

RESULTS_PER_JOB = 4  # numberResults at its maximum: 4 webhook rows per job
INSERT_BATCH = 500
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SAMPLE_EVERY = 0.25  # seconds between progress/RSS samples
TARGET_RATE = 200.0
PROFILE_RAW = Path(tempfile.gettempdir()) / "cinefuse-deliverer-profile.raw"


# --- the receiver (separate process) -----------------------------------------------------------


def _receiver_main(port_out: Any, stats: Any, stop: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    ids: set[bytes] = set()
    count = 0
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"webhook-id":
                    ids.add(value.strip())
            if length:
                await reader.readexactly(length)
            count += 1
            writer.write(reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_out.send(server.sockets[0].getsockname()[1])
        while not stop.is_set():
            await asyncio.sleep(0.05)
            stats[0], stats[1] = count, len(ids)
        server.close()
        stats[0], stats[1] = count, len(ids)

    asyncio.run(main())


class ReceiverProcess:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.stats = ctx.Array("q", 2)  # calls, distinct webhook-ids
        self.stop_event = ctx.Event()
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_receiver_main, args=(child, self.stats, self.stop_event), daemon=True)
        self.proc.start()
        self.port: int = parent.recv()

    def counts(self) -> tuple[int, int]:
        return int(self.stats[0]), int(self.stats[1])

    def close(self) -> None:
        self.stop_event.set()
        self.proc.join(timeout=5)


# --- measurements ------------------------------------------------------------------------------


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fill_outbox(repo: JobStore, calls: int, url: str) -> tuple[int, float]:
    """Queue ``calls`` webhook rows the way workers do. Returns (key id, seconds)."""
    started = time.perf_counter()
    kid = repo.keys.ensure(["bench-key"])[hash_key("bench-key")]
    jobs_needed = -(-calls // RESULTS_PER_JOB)
    left = calls
    for first in range(0, jobs_needed, INSERT_BATCH):
        batch = []
        for _ in range(min(INSERT_BATCH, jobs_needed - first)):
            n = min(RESULTS_PER_JOB, left)
            left -= n
            batch.append(NewJob(
                id=uuid.uuid4().hex, key_id=kid, task_uuid=str(uuid.uuid4()), model="pixverse:1@3",
                request={"positive_prompt": "bench"},
                results=tuple(NewResult(i, str(uuid.uuid4()), 7 + i) for i in range(n)),
                created_at=time.time(), max_attempts=3,
            ))  # fmt: skip
        assert all(repo.jobs.insert(batch))
        for job in batch:
            claim = repo.leases.claim(job.id, "bench", 3600)
            assert claim is not None
            for result in job.results:
                values = {"status": "success", "progress": 100, "media_key": f"videos/{result.video_uuid}.mp4",
                          "content_type": "video/mp4", "size_bytes": 1, "expires_at": time.time() + 86_400}  # fmt: skip
                hook = NewDelivery("webhook", f"{url}?token=bench", f"msg_{result.video_uuid}")
                assert repo.leases.finish_result(claim, result.idx, values=values, deliveries=[hook])
            assert repo.leases.complete(claim, "success")
    return kid, time.perf_counter() - started


def start_profiler(duration: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy not found; no profile")
        return None
    cmd = [spy, "record", "--pid", str(os.getpid()), "--duration", str(int(duration)), "--rate", "200",
           "--format", "raw", "--output", str(out), "--nonblocking", "--threads"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def summarize_profile(raw: Path, out: Path, top: int = 35) -> str:
    """Own and total sample shares per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + count
    lines = [f"{samples} samples (all threads, idle included)", "", "own %  function"]
    lines += [f"{100 * n / samples:5.1f}  {f}" for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]]
    lines += ["", "total %  function"]
    lines += [f"{100 * n / samples:5.1f}  {f}" for f, n in sorted(total.items(), key=lambda kv: -kv[1])[:top]]
    text = "\n".join(lines)
    out.write_text(text + "\n")
    return text


def run_once(calls: int, receiver: ReceiverProcess, *, profile: bool, timeout: float) -> dict[str, Any]:
    before_calls, before_ids = receiver.counts()
    tmp = Path(tempfile.mkdtemp(prefix="cinefuse-bench-deliverer-"))
    db_url = f"sqlite:///{tmp / 'jobs.db'}"
    engine = make_engine(db_url)
    checkpointer = Checkpointer(db_url)  # the server runs one beside the deliverer
    checkpointer.start()
    try:
        migrate(engine)
        repo = JobStore(engine)
        url = f"http://127.0.0.1:{receiver.port}/hook"
        kid, fill_s = fill_outbox(repo, calls, url)
        assert repo.outbox.counts() == {"pending": calls}
        store = MemoryMediaStore()
        deliverer = Deliverer(
            repo, store, OutboundClient(OutboundPolicy.from_setting("127.0.0.1")), store.signed_url,
            DeliverySettings(max_tries=8, backoff=1.0, timeout=10.0), webhook_secret={kid: SECRET}.get,
        )  # fmt: skip
        import gc

        gc.collect()
        rss_start = rss_mib()
        samples: list[tuple[float, int, float]] = []  # (seconds since start, sent, rss MiB)
        spy = None
        if profile:
            spy = start_profiler(min(timeout, max(5.0, calls / 400)), PROFILE_RAW)
            time.sleep(0.5)  # let py-spy attach
        started = time.perf_counter()
        deliverer.start()
        rss_middle = None
        while True:
            time.sleep(SAMPLE_EVERY)
            now = time.perf_counter() - started
            done = deliverer.sent + deliverer.failed
            rss = rss_mib()
            samples.append((now, done, rss))
            if rss_middle is None and done >= calls // 2:
                rss_middle = rss
            if done >= calls or now > timeout:
                break
        elapsed = next((t for t, d, _ in samples if d >= calls), samples[-1][0])
        deliverer.stop()
        rss_end = rss_mib()
        if spy is not None:
            spy.wait(timeout=120)
        counts = repo.outbox.counts()
        time.sleep(0.2)
        got_calls, got_ids = receiver.counts()
        sent = deliverer.sent
    finally:
        checkpointer.stop()
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)

    # Per-second windows over the part of the drain where the backlog was still large.
    windows: list[float] = []
    t0, d0 = 0.0, 0
    for t, d, _ in samples:
        if t - t0 >= 1.0:
            if d < calls:
                windows.append((d - d0) / (t - t0))
            t0, d0 = t, d
    return {
        "calls": calls,
        "fill_seconds": round(fill_s, 2),
        "drain_seconds": round(elapsed, 3),
        "rate_overall": round(sent / elapsed, 1) if elapsed else None,
        "rate_window_median": round(statistics.median(windows), 1) if windows else None,
        "rate_window_min": round(min(windows), 1) if windows else None,
        "rss_mib_start": round(rss_start, 1),
        "rss_mib_middle": round(rss_middle or float("nan"), 1),
        "rss_mib_end": round(rss_end, 1),
        "rss_mib_peak_during_drain": round(max(r for _, _, r in samples), 1),
        "sent": sent,
        "failed": deliverer.failed,
        "outbox_after": counts,
        "receiver_calls": got_calls - before_calls,
        "receiver_distinct_ids": got_ids - before_ids,
        "timeline": [(round(t, 2), d, round(r, 1)) for t, d, r in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up a drain after this many seconds")
    parser.add_argument("--profile", action="store_true", help="py-spy the first run's drain")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)

    receiver = ReceiverProcess()
    runs = []
    try:
        for i in range(args.runs):
            run = run_once(args.calls, receiver, profile=args.profile and i == 0, timeout=args.timeout)
            runs.append(run)
            print(f"run {i + 1}: {run['rate_overall']} calls/s overall, window median {run['rate_window_median']}, "
                  f"RSS {run['rss_mib_start']} -> {run['rss_mib_middle']} -> {run['rss_mib_end']} MiB, "
                  f"receiver {run['receiver_calls']} calls / {run['receiver_distinct_ids']} ids")  # fmt: skip
    finally:
        receiver.close()

    def med(field: str) -> float:
        return round(statistics.median(r[field] for r in runs), 1)

    summary = {
        "calls_per_run": args.calls,
        "rate_overall_median": med("rate_overall"),
        "rate_window_median": med("rate_window_median"),
        "rate_window_min": min(r["rate_window_min"] for r in runs),
        "drain_seconds_median": med("drain_seconds"),
        "rss_mib_start_median": med("rss_mib_start"),
        "rss_mib_middle_median": med("rss_mib_middle"),
        "rss_mib_end_median": med("rss_mib_end"),
        "rss_growth_middle_to_end_mib_max": round(max(r["rss_mib_end"] - r["rss_mib_middle"] for r in runs), 1),
        "every_call_once": all(r["receiver_calls"] == r["receiver_distinct_ids"] == r["calls"] for r in runs),
        "target_rate": TARGET_RATE,
    }
    summary["meets_rate"] = summary["rate_overall_median"] >= TARGET_RATE
    rows = [
        ("webhook calls / s (whole drain, median of runs)", summary["rate_overall_median"], f">= {TARGET_RATE:g}"),
        ("webhook calls / s (1 s windows, median)", summary["rate_window_median"], ""),
        ("webhook calls / s (1 s windows, worst)", summary["rate_window_min"], ""),
        (f"drain of {args.calls} pending calls (s)", summary["drain_seconds_median"], ""),
        ("RSS before drain (MiB)", summary["rss_mib_start_median"], ""),
        ("RSS at half drained (MiB)", summary["rss_mib_middle_median"], ""),
        ("RSS drained (MiB)", summary["rss_mib_end_median"], ""),
        ("RSS growth half -> end, worst run (MiB)", summary["rss_growth_middle_to_end_mib_max"], "~0"),
        ("every call arrived exactly once", summary["every_call_once"], "True"),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'metric':<{width}}  {'value':>10}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value!s:>10}  {target}")
    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}
    out = {"summary": summary, "runs": runs, "args": vars(args), "host": info}
    (RESULTS / "deliverer.json").write_text(json.dumps(out, indent=2))
    print(f"\nwrote {RESULTS / 'deliverer.json'}")
    if args.profile and PROFILE_RAW.exists():
        print(summarize_profile(PROFILE_RAW, RESULTS / "deliverer-profile.txt"))
        print(f"raw collapsed stacks: {PROFILE_RAW}")


if __name__ == "__main__":
    main()
