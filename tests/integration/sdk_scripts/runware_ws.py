"""Drive a cinefuse server with the official PyPI ``runware`` SDK (WebSocket).

Run with the python of the ``runware`` venv (tests/integration/sdk_venvs.py), not the
project's: the SDK is the client under test and must be used exactly as a customer would.

Normal mode: connect, ``uploadImage`` a PNG, submit ``videoInference`` jobs for model
``pixverse:1@3`` (async delivery, the SDK default), wait for each with the SDK's own
``getResponse`` polling, shared.download every ``videoURL`` into ``--out-dir`` and print one JSON
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
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import sdk_script_common as shared

JOBS = ("i2v", "i2v_legacy", "t2v")
PROMPTS = {
    "i2v": "the camera slowly pushes in on the scene, soft evening light",
    "i2v_legacy": "gentle wind moves through the scene, cinematic",
    "t2v": "a red paper boat drifting on a calm lake at sunset, cinematic",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def own(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--expect-auth-error", choices=("connect", "call"))

    return shared.parse_args(__doc__.splitlines()[0], JOBS, argv, own)


def error_info(exc: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    code = getattr(exc, "code", None)
    if code is not None:
        info["code"] = code
    data = getattr(exc, "error_data", None)
    if isinstance(data, dict):
        info["error_data"] = data
    return info


async def connect(client: Any) -> float:
    start = time.monotonic()
    # runware 0.5.24 waits for the auth reply without a timeout of its own.
    await asyncio.wait_for(client.connect(), timeout=shared.CONNECT_TIMEOUT_S)
    return time.monotonic() - start


async def check_auth_error(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    connect_s = await connect(client)
    if client.isAuthenticated():
        raise shared.ExpectedAuthErrorMissing("connect() authenticated with a key expected to be rejected")
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
    raise shared.ExpectedAuthErrorMissing("an API call succeeded with a key expected to be rejected")


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
            "model": shared.MODEL,
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
        size, content_type = shared.download(video.videoURL, dest)
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
            shared.emit({**base, "ok": True, "auth_error": auth_error, "elapsed_s": round(time.monotonic() - start, 3)})
        else:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            report = await asyncio.wait_for(run_jobs(args, client), timeout=args.timeout)
            shared.emit({**base, "ok": True, **report, "elapsed_s": round(time.monotonic() - start, 3)})
        return 0
    except shared.ExpectedAuthErrorMissing as exc:
        shared.emit({**base, "ok": False, "error": error_info(exc)})
        return 3
    except Exception as exc:
        traceback.print_exc()
        shared.emit({**base, "ok": False, "error": error_info(exc), "elapsed_s": round(time.monotonic() - start, 3)})
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
        shared.emit({"dry_run": True, **plan})
        return 0
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
