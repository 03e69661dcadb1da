"""``cinefuse models`` against a local hub-compatible server (``fake_hub.py`` at ``HF_ENDPOINT``),
serving a tiny real-class Wan 2.2 TI2V folder under the publisher's repo id, with files the
catalogue's ``allow_patterns`` leave out. Downloads go through ``huggingface_hub`` for the
API and through the pull's own resumable transfer for the bytes (hub/pull.py); nothing here
mocks either.

Covered: a pull materialises the folder (only the allowed files, a manifest) and the engine
renders from it through the API (slow); a pull killed mid-file resumes with a Range request
and finishes byte-exact; a corrupted file is found by ``verify`` and fetched again (alone) by
``pull``; a gated repo without a token says which token; a disk without room refuses before
writing; ``HF_HUB_OFFLINE=1`` with everything present makes no request; ``rm``; ``list``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cinefuse.hub.catalogue import find
from cinefuse.hub.folders import MANIFEST, STAGING
from cinefuse.media.probe import probe
from tests.hub.fake_hub import FakeHub
from tests.integration.client import post, video_task, wait_done
from tests.integration.conftest import cinefuse_executable, start_live_server

pytest.importorskip("huggingface_hub", reason="`cinefuse models pull` needs huggingface_hub (the gpu extra)")
pytest.importorskip("diffusers", reason="the tiny checkpoints need the 'gpu' extra (torch, diffusers)")

TI2V = "Wan2.2-TI2V-5B-Diffusers"
REPO = "Wan-AI/Wan2.2-TI2V-5B-Diffusers"
BIG = "transformer/diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def ti2v_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny TI2V folder as the repo holds it, plus files a pull must leave out."""
    from tests.generation.neural.tiny_weights import build_wan22_ti2v

    folder = build_wan22_ti2v(tmp_path_factory.mktemp("hub-source"))
    (folder / "README.md").write_text("# a model card\n")
    (folder / "assets").mkdir()
    (folder / "assets" / "teaser.png").write_bytes(os.urandom(10_000))
    (folder / "Wan2.2_VAE.pth").write_bytes(os.urandom(20_000))  # the original checkpoint, not diffusers
    # Big enough that a throttled transfer can be killed in the middle of it.
    (folder / "transformer" / "extra_weights.safetensors").write_bytes(os.urandom(3 * 1024 * 1024))
    return folder


@pytest.fixture
def hub(ti2v_source: Path) -> Iterator[FakeHub]:
    server = FakeHub().start()
    server.add(REPO, ti2v_source)
    try:
        yield server
    finally:
        server.stop()


def env(hub: FakeHub, tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CINEFUSE_", "HF_"))}
    return base | {
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_DISABLE_XET": "1",
        "CINEFUSE_DATA_DIR": str(tmp_path / "data"),
        "CINEFUSE_MODELS_DIR": str(tmp_path / "models"),
        "COLUMNS": "250",  # rich's table on one line per row
        **extra,
    }


def models(*args: str, environment: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cinefuse_executable()), "models", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wanted_files(source: Path) -> dict[str, str]:
    entry = find(TI2V)
    assert entry is not None
    files = {p.relative_to(source).as_posix(): p for p in source.rglob("*") if p.is_file()}
    return {name: digest(path) for name, path in files.items() if entry.wants(name)}


def pulled_files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): digest(p) for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
    }


def test_a_pull_materialises_exactly_the_allowed_files_with_a_manifest(
    hub: FakeHub, ti2v_source: Path, tmp_path: Path
) -> None:
    environment = env(hub, tmp_path)
    done = models("pull", TI2V, environment=environment)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{TI2V}: pulled" in done.stdout
    folder = tmp_path / "models" / TI2V
    assert pulled_files(folder) == wanted_files(ti2v_source)  # no README, assets or .pth
    manifest = json.loads((folder / MANIFEST).read_text())
    assert (manifest["repo"], manifest["commit"]) == (REPO, hub.repos[REPO].commit)
    assert not (tmp_path / "models" / STAGING / TI2V).exists()

    listed = models("list", environment=environment)
    line = next(row for row in listed.stdout.splitlines() if TI2V in row)
    assert "complete" in line, listed.stdout
    # Pulled again at the same commit: one API call, no file request.
    before = len(hub.log)
    again = models("pull", TI2V, environment=environment)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    assert [r for r in hub.log[before:] if "/resolve/" in r[1]] == []


