"""The ``cinefuse`` command line: generate renders a real file; submit drives a live server
(uploads, progress, downloads, the server's errors); keys manages the store; doctor reports."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.integration.client import post, wait_done
from tests.integration.conftest import LiveServer, free_port, start_live_server
from typer.testing import CliRunner

from cinefuse.cli import app
from cinefuse.media.probe import probe
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.tasks import VideoInferenceTask

runner = CliRunner()


def test_generate_writes_the_clip_it_was_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "clip.webm"
    result = runner.invoke(
        app,
        [
            "generate",
            "a snowy forest at night",
            "--camera",
            "pan_left",
            "--style",
            "anime",
            "--resolution",
            "360p",
            "--format",
            "WEBM",
            "--fps",
            "24",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert (info.codec, info.width, info.height, info.frame_count) == ("vp9", 640, 360, 120)


def test_generate_with_first_frame_follows_its_aspect(tmp_path: Path) -> None:
    image = tmp_path / "first.png"
    Image.fromarray(np.full((600, 600, 3), 120, np.uint8)).save(image)
    out = tmp_path / "clip.mp4"
    result = runner.invoke(
        app, ["generate", "a grey wall", "--image", str(image), "--resolution", "540p", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (probe(out).width, probe(out).height) == (540, 540)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--duration", "6"], "unsupportedDuration"),
        (["--camera", "dolly"], "unsupportedCameraMovement"),
        (["--style", "anime", "--resolution", "1080p"], "unsupportedResolution"),
    ],
)
def test_generate_validates_like_the_api(tmp_path: Path, args: list[str], code: str) -> None:
    result = runner.invoke(app, ["generate", "a cat", *args, "-o", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2 and code in result.output
    assert not (tmp_path / "x.mp4").exists()


def test_keys_and_doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEFUSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CINEFUSE_API_KEYS", raising=False)
    first = runner.invoke(app, ["keys"])
    again = runner.invoke(app, ["keys"])
    assert first.exit_code == 0 and first.output == again.output and len(first.output.strip()) >= 40
    doctor = runner.invoke(app, ["doctor"])
    assert doctor.exit_code == 0
    assert (
        "[ok] codecs" in doctor.output and "[ok] database" in doctor.output and "[ok] engine preview" in doctor.output
    )


# ---------------------------------------------------------------------------- against a live server
#
# ``submit`` and ``keys`` run in-process (CliRunner) against a real ``cinefuse serve`` whose
# data dir they share, so ``keys create``/``revoke`` write the store the server reads.


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("cli-server"), {"CINEFUSE_SWEEP_INTERVAL": "0.5"})
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def cli_env(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    """The command line sees the server's data dir and key, as a shell beside it would."""
    for name in [name for name in os.environ if name.startswith("CINEFUSE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CINEFUSE_DATA_DIR", str(server.data_dir))
    monkeypatch.setenv("CINEFUSE_API_KEY", server.api_key)
    return server


def submit_args(server: LiveServer, *args: str) -> list[str]:
    return ["submit", "a lighthouse on a cliff at sunset", "--url", server.base_url, "-r", "360p", *args]


def save_image(path: Path, width: int, height: int, value: int = 120) -> Path:
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path)
    return path


