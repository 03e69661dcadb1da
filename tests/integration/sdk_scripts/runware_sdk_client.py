"""Drive a cinefuse server with the official PyPI ``runware-sdk`` SDK (REST or WebSocket).

Run with the python of the ``runware-sdk`` venv (tests/integration/sdk_venvs.py): the SDK
is the client under test and must be used exactly as a customer would.

Normal mode: connect (a no-op on REST), ``image_upload`` a PNG as a data URI, ``run`` one
``videoInference`` task per job for model ``pixverse:1@3`` (async delivery, the SDK
default: ACK, then the SDK's own getResponse polling), download every ``videoURL`` into
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
JOBS = ("i2v", "i2v_plain", "t2v")
PROMPTS = {
    "i2v": "the camera slowly pushes in on the scene, soft evening light",
    "i2v_plain": "gentle wind moves through the scene, cinematic",
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
    parser.add_argument("--transport", choices=("rest", "websocket"), required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--image", type=Path, help="PNG to upload (required unless auth-error mode)")
    parser.add_argument("--out-dir", type=Path, help="where videos are saved (default: next to --image)")
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"comma-separated subset of {JOBS}")
    parser.add_argument("--resolution", default="360p")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--fps", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--timeout", type=float, default=900.0, help="overall limit, seconds")
    parser.add_argument("--expect-auth-error", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = parser.parse_args(argv)

    base = args.base_url or f"http://127.0.0.1:{args.port}"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        parser.error(f"--base-url must be http(s)://host:port, got {base!r}")
    args.base_url = f"{parts.scheme}://{parts.netloc}"
    args.http_url = f"{args.base_url}/v1"
    args.ws_url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/v1"
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = sorted(set(jobs) - set(JOBS))
    if unknown or not jobs:
        parser.error(f"--jobs: unknown or empty {unknown or jobs}; choose from {JOBS}")
    args.jobs = jobs
    if not args.expect_auth_error:
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
    # RunwareError: `code` is the SDK's category ("auth", "validation", ...), not the raw code.
    for attr in ("code", "parameter", "task_type", "task_uuid", "status_code"):
        value = getattr(exc, attr, None)
        if value is not None:
            info[attr] = value
    return info


def download(url: str, dest: Path) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        body = response.read()
        content_type = response.headers.get("Content-Type", "")
    dest.write_bytes(body)
    return len(body), content_type


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
    await asyncio.wait_for(client.connect(), timeout=CONNECT_TIMEOUT_S)
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
    raise ExpectedAuthErrorMissing("the SDK accepted a key expected to be rejected")


def job_params(args: argparse.Namespace, job: str, image_uuid: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        # Explicit taskType: otherwise the SDK asks schemas.runware.ai which task the model runs.
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": MODEL,
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
        size, content_type = download(url, dest)
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
            emit({**base, "ok": True, "auth_error": auth_error})
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
            await asyncio.wait_for(client.close(), timeout=10)
        except Exception as exc:
            print(f"close failed: {exc!r}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        plan = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "api_key"}
        emit({"dry_run": True, **plan})
        return 0
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
