"""Safety benchmark: the cost of ``safety.mode`` ``fast`` and ``full`` on 80 frames of 720p.

What is timed is exactly what the runner adds per result: the engine's frames streamed
through a :class:`~cinefuse.safety.base.FrameInspector` backed by the real NudeNet
checker (copies of the frames to check, downscaling, batched ONNX calls, verdicts).
Frames are rendered before timing (a moving synthetic scene; a detector's cost does not
depend on content) and the model is loaded once before timing, as a worker does; the
cold load is reported on its own. ``nudenet.NudeDetector.detect`` on the same frames is
timed for reference. With ``--encoder`` it also times MP4 encoding with and without the
``full`` check, the cost a client actually sees when frames and the encoder share cores.

    python bench/bench_safety.py [--runs 7] [--threads 2] [--batch 8] [--encoder]

Prints a table (median of the runs) and writes ``bench/results/safety.json``.
Targets (issue): ``full`` <= 2.5 s, ``fast`` <= 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from cinefuse.media.video import encode_frames
from cinefuse.safety.base import DEFAULT_BATCH_SIZE, FrameInspector, SafetyPolicy
from cinefuse.safety.nudenet import DEFAULT_THREADS, NudeNetChecker, missing_reason

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WIDTH, HEIGHT, NUM_FRAMES, FPS = 1280, 720, 80, 16
LIMITS_S = {"full": 2.5, "fast": 0.2}
REFERENCE_FRAMES = 8  # NudeDetector is slow; a few frames give its per-frame cost

Frame = npt.NDArray[np.uint8]


def render_frames(count: int = NUM_FRAMES) -> list[Frame]:
    """A sky, ground, sun and a few shapes drifting across: ordinary 720p frames."""
    rng = np.random.default_rng(7)
    base = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    sky = np.linspace(0, 1, HEIGHT * 2 // 3)[:, None]
    base[: HEIGHT * 2 // 3] = (np.array([40, 90, 200]) * (1 - sky) + np.array([250, 180, 120]) * sky)[:, None, :]
    base[HEIGHT * 2 // 3 :] = (70, 110, 60)
    shapes = [
        (int(rng.integers(0, WIDTH)), int(rng.integers(HEIGHT // 3, HEIGHT)), rng.integers(0, 255, 3)) for _ in range(8)
    ]
    frames = []
    for i in range(count):
        frame = base.copy()
        for x, y, colour in shapes:
            cv2.circle(frame, ((x + 9 * i) % WIDTH, y), 60, tuple(int(c) for c in colour), -1)
        frames.append(frame)
    return frames


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def inspect(checker: NudeNetChecker, frames: list[Frame], mode: str, batch: int) -> FrameInspector:
    inspector = FrameInspector(checker, SafetyPolicy(), mode, len(frames), batch_size=batch)  # type: ignore[arg-type]
    for _ in inspector.wrap(iter(frames)):
        pass
    assert inspector.complete and not inspector.flagged
    return inspector


def encode(frames: Iterator[Frame], tmp: Path) -> None:
    encode_frames(frames, tmp / "bench.mp4", fmt="MP4", width=WIDTH, height=HEIGHT, fps=FPS)


def summary(name: str, samples: list[float], frames: int, limit: float | None = None) -> dict[str, Any]:
    median = statistics.median(samples)
    return {
        "name": name,
        "median_s": median,
        "min_s": min(samples),
        "max_s": max(samples),
        "frames": frames,
        "ms_per_frame": median / frames * 1000 if frames else None,
        "limit_s": limit,
        "ok": None if limit is None else median <= limit,
        "samples_s": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--encoder", action="store_true", help="also time MP4 encoding with and without 'full'")
    args = parser.parse_args()
    if missing_reason():
        print(f"cannot benchmark: {missing_reason()}", file=sys.stderr)
        return 2

    frames = render_frames()
    checker = NudeNetChecker(threads=args.threads)
    load_start = time.perf_counter()
    checker.load()
    load_s = time.perf_counter() - load_start
    inspect(checker, frames, "full", args.batch)  # warm-up: first-call allocations

    rows = [
        summary(
            "fast (3 of 80 frames)",
            timed(lambda: inspect(checker, frames, "fast", args.batch), args.runs),
            3,
            LIMITS_S["fast"],
        ),
        summary(
            "full (80 frames)",
            timed(lambda: inspect(checker, frames, "full", args.batch), args.runs),
            80,
            LIMITS_S["full"],
        ),
    ]
    from nudenet import NudeDetector  # reference only: the package's own detector

    reference = NudeDetector()
    subset = frames[:REFERENCE_FRAMES]
    samples = timed(lambda: [reference.detect(f) for f in subset], max(1, args.runs // 2))
    rows.append(summary("reference: NudeDetector.detect", samples, len(subset)))

    if args.encoder:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(summary("encode MP4 only", timed(lambda: encode(iter(frames), Path(tmp)), args.runs), 80))

            def encode_checked() -> None:
                inspector = FrameInspector(checker, SafetyPolicy(), "full", len(frames), batch_size=args.batch)
                encode(inspector.wrap(iter(frames)), Path(tmp))

            rows.append(summary("encode MP4 + full", timed(encode_checked, args.runs), 80))

    print(
        f"safety benchmark: {NUM_FRAMES} frames {WIDTH}x{HEIGHT}, onnxruntime threads={args.threads}, "
        f"batch={args.batch}, runs={args.runs}, model load {load_s * 1000:.0f} ms"
    )
    print(f"{'case':34} {'median s':>9} {'min s':>8} {'max s':>8} {'ms/frame':>9} {'limit s':>8}  ok")
    for row in rows:
        limit = "" if row["limit_s"] is None else f"{row['limit_s']:.2f}"
        ok = "" if row["ok"] is None else ("yes" if row["ok"] else "NO")
        print(
            f"{row['name']:34} {row['median_s']:9.3f} {row['min_s']:8.3f} {row['max_s']:8.3f} "
            f"{row['ms_per_frame']:9.1f} {limit:>8}  {ok}"
        )

    environment = {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": os.getloadavg(),
        "nudenet": version("nudenet"),
        "onnxruntime": version("onnxruntime"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "safety.json"
    out.write_text(json.dumps({"rows": rows, "model_load_s": load_s, "args": vars(args), "env": environment}, indent=2))
    print(f"wrote {out}")
    return 0 if all(row["ok"] is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
