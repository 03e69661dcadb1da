"""The sweeper: expired leases requeued, expired media deleted (ttl), old images dropped."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import FakeClock

from cinefuse.api.media import media_router
from cinefuse.jobs.models import ImageRecord, NewJob, NewResult
from cinefuse.jobs.repository import JobRepository, hash_key
from cinefuse.jobs.sweeper import Sweeper
from cinefuse.storage.local import LocalMediaStore


def finished_job(repo: JobRepository, store: LocalMediaStore, ttl: float) -> tuple[str, str]:
    key_id = repo.ensure_keys(["k"])[hash_key("k")]
    job = NewJob(uuid.uuid4().hex, key_id, str(uuid.uuid4()), "pixverse:1@3", {}, (NewResult(0, "v0", 1),), 0.0, 3)
    repo.insert_jobs([job])
    claim = repo.claim(job.id, "w", 30)
    assert claim is not None
    media_key = "videos/v0.mp4"
    store.put_bytes(media_key, b"\x00" * 1000, "video/mp4")
    expires = repo.clock() + ttl
    assert repo.finish_result(claim, 0, values={"status": "success", "media_key": media_key, "expires_at": expires})
    return media_key, store.signed_url(media_key, int(expires))


def test_ttl_expiry_deletes_the_file_and_the_url_answers_410(
    repo: JobRepository, clock: FakeClock, tmp_path: Path
) -> None:
    store = LocalMediaStore(tmp_path / "media", "http://testserver", b"secret")
    media_key, url = finished_job(repo, store, ttl=60)
    app = FastAPI()
    app.include_router(media_router(store, clock=clock))
    client = TestClient(app)
    path = url.removeprefix("http://testserver")
    assert client.get(path).status_code == 200
    sweeper = Sweeper(repo, store, interval=1)
    assert sweeper.sweep_once()["media"] == 0
    clock.advance(61)
    assert sweeper.sweep_once()["media"] == 1
    assert not store.exists(media_key)
    assert client.get(path).status_code == 410
    assert repo.expired_media() == []  # forgotten: not swept twice


def test_images_expire_thirty_days_after_last_use(repo: JobRepository, clock: FakeClock, tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path / "media", "http://testserver", b"secret")
    key_id = repo.ensure_keys(["k"])[hash_key("k")]
    store.put_bytes("images/a.png", b"png", "image/png")
    repo.insert_image(
        ImageRecord("a" * 8 + "-0000-4000-8000-" + "0" * 12, key_id, "images/a.png", "image/png", 400, 400)
    )
    sweeper = Sweeper(repo, store, interval=1, image_retention=30 * 86400)
    clock.advance(29 * 86400)
    assert repo.get_image(key_id, "a" * 8 + "-0000-4000-8000-" + "0" * 12) is not None  # a use renews it
    clock.advance(29 * 86400)
    sweeper_now = sweeper.sweep_once()
    assert sweeper_now["images"] == 0 and store.exists("images/a.png")
    clock.advance(2 * 86400)
    assert sweeper.sweep_once()["images"] == 1
    assert not store.exists("images/a.png")
