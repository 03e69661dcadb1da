"""Every snippet of docs/snippets.md is a file under docs/snippets/, run here against a live server.

The page's code blocks must equal the files (so what readers copy is what runs), and every
file must appear on the page. Each snippet then runs as a reader would: in an empty folder,
with ``CINEFUSE_URL``/``CINEFUSE_API_KEY`` set and test images as arguments, and must write a
playable ``clip.mp4`` (the CPU preview engine, 360p, 5 s). curl snippets run through bash
(skipped without curl, jq or base64); httpx ones with this interpreter; the official Python
SDKs from their venvs (tests/integration/sdk_venvs.py); the JavaScript SDK with node, after
``npm install @runware/sdk-js@1.3.2`` into ``.venvs/sdk-js`` (skipped without node or npm, or
when the install fails). The OpenAI-style API's snippets run with the ``openai`` SDK of the
dev extra, curl, and node after ``npm install openai@7.60.0`` into ``.venvs/openai-node-cjs``.
The SDK runs are marked slow. The webhook receiver is checked with a
signed delivery from the server and a forged one; the S3 upload against moto's S3.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import numpy as np
import pytest
from PIL import Image
from tests.integration.conftest import LiveServer, free_port
from tests.integration.sdk_venvs import REPO_ROOT, SdkVenvUnavailable, ensure_npm_package, ensure_sdk_venv

from cinefuse.media.probe import probe

DOCS = REPO_ROOT / "docs"
SNIPPETS = DOCS / "snippets"
PAGE = DOCS / "snippets.md"
RUN_TIMEOUT_S = 180
JS_SDK = "@runware/sdk-js@1.3.2"
WEBHOOK_SECRET = "whsec_" + "c25pcHBldHMtYXJlLXRlc3RlZC1ldmVyeS1ydW4="  # base64 of a fixed test secret
#: workflow -> the image arguments it takes (of the ``images`` fixture), and the output size.
WORKFLOWS: dict[str, tuple[tuple[str, ...], tuple[int, int]]] = {
    "text_to_video": ((), (640, 360)),
    "image_to_video": (("first",), (640, 360)),
    "first_last_frame": (("first", "last"), (640, 360)),
    "fusion": (("first", "last"), (640, 360)),
    "camera_style": ((), (640, 360)),
    "effect": (("square",), (360, 360)),
}
#: client folder -> file suffix.
CLIENTS = {"curl": ".sh", "httpx": ".py", "runware": ".py", "runware-sdk": ".py", "js": ".cjs"}
_BLOCK = re.compile(r"<!-- snippet: (?P<path>[^ ]+) -->\n```[a-z]*\n(?P<code>.*?)```", re.DOTALL)


def page_blocks() -> dict[str, str]:
    return {match["path"]: match["code"] for match in _BLOCK.finditer(PAGE.read_text())}


def test_the_page_shows_every_snippet_file_verbatim() -> None:
    blocks = page_blocks()
    files = sorted(str(p.relative_to(DOCS)) for p in SNIPPETS.rglob("*") if p.is_file())
    assert sorted(blocks) == files
    for path, code in blocks.items():
        assert code == (DOCS / path).read_text(), f"docs/snippets.md shows an old {path}"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("snippets-server")
    live = LiveServer(data_dir=base / "data", log_path=base / "server.log")
    live.extra_env.update(
        CINEFUSE_OUTBOUND_ALLOW="127.0.0.1",  # the webhook receiver and moto live on loopback
        CINEFUSE_WEBHOOK_SECRETS=f"{live.api_key}:{WEBHOOK_SECRET}",
        CINEFUSE_WEBHOOK_BACKOFF="0.2",
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("snippet-images")
    y, x = np.mgrid[0:360, 0:640].astype(np.float32)
    wide = np.stack([255 * x / 639, 255 * y / 359, 127 + 127 * np.sin(x / 40)], axis=-1).astype(np.uint8)
    paths = {"first": folder / "first.png", "last": folder / "last.png", "square": folder / "square.png"}
    Image.fromarray(wide).save(paths["first"])
    Image.fromarray(255 - wide).save(paths["last"])
    Image.fromarray(wide[:, 140:500]).save(paths["square"])
    return paths


def reader_env(server: LiveServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CINEFUSE_", "RUNWARE_"))}
    env.update(CINEFUSE_URL=server.base_url, CINEFUSE_API_KEY=server.api_key, PYTHONUNBUFFERED="1", **extra)
    return env


def run_snippet(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, f"{command} exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def check_clip(folder: Path, size: tuple[int, int]) -> None:
    info = probe(folder / "clip.mp4")
    assert (info.codec, (info.width, info.height), info.frame_count) == ("h264", size, 80)


def have(*tools: str) -> bool:
    return all(shutil.which(tool) for tool in tools)


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    """node_modules holding the JavaScript SDK (installed once into .venvs/sdk-js)."""
    try:
        return ensure_npm_package(JS_SDK, "sdk-js")
    except SdkVenvUnavailable as exc:
        pytest.skip(f"the JavaScript SDK snippets need {JS_SDK}: {exc}")


@functools.cache
def _sdk_venv(name: str) -> Path | str:
    """The SDK venv's python, or why it cannot be built (asked once per session)."""
    try:
        return ensure_sdk_venv(name).python
    except SdkVenvUnavailable as exc:
        return str(exc)