def test_a_pull_killed_mid_file_resumes_byte_exact(hub: FakeHub, ti2v_source: Path, tmp_path: Path) -> None:
    hub.throttle["transformer/extra_weights.safetensors"] = 0.05  # about 1.3 MB/s
    environment = env(hub, tmp_path)
    proc = subprocess.Popen(
        [str(cinefuse_executable()), "models", "pull", TI2V],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    part = tmp_path / "models" / STAGING / TI2V / "transformer" / "extra_weights.safetensors.part"
    deadline = time.monotonic() + 120
    while not (part.exists() and part.stat().st_size > 512 * 1024):
        assert proc.poll() is None and time.monotonic() < deadline, "the pull ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = part.stat().st_size
    assert 0 < kept < 3 * 1024 * 1024
    assert not (tmp_path / "models" / TI2V).exists()  # the engines never see half a folder

    hub.throttle.clear()
    done = models("pull", TI2V, environment=environment)
    assert done.returncode == 0, done.stdout + done.stderr
    ranges = [r[2] for r in hub.requests("GET", "extra_weights") if r[2]]
    assert ranges == [f"bytes={kept}-"], hub.requests("GET", "extra_weights")
    assert pulled_files(tmp_path / "models" / TI2V) == wanted_files(ti2v_source)


def test_verify_finds_a_corrupted_file_and_pull_fetches_it_again(
    hub: FakeHub, ti2v_source: Path, tmp_path: Path
) -> None:
    environment = env(hub, tmp_path)
    assert models("pull", TI2V, environment=environment).returncode == 0
    assert models("verify", environment=environment).returncode == 0
    victim = tmp_path / "models" / TI2V / BIG
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    victim.write_bytes(bytes(data))

    checked = models("verify", TI2V, environment=environment)
    assert checked.returncode == 1 and f"{BIG}: sha256 differs" in checked.stdout, checked.stdout

    before = len(hub.log)
    fixed = models("pull", TI2V, environment=environment)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    fetched = [r[1] for r in hub.log[before:] if r[0] == "GET" and "/resolve/" in r[1]]
    assert [path.rsplit("/", 2)[-2:] for path in fetched] == [BIG.split("/")], fetched  # that file alone
    assert models("verify", environment=environment).returncode == 0
    assert pulled_files(tmp_path / "models" / TI2V) == wanted_files(ti2v_source)


def test_a_gated_repo_without_a_token_says_which_token(hub: FakeHub, tmp_path: Path) -> None:
    hub.repos[REPO].token = "hf_test_token"
    refused = models("pull", TI2V, environment=env(hub, tmp_path))
    assert refused.returncode == 1
    assert f"{REPO} is gated" in refused.stderr and "HF_TOKEN" in refused.stderr, refused.stderr
    assert not (tmp_path / "models" / TI2V).exists()
    wrong = models("pull", TI2V, environment=env(hub, tmp_path, HF_TOKEN="hf_other"))
    assert wrong.returncode == 1 and "gated" in wrong.stderr
    allowed = models("pull", TI2V, environment=env(hub, tmp_path, HF_TOKEN="hf_test_token"))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_a_disk_without_room_refuses_before_writing(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    from cinefuse.hub.pull import PullError, pull

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    entry = find(TI2V)
    assert entry is not None
    root = tmp_path / "models"
    root.mkdir()
    with pytest.raises(PullError, match="not enough disk space") as refused:
        pull(entry, root, free=lambda path: 1_000_000)
    assert "GB still to fetch" in str(refused.value) and "CINEFUSE_MODELS_DIR" in str(refused.value)
    assert list(root.iterdir()) == []  # not a byte written
    assert hub.requests(contains="/resolve/") == []


def test_offline_with_everything_present_makes_no_request(hub: FakeHub, tmp_path: Path) -> None:
    environment = env(hub, tmp_path)
    assert models("pull", TI2V, environment=environment).returncode == 0
    before = len(hub.log)
    offline = env(hub, tmp_path, HF_HUB_OFFLINE="1")
    done = models("pull", TI2V, environment=offline)
    assert done.returncode == 0 and "present (offline)" in done.stdout, done.stdout + done.stderr
    assert models("verify", environment=offline).returncode == 0
    assert len(hub.log) == before
    missing = models("pull", "Wan2.1-VACE-1.3B-diffusers", environment=offline)
    assert missing.returncode == 1 and "HF_HUB_OFFLINE" in missing.stderr
    assert len(hub.log) == before


def test_rm_removes_the_folder_and_list_says_so(hub: FakeHub, tmp_path: Path) -> None:
    environment = env(hub, tmp_path)
    assert models("pull", TI2V, environment=environment).returncode == 0
    removed = models("rm", TI2V, environment=environment)
    assert removed.returncode == 0 and f"{TI2V}: removed" in removed.stdout
    assert not (tmp_path / "models" / TI2V).exists()
    listed = models("list", environment=environment)
    assert "absent" in next(row for row in listed.stdout.splitlines() if TI2V in row)
    unknown = models("pull", "no-such-folder", environment=environment)
    assert unknown.returncode == 2 and "unknown model folder" in unknown.stderr


@pytest.mark.slow
def test_the_engine_renders_from_a_pulled_folder_through_the_api(hub: FakeHub, tmp_path: Path) -> None:
    assert models("pull", TI2V, environment=env(hub, tmp_path)).returncode == 0
    server_env = {
        "CINEFUSE_MODELS_DIR": str(tmp_path / "models"),
        "CINEFUSE_ENGINE": "auto",
        "CINEFUSE_STEPS": json.dumps({"text": 2, "first_frame": 2}),
        "HF_HUB_OFFLINE": "1",
    }
    live = start_live_server(tmp_path / "server", server_env)
    try:
        task = video_task(model="cinefuse:wan2.2-ti2v@1", width=360, height=360, duration=1, fps=16, seed=5)
        del task["resolution"]
        reply = post(live.base_url, live.api_key, [task])
        assert reply.status_code == 200, reply.text
        body = wait_done(live.base_url, live.api_key, task["taskUUID"], timeout=300)
        assert "errors" not in body, body
        (item,) = body["data"]
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(httpx.get(item["videoURL"], timeout=30).content)
    finally:
        live.stop()
    info = probe(clip)
    assert (info.width, info.height, info.frame_count) == (360, 360, 16)
