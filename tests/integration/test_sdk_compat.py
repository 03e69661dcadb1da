"""The official Runware Python SDKs, unmodified, against a real ``cinefuse serve``.

Each SDK runs in its own cached venv (sdk_venvs.py; skipped when it cannot be built, e.g.
offline) as a subprocess script from sdk_scripts/, which prints one JSON line. See
docs/sdk-wire-notes.md for what each SDK sends and expects.

Timing: ``runware`` 0.5.24 waits up to 30 s per getResponse round for a finished item and
ignores ``processing`` replies, so unless the server pushes finished results to the socket
its jobs take ~33 s per unfinished round. With a wrong key its first call raises after
~0.5 s only if the server keeps the rejected socket open (~122 s if it closes it, a hang if
it closes with an error code): docs/sdk-wire-notes.md section 3.1.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LiveServer
from tests.integration.sdk_venvs import SdkVenv, SdkVenvUnavailable, ensure_sdk_venv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SCRIPTS = Path(__file__).resolve().parent / "sdk_scripts"
RUNWARE_WS = SCRIPTS / "runware_ws.py"
RUNWARE_SDK = SCRIPTS / "runware_sdk_client.py"

WIDTH, HEIGHT = 640, 360  # 360p at 16:9, which is also the test image's aspect ratio
DURATION_S, FPS = 5, 16
FRAMES = DURATION_S * FPS
COST_360P_PER_S = 0.02  # docs/api.md section 5 default
JOB_SCRIPT_TIMEOUT_S = 1200
AUTH_CONNECT_TIMEOUT_S = 60
#: long enough to tell "slow" (server closed the socket: ~122 s) from "hangs"
AUTH_CALL_TIMEOUT_S = 300
#: what a server that keeps the rejected socket open gets (measured ~0.5 s)
AUTH_CALL_PROMPT_S = 10


@pytest.fixture(scope="session")
def runware_venv() -> SdkVenv:
    return _venv_or_skip("runware")


@pytest.fixture(scope="session")
def runware_sdk_venv() -> SdkVenv:
    return _venv_or_skip("runware-sdk")


def _venv_or_skip(name: str) -> SdkVenv:
    try:
        return ensure_sdk_venv(name)
    except SdkVenvUnavailable as exc:
        pytest.skip(f"cannot build the {name!r} SDK venv (network needed for pip): {exc}")


@pytest.fixture(scope="module")
def frame_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640x360 PNG with structure (gradients, shapes, text) for the first frame."""
    import numpy as np
    from PIL import Image, ImageDraw

    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    rgb = np.stack(
        [
            255 * x / (WIDTH - 1),
            255 * y / (HEIGHT - 1),
            127.5 + 127.5 * np.sin(x / 37.0) * np.cos(y / 23.0),
        ],
        axis=-1,
    ).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 60, 240, 240), fill=(240, 200, 40), outline=(0, 0, 0), width=4)
    draw.rectangle((380, 120, 580, 300), fill=(30, 60, 200), outline=(255, 255, 255), width=3)
    draw.text((270, 20), "cinefuse sdk test", fill=(255, 255, 255))
    path = tmp_path_factory.mktemp("sdk-image") / "first_frame.png"
    image.save(path)
    return path


