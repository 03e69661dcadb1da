"""Drive a cinefuse server with the official PyPI ``runware`` SDK (WebSocket).

Run with the python of the ``runware`` venv (tests/integration/sdk_venvs.py), not the
project's: the SDK is the client under test and must be used exactly as a customer would.

Normal mode: connect, ``uploadImage`` a PNG, submit ``videoInference`` jobs for model
``pixverse:1@3`` (async delivery, the SDK default), wait for each with the SDK's own
``getResponse`` polling, download every ``videoURL`` into ``--out-dir`` and print one JSON
line. Jobs (``--jobs``): ``i2v`` (``inputs.frameImages`` = the upload's UUID, frame "first"),
``i2v_legacy`` (top-level ``frameImages=[IFrameImage(inputImage=UUID)]``), ``t2v`` (prompt only).

``--expect-auth-error connect``: the key is expected to be rejected; succeed when
``connect()`` comes back unauthenticated. ``--expect-auth-error call``: also make one API
call and succeed when the SDK raises its auth ``ConnectionError``.

Exit status: 0 success, 1 SDK or other error (printed as JSON on stdout, traceback on
stderr), 2 bad arguments, 3 an expected auth error did not happen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import traceback
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MODEL = "pixverse:1@3"
JOBS = ("i2v", "i2v_legacy", "t2v")
PROMPTS = {
    "i2v": "the camera slowly pushes in on the scene, soft evening light",
    "i2v_legacy": "gentle wind moves through the scene, cinematic",
    "t2v": "a red paper boat drifting on a calm lake at sunset, cinematic",
}
CONNECT_TIMEOUT_S = 30.0
DOWNLOAD_TIMEOUT_S = 60.0


class ExpectedAuthErrorMissing(Exception):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--base-url", help="server root, e.g. http://127.0.0.1:8000")
    where.add_argument("--port", type=int, help="shorthand for --base-url http://127.0.0.1:PORT")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--image", type=Path, help="PNG to upload (required unless auth-error mode)")
    parser.add_argument("--out-dir", type=Path, help="where videos are saved (default: next to --image)")
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"comma-separated subset of {JOBS}")
    parser.add_argument("--resolution", default="360p")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--fps", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--timeout", type=float, default=900.0, help="overall limit, seconds")
    parser.add_argument("--expect-auth-error", choices=("connect", "call"))
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = parser.parse_args(argv)

    base = args.base_url or f"http://127.0.0.1:{args.port}"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        parser.error(f"--base-url must be http(s)://host:port, got {base!r}")
    args.base_url = f"{parts.scheme}://{parts.netloc}"
    args.ws_url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/v1"
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = sorted(set(jobs) - set(JOBS))
    if unknown or not jobs:
        parser.error(f"--jobs: unknown or empty {unknown or jobs}; choose from {JOBS}")
    args.jobs = jobs
    if args.expect_auth_error is None:
        if args.image is None:
            parser.error("--image is required")
        if not args.image.is_file():
            parser.error(f"--image {args.image} does not exist")
        if args.out_dir is None:
            args.out_dir = args.image.parent
    return args


def emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, default=str), flush=True)


def error_info(exc: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    code = getattr(exc, "code", None)
    if code is not None:
        info["code"] = code
    data = getattr(exc, "error_data", None)
    if isinstance(data, dict):
        info["error_data"] = data
    return info


def download(url: str, dest: Path) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        body = response.read()
        content_type = response.headers.get("Content-Type", "")
    dest.write_bytes(body)
    return len(body), content_type


async def connect(client: Any) -> float:
    start = time.monotonic()
    # runware 0.5.24 waits for the auth reply without a timeout of its own.
    await asyncio.wait_for(client.connect(), timeout=CONNECT_TIMEOUT_S)
    return time.monotonic() - start


async def check_auth_error(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    connect_s = await connect(client)
    if client.isAuthenticated():
        raise ExpectedAuthErrorMissing("connect() authenticated with a key expected to be rejected")
    result: dict[str, Any] = {
        "stage": "connect",
        "connect_s": round(connect_s, 3),
        # The SDK keeps the server's message here; there is no public accessor.
        "message": getattr(client, "_invalidAPIkey", None),
    }
    if args.expect_auth_error == "connect":
        return result
    start = time.monotonic()
    try:
        # Any call starts with ensureConnection(), which is where the SDK raises.
        await client.getResponse(taskUUID=str(uuid.uuid4()))
    except ConnectionError as exc:
        result.update(stage="call", call_s=round(time.monotonic() - start, 3), error=error_info(exc))
        return result
    raise ExpectedAuthErrorMissing("an API call succeeded with a key expected to be rejected")


async def run_jobs(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    from runware import IFrameImage, IInputFrame, IVideoInference, IVideoInputs

    report: dict[str, Any] = {"connect_s": round(await connect(client), 3)}
    if not client.isAuthenticated():
        raise ConnectionError(f"authentication failed: {getattr(client, '_invalidAPIkey', None)}")

    start = time.monotonic()
    upload = await client.uploadImage(str(args.image.resolve()))
    report["upload"] = {
        "imageUUID": upload.imageUUID,
        "imageURL": upload.imageURL,
        "taskUUID": upload.taskUUID,
        "elapsed_s": round(time.monotonic() - start, 3),
    }

    requests: dict[str, Any] = {}
    for job in args.jobs:
        common: dict[str, Any] = {
            "model": MODEL,
            "positivePrompt": PROMPTS[job],
            "taskUUID": str(uuid.uuid4()),
            "resolution": args.resolution,
            "duration": args.duration,
            "fps": args.fps,
            "seed": args.seed,
            "numberResults": 1,
            "includeCost": True,
        }
        if job == "i2v":
            frame = IInputFrame(image=upload.imageUUID, frame="first")
            requests[job] = IVideoInference(**common, inputs=IVideoInputs(frameImages=[frame]))
        elif job == "i2v_legacy":
            requests[job] = IVideoInference(**common, frameImages=[IFrameImage(inputImage=upload.imageUUID)])
        else:
            requests[job] = IVideoInference(**common)

    submitted: dict[str, float] = {}
    acks: dict[str, Any] = {}
    for job, request in requests.items():
        submitted[job] = time.monotonic()
        acks[job] = await client.videoInference(requestVideo=request)

    async def wait(job: str) -> list[Any]:
        return list(await client.getResponse(taskUUID=requests[job].taskUUID, numberResults=1))

    videos_per_job = await asyncio.gather(*(wait(job) for job in requests))

    results: list[dict[str, Any]] = []
    for job, videos in zip(requests, videos_per_job, strict=True):
        elapsed = time.monotonic() - submitted[job]
        ack = acks[job]
        if len(videos) != 1:
            raise RuntimeError(f"{job}: expected 1 video, got {len(videos)}: {videos!r}")
        video = videos[0]
        if not video.videoURL:
            raise RuntimeError(f"{job}: result has no videoURL: {video!r}")
        dest = args.out_dir / f"runware_ws_{job}.mp4"
        size, content_type = download(video.videoURL, dest)
        results.append(
            {
                "job": job,
                "taskUUID": video.taskUUID,
                "ack": {"taskType": getattr(ack, "taskType", None), "taskUUID": getattr(ack, "taskUUID", None)},
                "status": video.status,
                "videoUUID": video.videoUUID,
                "videoURL": video.videoURL,
                "cost": video.cost,
                "seed": video.seed,
                "path": str(dest),
                "bytes": size,
                "content_type": content_type,
                "elapsed_s": round(elapsed, 3),
            }
        )
    report["results"] = results
    return report


async def amain(args: argparse.Namespace) -> int:
    import runware
    from runware import Runware

    base: dict[str, Any] = {
        "sdk": "runware",
        "sdk_version": getattr(runware, "__version__", None),
        "transport": "websocket",
        "url": args.ws_url,
    }
    client = Runware(api_key=args.api_key, url=args.ws_url)
    start = time.monotonic()
    try:
        if args.expect_auth_error:
            auth_error = await asyncio.wait_for(check_auth_error(args, client), timeout=args.timeout)
            emit({**base, "ok": True, "auth_error": auth_error, "elapsed_s": round(time.monotonic() - start, 3)})
        else:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            report = await asyncio.wait_for(run_jobs(args, client), timeout=args.timeout)
            emit({**base, "ok": True, **report, "elapsed_s": round(time.monotonic() - start, 3)})
        return 0
    except ExpectedAuthErrorMissing as exc:
        emit({**base, "ok": False, "error": error_info(exc)})
        return 3
    except Exception as exc:
        traceback.print_exc()
        emit({**base, "ok": False, "error": error_info(exc), "elapsed_s": round(time.monotonic() - start, 3)})
        return 1
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), timeout=10)
        except Exception as exc:
            print(f"disconnect failed: {exc!r}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        plan = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "api_key"}
        emit({"dry_run": True, **plan})
        return 0
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