def sdk_python(name: str) -> Path:
    found = _sdk_venv(name)
    if isinstance(found, str):
        pytest.skip(f"cannot build the {name!r} SDK venv (network needed for pip): {found}")
    return found


# ---------------------------------------------------------------------------- the workflows


def _args(workflow: str, images: dict[str, Path]) -> list[str]:
    return [str(images[name]) for name in WORKFLOWS[workflow][0]]


@pytest.mark.parametrize("workflow", list(WORKFLOWS))
def test_curl(server: LiveServer, images: dict[str, Path], tmp_path: Path, workflow: str) -> None:
    if not have("bash", "curl", "jq", "base64", "python3"):
        pytest.skip("the curl snippets need bash, curl, jq, base64 and python3")
    script = SNIPPETS / "curl" / f"{workflow}.sh"
    run_snippet(["bash", str(script), *_args(workflow, images)], tmp_path, reader_env(server))
    check_clip(tmp_path, WORKFLOWS[workflow][1])


@pytest.mark.parametrize("workflow", list(WORKFLOWS))
def test_httpx(server: LiveServer, images: dict[str, Path], tmp_path: Path, workflow: str) -> None:
    script = SNIPPETS / "httpx" / f"{workflow}.py"
    run_snippet([sys.executable, str(script), *_args(workflow, images)], tmp_path, reader_env(server))
    check_clip(tmp_path, WORKFLOWS[workflow][1])


@pytest.mark.slow
@pytest.mark.parametrize("sdk", ["runware", "runware-sdk"])
@pytest.mark.parametrize("workflow", list(WORKFLOWS))
def test_python_sdks(server: LiveServer, images: dict[str, Path], tmp_path: Path, workflow: str, sdk: str) -> None:
    script = SNIPPETS / sdk / f"{workflow}.py"
    run_snippet([str(sdk_python(sdk)), str(script), *_args(workflow, images)], tmp_path, reader_env(server))
    check_clip(tmp_path, WORKFLOWS[workflow][1])


@pytest.mark.slow
@pytest.mark.parametrize("workflow", list(WORKFLOWS))
def test_javascript_sdk(
    server: LiveServer, images: dict[str, Path], tmp_path: Path, workflow: str, js_sdk: Path
) -> None:
    script = SNIPPETS / "js" / f"{workflow}.cjs"
    env = reader_env(server, NODE_PATH=str(js_sdk))
    run_snippet(["node", str(script), *_args(workflow, images)], tmp_path, env)
    check_clip(tmp_path, WORKFLOWS[workflow][1])


def test_every_client_has_every_workflow() -> None:
    for client, suffix in CLIENTS.items():
        for workflow in WORKFLOWS:
            assert (SNIPPETS / client / f"{workflow}{suffix}").is_file(), f"{client} lacks {workflow}"


# ---------------------------------------------------------------------------- webhooks and S3