def _sdk_env() -> dict[str, str]:
    # No RUNWARE_* tuning or key from the developer's shell: the SDK defaults are under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWARE_", "CINEFUSE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run_script(venv: SdkVenv, script: Path, args: Sequence[str], timeout: float) -> dict[str, Any]:
    """Run an SDK script; return its JSON line. Fails with its output on a bad exit or a hang."""
    cmd = [str(venv.python), str(script), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_sdk_env(), check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{script.name} did not finish within {timeout:.0f}s (SDK hang?)\n"
            f"stdout:\n{_text(exc.stdout)}\nstderr:\n{_text(exc.stderr)[-6000:]}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    report: dict[str, Any] | None = json.loads(lines[-1]) if lines else None
    assert proc.returncode == 0 and report is not None and report.get("ok") is True, (
        f"{script.name} exit {proc.returncode} with {venv.name} {venv.versions}\n"
        f"report: {json.dumps(report, indent=1)}\nstderr:\n{proc.stderr[-6000:]}"
    )
    return report


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _job_args(server: LiveServer, api_key: str, image: Path, out_dir: Path, jobs: str) -> list[str]:
    return [
        "--base-url",
        server.base_url,
        "--api-key",
        api_key,
        "--image",
        str(image),
        "--out-dir",
        str(out_dir),
        "--jobs",
        jobs,
        "--resolution",
        "360p",
        "--duration",
        str(DURATION_S),
        "--fps",
        str(FPS),
        "--timeout",
        str(JOB_SCRIPT_TIMEOUT_S - 60),
    ]


def _check_upload(report: dict[str, Any]) -> None:
    upload = report["upload"]
    assert upload["imageUUID"], upload
    assert upload["imageURL"], upload


def _check_videos(report: dict[str, Any], server: LiveServer, jobs: Sequence[str]) -> None:
    from cinefuse.media.probe import probe

    results = report["results"]
    assert [r["job"] for r in results] == list(jobs)
    assert len({r["videoUUID"] for r in results}) == len(results), "videoUUIDs must be distinct"
    for result in results:
        where = f"{report['sdk']}/{report['transport']} job {result['job']}: {result}"
        assert result["status"] == "success", where
        assert result["videoUUID"], where
        assert result["videoURL"].startswith(server.base_url + "/"), where
        assert result["bytes"] > 1000, where
        assert result["content_type"].split(";")[0].strip() == "video/mp4", where
        assert result["cost"] == pytest.approx(COST_360P_PER_S * DURATION_S), where
        info = probe(result["path"])
        assert "mp4" in info.container, (where, info)
        assert info.codec == "h264", (where, info)
        assert (info.width, info.height) == (WIDTH, HEIGHT), (where, info)
        assert info.frame_count == FRAMES, (where, info)
        assert info.fps == pytest.approx(FPS, rel=0.01), (where, info)
        assert info.duration == pytest.approx(DURATION_S, rel=0.01), (where, info)


def test_runware_ws_sdk_generates_videos(
    live_server: LiveServer, runware_venv: SdkVenv, frame_png: Path, tmp_path: Path
) -> None:
    jobs = ("i2v", "i2v_legacy", "t2v")
    report = _run_script(
        runware_venv,
        RUNWARE_WS,
        _job_args(live_server, live_server.api_key, frame_png, tmp_path, ",".join(jobs)),
        JOB_SCRIPT_TIMEOUT_S,
    )
    _check_upload(report)
    _check_videos(report, live_server, jobs)


@pytest.mark.parametrize("transport", ["rest", "websocket"])
def test_runware_sdk_generates_videos(
    live_server: LiveServer, runware_sdk_venv: SdkVenv, frame_png: Path, tmp_path: Path, transport: str
) -> None:
    jobs = ("i2v", "i2v_plain", "t2v")
    report = _run_script(
        runware_sdk_venv,
        RUNWARE_SDK,
        [
            "--transport",
            transport,
            *_job_args(live_server, live_server.api_key, frame_png, tmp_path, ",".join(jobs)),
        ],
        JOB_SCRIPT_TIMEOUT_S,
    )
    _check_upload(report)
    _check_videos(report, live_server, jobs)
    for result in report["results"]:
        assert result["taskUUID"] == result["requestTaskUUID"], result
        assert result["taskType"] == "videoInference", result


def test_runware_ws_wrong_key_is_reported_at_connect(live_server: LiveServer, runware_venv: SdkVenv) -> None:
    """connect() must come back (not hang) and leave the client unauthenticated."""
    report = _run_script(
        runware_venv,
        RUNWARE_WS,
        [
            "--base-url",
            live_server.base_url,
            "--api-key",
            "wrong-" + live_server.api_key,
            "--expect-auth-error",
            "connect",
            "--timeout",
            str(AUTH_CONNECT_TIMEOUT_S - 10),
        ],
        AUTH_CONNECT_TIMEOUT_S,
    )
    auth = report["auth_error"]
    assert auth["stage"] == "connect", auth
    assert auth["connect_s"] < 10, auth
    assert auth["message"], auth  # the server's error message, kept by the SDK


def test_runware_ws_wrong_key_fails_the_first_call(live_server: LiveServer, runware_venv: SdkVenv) -> None:
    """The first API call raises the SDK's auth ConnectionError after its retries (bounded)."""
    report = _run_script(
        runware_venv,
        RUNWARE_WS,
        [
            "--base-url",
            live_server.base_url,
            "--api-key",
            "wrong-" + live_server.api_key,
            "--expect-auth-error",
            "call",
            "--timeout",
            str(AUTH_CALL_TIMEOUT_S - 20),
        ],
        AUTH_CALL_TIMEOUT_S,
    )
    auth = report["auth_error"]
    assert auth["stage"] == "call", auth
    assert auth["error"]["type"] == "ConnectionError", auth
    assert auth["call_s"] < AUTH_CALL_PROMPT_S, (
        "runware only fails fast when the server keeps the socket open after a rejected "
        f"auth (answering later auth tasks and pings): {auth}"
    )


@pytest.mark.parametrize("transport", ["rest", "websocket"])
def test_runware_sdk_wrong_key_is_an_auth_error(
    live_server: LiveServer, runware_sdk_venv: SdkVenv, transport: str
) -> None:
    report = _run_script(
        runware_sdk_venv,
        RUNWARE_SDK,
        [
            "--transport",
            transport,
            "--base-url",
            live_server.base_url,
            "--api-key",
            "wrong-" + live_server.api_key,
            "--expect-auth-error",
            "--timeout",
            str(AUTH_CONNECT_TIMEOUT_S - 10),
        ],
        AUTH_CONNECT_TIMEOUT_S,
    )
    auth = report["auth_error"]
    assert auth["elapsed_s"] < 10, auth
    assert auth["error"]["code"] == "auth", auth
    assert auth["stage"] == ("call" if transport == "rest" else "connect"), auth
    if transport == "rest":
        assert auth["error"]["status_code"] == 401, auth
