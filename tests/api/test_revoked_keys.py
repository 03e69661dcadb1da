"""A revoked key ends its open sessions (docs/api.md, "Revoked keys"), in-process with the real
app: from the key refresh that finds the revoke, a socket authenticated with the key has its
tasks refused (``invalidApiKey``) and is closed with 1008 "API key revoked" within
``WATCH_INTERVAL``; the key's unfinished work is cancelled (by ``cinefuse keys revoke``)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from cinefuse.api.auth import KeyRing
from cinefuse.app import create_app
from cinefuse.errors import KEY_REVOKED
from cinefuse.jobs.db import make_engine, migrate
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.settings import Settings

KEEP, REVOKE = "key-kept", "key-revoked"
SWEEP_INTERVAL = 0.2


def video() -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "pixverse:1@3",
        "positivePrompt": "a red kite over the sea",
        "resolution": "360p",
    }


def test_key_ring_is_active_follows_refresh(tmp_path: Path) -> None:
    store = JobStore(make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    migrate(store.engine)
    ring = KeyRing(store.keys, [KEEP, REVOKE])
    revoked_id = ring.key_id(REVOKE)
    assert revoked_id is not None and ring.is_active(revoked_id)
    store.keys.revoke(revoked_id)
    assert ring.is_active(revoked_id)  # until the next refresh
    ring.refresh()
    assert not ring.is_active(revoked_id) and ring.key_id(REVOKE) is None
    kept = ring.key_id(KEEP)
    assert kept is not None and ring.is_active(kept)


def test_revoking_a_key_closes_its_socket_and_cancels_its_queued_work(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, api_keys=f"{KEEP},{REVOKE}", workers=0, deliverer=False, sweep_interval=SWEEP_INTERVAL
    )
    store = JobStore(make_engine(settings.resolved_database_url))
    with TestClient(create_app(settings)) as client:  # type: ignore[arg-type]
        with client.websocket_connect("/v1") as kept, client.websocket_connect("/v1") as ws:
            for socket, key in ((kept, KEEP), (ws, REVOKE)):
                socket.send_json([{"taskType": "authentication", "apiKey": key}])
                assert "data" in socket.receive_json()
            task = video()
            ws.send_json([task])
            assert ws.receive_json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}

            (key_id,) = [k.id for k in store.keys.list() if k.prefix == REVOKE[:8]]
            assert store.keys.revoke(key_id)  # what ``cinefuse keys revoke`` does
            assert store.jobs.cancel_all_of_key(key_id, KEY_REVOKED) == (1, 0)
            revoked_at = time.monotonic()
            refusals: list[dict[str, Any]] = []
            try:
                while time.monotonic() - revoked_at < 5:
                    ws.send_json([{"taskType": "getResponse", "taskUUID": task["taskUUID"]}])
                    reply = ws.receive_json()
                    if reply.get("errors", [{}])[0].get("code") == "invalidApiKey":
                        refusals.append(reply["errors"][0])
                    else:  # the lookup answered (the task's own outcome: cancelled with the key)
                        assert not refusals, "a task was accepted again after a refusal"
                    time.sleep(0.02)
                raise AssertionError("the socket stayed open")
            except WebSocketDisconnect as closed:
                assert (closed.code, closed.reason) == (1008, "API key revoked")
            assert time.monotonic() - revoked_at < SWEEP_INTERVAL + 1.5
            assert all((e["code"], e["message"]) == ("invalidApiKey", "API key revoked.") for e in refusals)

            # The other key's socket is untouched.
            kept.send_json([{"taskType": "ping", "ping": True}])
            assert kept.receive_json() == {"data": [{"taskType": "ping", "pong": True}]}

        # Our rule: the key's queued work is cancelled (docs/api.md, "Revoked keys").
        view = store.jobs.view(key_id, task["taskUUID"])
        assert view is not None and view.status == "cancelled"
        assert [(r.status, r.error_code, r.error_message) for r in view.results] == [
            ("error", "taskCancelled", KEY_REVOKED)
        ]
        reply = client.post(
            "/v1", json=[{"taskType": "ping", "ping": True}], headers={"Authorization": f"Bearer {REVOKE}"}
        )
        assert reply.status_code == 401 and reply.json()["errors"][0]["code"] == "invalidApiKey"
    assert hash_key(REVOKE) not in store.keys.ids()
