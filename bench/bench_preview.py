"""Preview engine throughput: render + encode to MP4, against targets.

    python bench/bench_preview.py [--runs 5] [--quick]

For each case: median wall time of rendering *and* encoding the clip through
``cinefuse.media.video.encode_frames`` (the streaming path the runner uses), split into
time spent producing frames (inside the engine's iterator) and the rest (encoding), plus
the encoder-alone floor (the same frames, pre-rendered, encoded again). Peak RSS of a
1080p 8 s 24 fps job is measured in a fresh subprocess (``ru_maxrss``), so the number
is the whole job's high-water mark, imports included.

Prints a table and writes bench/results/preview.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cinefuse.generation.base import GenerationRequest
from cinefuse.generation.preview import PreviewEngine
from cinefuse.media.video import encode_frames

Frame = npt.NDArray[np.uint8]

PROMPT = "a woman walking on a beach at sunset, mountains in the distance"
#: Wall-clock targets (seconds) from the issue, render + encode.
TARGET_720P = 2.5
TARGET_1080P = 6.0
TARGET_RSS_MB = 600.0


@dataclass(frozen=True)
class Case:
    name: str
    request: GenerationRequest
    target_s: float | None = None


def _request(width: int, height: int, **kw: object) -> GenerationRequest:
    base = GenerationRequest(prompt=PROMPT, width=width, height=height, fps=16, num_frames=80, seed=42)
    return replace(base, **kw)  # type: ignore[arg-type]


def cases(quick: bool) -> list[Case]:
    main = [
        Case("720p 5s 16fps (default drift)", _request(1280, 720), TARGET_720P),
        Case("1080p 5s 16fps (default drift)", _request(1920, 1080), TARGET_1080P),
    ]
    if quick:
        return main
    still = next(iter(PreviewEngine().generate(_request(1280, 720, num_frames=1, prompt="a fox in a snowy forest"))))
    extra = [
        Case("720p pan_left", _request(1280, 720, camera_movement="pan_left")),
        Case("720p hitchcock", _request(1280, 720, camera_movement="hitchcock")),
        Case("720p whip_pan", _request(1280, 720, camera_movement="whip_pan")),
        Case("720p style anime", _request(1280, 720, style="anime")),
        Case("720p style 3d_animation", _request(1280, 720, style="3d_animation")),
        Case("720p style clay", _request(1280, 720, style="clay")),
        Case("720p style comic", _request(1280, 720, style="comic")),
        Case("720p style cyberpunk", _request(1280, 720, style="cyberpunk")),
        Case("720p effect balloon belly", _request(1280, 720, effect="balloon belly")),
        Case("720p effect boom drop", _request(1280, 720, effect="boom drop")),
        Case("720p first frame + zoom_in", _request(1280, 720, first_frame=still, camera_movement="zoom_in")),
        Case("720p first + last morph", _request(1280, 720, first_frame=still, last_frame=still[:, ::-1].copy())),
    ]
    return main + extra


def _timed(frames: Iterator[Frame], spent: list[float]) -> Iterator[Frame]:
    """Pass frames through, adding the time spent inside the engine to ``spent[0]``."""
    while True:
        start = time.perf_counter()
        try:
            frame = next(frames)
        except StopIteration:
            spent[0] += time.perf_counter() - start
            return
        spent[0] += time.perf_counter() - start
        yield frame


def run_case(case: Case, runs: int, out: Path) -> dict[str, object]:
    r = case.request
    totals, renders = [], []
    for _ in range(runs):
        spent = [0.0]
        start = time.perf_counter()
        frames = PreviewEngine().generate(r)  # planning counts as rendering
        spent[0] += time.perf_counter() - start
        encode_frames(_timed(frames, spent), out, fmt="MP4", width=r.width, height=r.height, fps=r.fps)
        totals.append(time.perf_counter() - start)
        renders.append(spent[0])
    kept = list(PreviewEngine().generate(r))
    floors = []
    for _ in range(runs):
        start = time.perf_counter()
        encode_frames(iter(kept), out, fmt="MP4", width=r.width, height=r.height, fps=r.fps)
        floors.append(time.perf_counter() - start)
    total, render = statistics.median(totals), statistics.median(renders)
    return {
        "case": case.name,
        "width": r.width,
        "height": r.height,
        "frames": r.num_frames,
        "total_s": round(total, 3),
        "render_s": round(render, 3),
        "encode_s": round(total - render, 3),
        "render_ms_per_frame": round(1000.0 * render / r.num_frames, 2),
        "encoder_floor_s": round(statistics.median(floors), 3),
        "target_s": case.target_s,
        "ok": None if case.target_s is None else total <= case.target_s,
        "runs": runs,
    }


_RSS_CHILD = """
import resource, sys
from pathlib import Path
from cinefuse.generation.base import GenerationRequest
from cinefuse.generation.preview import PreviewEngine
from cinefuse.media.video import encode_frames
r = GenerationRequest(prompt=sys.argv[1], width=1920, height=1080, fps=24, num_frames=192, seed=42)
encode_frames(PreviewEngine().generate(r), Path(sys.argv[2]), fmt="MP4", width=1920, height=1080, fps=24)
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm)
"""


def peak_rss_mb(out: Path) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh process running a 1080p 8 s 24 fps job: ``ru_maxrss`` and
    the kernel's VmHWM of the child's own address space.

    Linux carries the parent's resident size at fork into the child's ``ru_maxrss`` (it
    survives exec), so this runs before the benchmark holds any frames; VmHWM, which does
    not inherit, is the cross-check.
    """
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, PROMPT, str(out)], check=True, capture_output=True, text=True
    )
    maxrss, hwm = done.stdout.strip().splitlines()[-1].split()
    return int(maxrss) / 1024.0, int(hwm) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="only the two target cases and RSS")
    parser.add_argument("--json", type=Path, default=Path("bench/results/preview.json"))
    args = parser.parse_args()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.mp4"
        rss, hwm = peak_rss_mb(out)  # first, while this process is still small
        for case in cases(args.quick):
            rows.append(run_case(case, args.runs, out))
            row = rows[-1]
            print(f"  {row['case']}: {row['total_s']} s", file=sys.stderr)
    header = (
        f"{'case':34} {'total s':>8} {'render s':>9} {'encode s':>9} {'ms/frame':>9} {'enc floor':>10} {'target':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        target = "" if row["target_s"] is None else f"{row['target_s']}{' ok' if row['ok'] else ' MISS'}"
        print(
            f"{row['case']:34} {row['total_s']:>8} {row['render_s']:>9} {row['encode_s']:>9} "
            f"{row['render_ms_per_frame']:>9} {row['encoder_floor_s']:>10} {target:>7}"
        )
    rss_ok = rss <= TARGET_RSS_MB
    print(
        f"peak RSS, 1080p 8 s 24 fps (192 frames) render+encode: {rss:.0f} MB ru_maxrss, {hwm:.0f} MB VmHWM "
        f"(target {TARGET_RSS_MB:.0f} MB {'ok' if rss_ok else 'MISS'})"
    )
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": len(__import__("os").sched_getaffinity(0)),
            "platform": platform.platform(),
        },
        "cases": rows,
        "peak_rss_mb_1080p_8s_24fps": round(rss, 1),
        "peak_vmhwm_mb_1080p_8s_24fps": round(hwm, 1),
        "peak_rss_ok": rss_ok,
        "bench_process_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
