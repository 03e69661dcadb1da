"""Drive a cinefuse server with the official PyPI ``runware-sdk`` SDK (REST or WebSocket).

Run with the python of the ``runware-sdk`` venv (tests/integration/sdk_venvs.py): the SDK
is the client under test and must be used exactly as a customer would.

Normal mode: connect (a no-op on REST), ``image_upload`` a PNG as a data URI, ``run`` one
``videoInference`` task per job for model ``pixverse:1@3`` (async delivery, the SDK
default: ACK, then the SDK's own getResponse polling), shared.download every ``videoURL`` into
``--out-dir`` and print one JSON line. Jobs (``--jobs``): ``i2v``
(``inputs.frameImages=[{"image": UUID, "frame": "first"}]``), ``i2v_plain``
(``inputs.frameImages=[UUID]``), ``t2v`` (prompt only).

``--expect-auth-error``: the key is expected to be rejected; succeed when the SDK raises
its auth error (at ``connect()`` on WebSocket, at the first call on REST).

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

JOBS = ("i2v", "i2v_plain", "t2v")
PROMPTS = {
    "i2v": "the camera slowly pushes in on the scene, soft evening light",
    "i2v_plain": "gentle wind moves through the scene, cinematic",
    "t2v": "a red paper boat drifting on a calm lake at sunset, cinematic",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def own(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--transport", choices=("rest", "websocket"), required=True)
        parser.add_argument("--expect-auth-error", action="store_true")

    return shared.parse_args(__doc__.splitlines()[0], JOBS, argv, own)


def error_info(exc: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    # RunwareError: `code` is the SDK's category ("auth", "validation", ...), not the raw code.
    for attr in ("code", "parameter", "task_type", "task_uuid", "status_code"):
        value = getattr(exc, attr, None)
        if value is not None:
            info[attr] = value
    return info


def make_client(args: argparse.Namespace) -> Any:
    from runware import Runware

    return Runware(
        api_key=args.api_key,
        transport=args.transport,
        ws_base_url=args.ws_url,
        http_base_url=args.http_url,
    )


async def connect(client: Any) -> float:
    start = time.monotonic()
    await asyncio.wait_for(client.connect(), timeout=shared.CONNECT_TIMEOUT_S)
    return time.monotonic() - start


async def check_auth_error(client: Any) -> dict[str, Any]:
    from runware import RunwareError

    start = time.monotonic()
    stage = "connect"
    try:
        await connect(client)
        stage = "call"
        await client.get_response({"taskUUID": str(uuid.uuid4())})
    except RunwareError as exc:
        return {"stage": stage, "elapsed_s": round(time.monotonic() - start, 3), "error": error_info(exc)}
    raise shared.ExpectedAuthErrorMissing("the SDK accepted a key expected to be rejected")


def job_params(args: argparse.Namespace, job: str, image_uuid: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        # Explicit taskType: otherwise the SDK asks schemas.runware.ai which task the model runs.
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": shared.MODEL,
        "positivePrompt": PROMPTS[job],
        "resolution": args.resolution,
        "duration": args.duration,
        "fps": args.fps,
        "seed": args.seed,
        "numberResults": 1,
        "includeCost": True,
    }
    if job == "i2v":
        params["inputs"] = {"frameImages": [{"image": image_uuid, "frame": "first"}]}
    elif job == "i2v_plain":
        params["inputs"] = {"frameImages": [image_uuid]}
    return params


async def run_jobs(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    from runware import file_to_data_uri

    report: dict[str, Any] = {"connect_s": round(await connect(client), 3)}

    start = time.monotonic()
    uploaded = await client.image_upload({"image": file_to_data_uri(args.image.resolve())})
    if len(uploaded) != 1:
        raise RuntimeError(f"image_upload: expected 1 item, got {uploaded!r}")
    upload = uploaded[0]
    report["upload"] = {
        "imageUUID": upload.get("imageUUID"),
        "imageURL": upload.get("imageURL"),
        "taskUUID": upload.get("taskUUID"),
        "elapsed_s": round(time.monotonic() - start, 3),
    }
    if not upload.get("imageUUID") or not upload.get("imageURL"):
        raise RuntimeError(f"image_upload: imageUUID/imageURL missing in {upload!r}")

    params = {job: job_params(args, job, upload["imageUUID"]) for job in args.jobs}

    async def timed_run(job: str) -> tuple[list[dict[str, Any]], float]:
        submitted = time.monotonic()
        items = await client.run(params[job])
        return list(items), time.monotonic() - submitted

    outcomes = await asyncio.gather(*(timed_run(job) for job in params))

    results: list[dict[str, Any]] = []
    for job, (items, elapsed) in zip(params, outcomes, strict=True):
        if len(items) != 1:
            raise RuntimeError(f"{job}: expected 1 result, got {len(items)}: {items!r}")
        video = items[0]
        url = video.get("videoURL")
        if not url:
            raise RuntimeError(f"{job}: result has no videoURL: {video!r}")
        dest = args.out_dir / f"runware_sdk_{args.transport}_{job}.mp4"
        size, content_type = shared.download(url, dest)
        results.append(
            {
                "job": job,
                "taskUUID": video.get("taskUUID"),
                "requestTaskUUID": params[job]["taskUUID"],
                "taskType": video.get("taskType"),
                "status": video.get("status"),
                "videoUUID": video.get("videoUUID"),
                "videoURL": url,
                "cost": video.get("cost"),
                "seed": video.get("seed"),
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

    base: dict[str, Any] = {
        "sdk": "runware-sdk",
        "sdk_version": getattr(runware, "__version__", None),
        "transport": args.transport,
        "url": args.http_url if args.transport == "rest" else args.ws_url,
    }
    client = make_client(args)
    start = time.monotonic()
    try:
        if args.expect_auth_error:
            auth_error = await asyncio.wait_for(check_auth_error(client), timeout=args.timeout)
            shared.emit({**base, "ok": True, "auth_error": auth_error})
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
            await asyncio.wait_for(client.close(), timeout=10)
        except Exception as exc:
            print(f"close failed: {exc!r}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        plan = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "api_key"}
        shared.emit({"dry_run": True, **plan})
        return 0
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