def test_submit_downloads_every_result_to_numbered_files(cli_env: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    result = runner.invoke(app, submit_args(cli_env, "-n", "2", "--seed", "7", "--include-cost", "-o", str(out)))
    assert result.exit_code == 0, result.output
    written = [tmp_path / "clip-1.mp4", tmp_path / "clip-2.mp4"]
    for path, seed in zip(written, (7, 8), strict=True):
        info = probe(path)
        assert (info.codec, info.width, info.height, info.frame_count) == ("h264", 640, 360, 80)
        assert f"wrote {path} (" in result.stdout and f"seed {seed}, cost 0.1 USD" in result.stdout
    assert "100%" in result.stderr  # the progress bar, on stderr


def test_submit_uploads_local_images_first(cli_env: LiveServer, tmp_path: Path) -> None:
    first = save_image(tmp_path / "first.png", 600, 600)
    last = save_image(tmp_path / "last.png", 600, 600, 200)
    out = tmp_path / "clip.webm"
    args = submit_args(cli_env, "-i", str(first), "-i", f"last={last}", "--format", "webm", "-o", str(out))
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert (info.codec, info.width, info.height) == ("vp9", 360, 360)  # the first image's aspect, at 360p


def test_submit_no_wait_prints_only_the_task_uuid(cli_env: LiveServer) -> None:
    result = runner.invoke(app, submit_args(cli_env, "--no-wait"))
    assert result.exit_code == 0, result.output
    task_uuid = result.stdout.strip()
    assert str(uuid.UUID(task_uuid)) == task_uuid
    [item] = wait_done(cli_env.base_url, cli_env.api_key, task_uuid)["data"]
    assert item["status"] == "success"


@pytest.mark.parametrize(
    ("args", "line", "exit_code"),
    [
        (["-d", "8", "-r", "1080p"], "error: unsupportedDuration (duration): Invalid value for duration", 2),
        (["--camera", "dolly"], "error: unsupportedCameraMovement (providerSettings.pixverse.cameraMovement): ", 2),
        (["--width", "640"], "error: incompatibleParameters (height): width and height must be given together", 2),
        (["--api-key", "not-a-key"], "error: invalidApiKey: Invalid API key.", 2),
        (["-i", "no-such-file.png"], "error: invalidImage (inputs.frameImages[0]): not a file", 2),
    ],
)
def test_submit_reports_the_servers_code_and_parameter(
    cli_env: LiveServer, args: list[str], line: str, exit_code: int
) -> None:
    result = runner.invoke(app, submit_args(cli_env, *args))
    assert result.exit_code == exit_code, result.output
    assert result.stderr.startswith(line), result.stderr
    assert result.stdout == ""


def test_submit_reports_an_unreachable_server(cli_env: LiveServer) -> None:
    result = runner.invoke(app, ["submit", "a lighthouse", "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1 and result.stderr.startswith("error: networkError: ConnectError"), result.output


def test_submit_without_a_key_for_a_remote_server_is_refused(
    cli_env: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CINEFUSE_API_KEY")
    result = runner.invoke(app, ["submit", "a lighthouse", "--url", "http://192.0.2.1:8000"])
    assert result.exit_code == 2 and result.stderr.startswith("error: missingApiKey"), result.output


@pytest.mark.parametrize("command", ["generate", "submit"])
def test_json_prints_the_request_the_server_takes(cli_env: LiveServer, tmp_path: Path, command: str) -> None:
    image = save_image(tmp_path / "first.png", 640, 360)
    args = [command, "a lighthouse", "--json", "-i", f"first={image}", "--camera", "zoom_in", "--seed", "3"]
    args += ["-r", "360p", "--safety", "fast", "--ttl", "3600", "--motion", "fast", "-n", "2", "-d", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [task] = json.loads(result.stdout)
    assert task["inputs"]["frameImages"][0]["frame"] == "first"
    assert task["inputs"]["frameImages"][0]["image"].startswith("data:image/png;base64,")
    assert task["providerSettings"] == {"pixverse": {"cameraMovement": "zoom_in", "motionMode": "fast"}}
    assert (task["seed"], task["numberResults"], task["duration"], task["safety"]) == (3, 2, 5, {"mode": "fast"})
    assert isinstance(parse_task(task), VideoInferenceTask)
    reply = httpx.post(
        f"{cli_env.base_url}/v1?dryRun=1", json=[task], headers={"Authorization": f"Bearer {cli_env.api_key}"}
    )
    assert reply.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"], "dryRun": True}]}


def test_json_refuses_an_invalid_task(cli_env: LiveServer) -> None:
    result = runner.invoke(app, ["generate", "a lighthouse", "--json", "--style", "anime", "-d", "8"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: unsupportedDuration (duration): With cameraMovement, effect or style")


def test_generate_several_results_with_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEFUSE_DATA_DIR", str(tmp_path))
    args = ["generate", "a red boat", "-r", "360p", "-n", "2", "--seed", "5", "--include-cost"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "boat.mov"), "--format", "mov"])
    assert result.exit_code == 0, result.output
    assert [probe(tmp_path / f"boat-{i}.mov").frame_count for i in (1, 2)] == [80, 80]
    assert "seed 5)" in result.stdout and "seed 6)" in result.stdout and "cost: 0.2000 USD" in result.stdout


def key_accepted(server: LiveServer, key: str) -> bool:
    """Whether the server knows ``key`` (a lookup of a random task: 400 known, 401 not)."""
    reply = post(server.base_url, key, [{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
    return reply.status_code != 401


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_keys_create_list_and_revoke_through_the_store(cli_env: LiveServer) -> None:
    created = runner.invoke(app, ["keys", "create", "--label", "ci runner"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert len(key) >= 40 and "\n" not in key and "not shown again" in created.stderr
    assert wait_for(lambda: key_accepted(cli_env, key)), "the server never accepted the new key"

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "PREFIX", "LABEL", "CREATED", "REVOKED"]
    [row] = [r for r in rows if "ci runner" in r]
    key_id = row.split()[0]
    assert f"{key[:8]}..." in row and row.rstrip().endswith("-")
    assert key not in listed.stdout  # only the prefix is ever shown

    revoked = runner.invoke(app, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0
    assert revoked.stdout.strip() == f"key {key_id} revoked; 0 queued task(s) cancelled, 0 running task(s) stopping"
    assert wait_for(lambda: not key_accepted(cli_env, key)), "the server still accepts the revoked key"
    again = runner.invoke(app, ["keys", "revoke", key_id])
    assert again.exit_code == 1 and again.stderr.startswith(f"error: keyNotFound: no key {key_id}")
    [row] = [r for r in runner.invoke(app, ["keys", "list"]).stdout.splitlines() if "ci runner" in r]
    assert not row.rstrip().endswith("-")  # a revocation time


def test_plain_keys_prints_one_bare_key_per_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEFUSE_API_KEYS", "first-key, second-key")
    result = runner.invoke(app, ["keys"])
    assert result.exit_code == 0 and result.stdout == "first-key\nsecond-key\n"