def test_webhook_receiver_verifies_signatures(server: LiveServer, tmp_path: Path) -> None:
    port = free_port()
    env = reader_env(server, WEBHOOK_SECRET=WEBHOOK_SECRET)
    script = SNIPPETS / "httpx" / "webhook_receiver.py"
    receiver = subprocess.Popen(
        [sys.executable, str(script), str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(receiver.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        hook = f"http://127.0.0.1:{port}/hooks/cinefuse"
        deadline = time.monotonic() + 20
        while not any("listening" in line for line in lines):
            assert time.monotonic() < deadline and receiver.poll() is None, "the receiver did not start"
            time.sleep(0.1)
        forged = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}
        assert httpx.post(hook, content=b'{"data":[]}', headers=forged).status_code == 401
        unsigned = {"webhook-id": "msg_2", "webhook-timestamp": str(int(time.time()))}
        assert httpx.post(hook, content=b'{"data":[]}', headers=unsigned).status_code == 401

        task = {
            "taskType": "videoInference",
            "taskUUID": "7b0f5a58-3a7d-4a57-9d2e-0c8a4c5b6e01",
            "model": "pixverse:1@3",
            "positivePrompt": "a lighthouse at dusk",
            "resolution": "360p",
            "webhookURL": hook,
        }
        reply = httpx.post(server.rest_url, json=[task], headers={"Authorization": f"Bearer {server.api_key}"})
        assert reply.status_code == 200, reply.text
        deadline = time.monotonic() + 120
        while not any(line.startswith("verified ") for line in lines):
            assert time.monotonic() < deadline, f"no verified delivery; receiver printed {lines}"
            time.sleep(0.2)
        [delivered] = [line for line in lines if line.startswith("verified ")]
        assert " success http://127.0.0.1:" in delivered
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


@pytest.fixture(scope="module")
def s3_bucket() -> Iterator[dict[str, str]]:
    """moto's S3 on loopback with one bucket; the environment a boto3 reader would have."""
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    env = {
        "S3_ENDPOINT_URL": f"http://{host}:{port}",
        "S3_BUCKET": "renders",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=env["S3_BUCKET"])
    yield env
    moto.stop()


def _bucket(env: dict[str, str]) -> object:
    return boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_s3_upload_httpx(server: LiveServer, s3_bucket: dict[str, str], tmp_path: Path) -> None:
    script = SNIPPETS / "httpx" / "s3_upload.py"
    proc = run_snippet([sys.executable, str(script)], tmp_path, reader_env(server, **s3_bucket))
    match = re.search(r"uploaded s3://renders/(\S+) \((\d+) bytes\)", proc.stdout)
    assert match, proc.stdout
    body = _bucket(s3_bucket).get_object(Bucket="renders", Key=match[1])["Body"].read()  # type: ignore[attr-defined]
    (tmp_path / "clip.mp4").write_bytes(body)
    check_clip(tmp_path, (640, 360))


def test_s3_upload_curl(server: LiveServer, s3_bucket: dict[str, str], tmp_path: Path) -> None:
    if not have("bash", "curl", "jq", "python3"):
        pytest.skip("the curl snippets need bash, curl, jq and python3")
    s3 = _bucket(s3_bucket)
    upload_url = s3.generate_presigned_url(  # type: ignore[attr-defined]
        "put_object", Params={"Bucket": "renders", "Key": "curl/clip.mp4"}, ExpiresIn=600
    )
    run_snippet(["bash", str(SNIPPETS / "curl" / "s3_upload.sh")], tmp_path, reader_env(server, UPLOAD_URL=upload_url))
    deadline = time.monotonic() + 60
    while True:
        listed = s3.list_objects_v2(Bucket="renders", Prefix="curl/")  # type: ignore[attr-defined]
        if listed.get("KeyCount"):
            break
        assert time.monotonic() < deadline, "the server never uploaded the result"
        time.sleep(0.5)
    body = s3.get_object(Bucket="renders", Key="curl/clip.mp4")["Body"].read()  # type: ignore[attr-defined]
    (tmp_path / "clip.mp4").write_bytes(body)
    check_clip(tmp_path, (640, 360))


# ---------------------------------------------------------------------------- the OpenAI-style API

OPENAI_NODE_SDK = "openai@7.60.0"


@pytest.fixture(scope="session")
def openai_node_sdk() -> Path:
    """node_modules holding the openai Node SDK (installed once into .venvs/openai-node-cjs)."""
    try:
        return ensure_npm_package(OPENAI_NODE_SDK, "openai-node-cjs")
    except SdkVenvUnavailable as exc:
        pytest.skip(f"the openai Node SDK snippet needs {OPENAI_NODE_SDK}: {exc}")


def test_openai_curl(server: LiveServer, tmp_path: Path) -> None:
    if not have("bash", "curl", "jq"):
        pytest.skip("the curl snippet needs bash, curl and jq")
    run_snippet(["bash", str(SNIPPETS / "openai-curl" / "text_to_video.sh")], tmp_path, reader_env(server))
    check_clip(tmp_path, (640, 360))


def test_openai_python_sdk(server: LiveServer, tmp_path: Path) -> None:
    pytest.importorskip("openai", reason="the openai SDK is in the dev extra")
    proc = run_snippet(
        [sys.executable, str(SNIPPETS / "openai-python" / "text_to_video.py")], tmp_path, reader_env(server)
    )
    check_clip(tmp_path, (640, 360))
    assert "wrote clip.mp4 (5 s, 640x360)" in proc.stdout


@pytest.mark.slow
def test_openai_node_sdk(server: LiveServer, tmp_path: Path, openai_node_sdk: Path) -> None:
    env = reader_env(server, NODE_PATH=str(openai_node_sdk))
    proc = run_snippet(["node", str(SNIPPETS / "openai-node" / "text_to_video.cjs")], tmp_path, env)
    check_clip(tmp_path, (640, 360))
    assert "wrote clip.mp4 (5 s, 640x360)" in proc.stdout
