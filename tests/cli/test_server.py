"""``cinefuse serve``'s output: the URL always, the API key in full only on the start that
created it (issue 20: a server's output ends up in log collectors)."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.integration.client import post
from tests.integration.conftest import LiveServer

from cinefuse.cli.server import key_line


def start_output(server: LiveServer) -> str:
    """What one start of ``server`` printed (it is stopped again)."""
    before = server.log_path.read_text() if server.log_path.exists() else ""
    server.start()
    try:
        reply = post(server.base_url, server.api_key, [{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
        assert reply.status_code == 400, reply.text  # the key is good: the task is not found
    finally:
        server.stop()
    return server.log_path.read_text()[len(before) :]


def test_serve_prints_the_key_in_full_only_on_the_start_that_creates_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # No CINEFUSE_API_KEYS: the data dir's key, as the README's first command runs it.
    server = LiveServer(data_dir=data_dir, log_path=tmp_path / "server.log", extra_env={"CINEFUSE_API_KEYS": ""})
    assert not (data_dir / "api_key").exists()

    server.start()
    try:
        first = server.log_path.read_text()
        key = (data_dir / "api_key").read_text().strip()
        server.api_key = key
        assert f"cinefuse listening on {server.base_url}" in first
        created = f"API key (created and stored in {data_dir / 'api_key'}; later starts show only its prefix): {key}"
        assert f"{created}\n" in first
        reply = post(server.base_url, key, [{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
        assert reply.status_code == 400, reply.text  # the printed key works: the task is not found
    finally:
        server.stop()

    again = start_output(server)
    assert f"cinefuse listening on {server.base_url}" in again
    assert key not in again and key[:9] not in again
    assert f"API key: {key[:8]}... (from {data_dir / 'api_key'}; `cinefuse keys` prints it)\n" in again


def test_key_line_shows_a_key_it_did_not_create_by_its_prefix_only() -> None:
    key, path = "AbCdEfGh" + "7" * 35, Path("/data/api_key")
    assert key_line(key, path, created=True).endswith(f": {key}")
    assert key_line(key, path, created=False) == "API key: AbCdEfGh... (from /data/api_key; `cinefuse keys` prints it)"
