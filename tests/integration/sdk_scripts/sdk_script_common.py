"""What the two SDK driver scripts share: arguments, server URLs, JSON output, downloads.

Imported by ``runware_ws.py`` and ``runware_sdk_client.py``, which run as scripts with an
SDK venv's python (their folder is then on ``sys.path``). Standard library only: the SDK
venvs hold the SDK and nothing of cinefuse.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MODEL = "pixverse:1@3"
CONNECT_TIMEOUT_S = 30.0
DOWNLOAD_TIMEOUT_S = 60.0


class ExpectedAuthErrorMissing(Exception):
    pass


def parse_args(
    description: str,
    jobs: tuple[str, ...],
    argv: list[str] | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
) -> argparse.Namespace:
    """Common options, plus the script's own (``add_arguments``, which must define
    ``--expect-auth-error``). Sets ``base_url``, ``http_url``, ``ws_url`` and ``jobs``."""
    parser = argparse.ArgumentParser(description=description)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--base-url", help="server root, e.g. http://127.0.0.1:8000")
    where.add_argument("--port", type=int, help="shorthand for --base-url http://127.0.0.1:PORT")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--image", type=Path, help="PNG to upload (required unless auth-error mode)")
    parser.add_argument("--out-dir", type=Path, help="where videos are saved (default: next to --image)")
    parser.add_argument("--jobs", default=",".join(jobs), help=f"comma-separated subset of {jobs}")
    parser.add_argument("--resolution", default="360p")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--fps", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--timeout", type=float, default=900.0, help="overall limit, seconds")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    add_arguments(parser)
    args = parser.parse_args(argv)

    base = args.base_url or f"http://127.0.0.1:{args.port}"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        parser.error(f"--base-url must be http(s)://host:port, got {base!r}")
    args.base_url = f"{parts.scheme}://{parts.netloc}"
    args.http_url = f"{args.base_url}/v1"
    args.ws_url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/v1"
    chosen = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = sorted(set(chosen) - set(jobs))
    if unknown or not chosen:
        parser.error(f"--jobs: unknown or empty {unknown or chosen}; choose from {jobs}")
    args.jobs = chosen
    if not args.expect_auth_error:
        if args.image is None:
            parser.error("--image is required")
        if not args.image.is_file():
            parser.error(f"--image {args.image} does not exist")
        if args.out_dir is None:
            args.out_dir = args.image.parent
    return args


def emit(payload: dict[str, Any]) -> None:
    """The script's one JSON line on stdout (what the test reads)."""
    print(json.dumps(payload, default=str), flush=True)


def download(url: str, dest: Path) -> tuple[int, str]:
    """Fetch ``url`` into ``dest``; (byte count, Content-Type)."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        body = response.read()
        content_type = response.headers.get("Content-Type", "")
    dest.write_bytes(body)
    return len(body), content_type
