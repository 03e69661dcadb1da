"""The sweeper: expired leases requeued, expired media deleted (ttl), old images dropped."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import FakeClock
from tests.factories import new_job, success

from cinefuse.api.media import media_router
from cinefuse.engine.sweeper import Sweeper
from cinefuse.jobs.models import ImageRecord
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.storage.local import LocalMediaStore


def finished_job(repo: JobStore, store: LocalMediaStore, ttl: float) -> tuple[str, str]:
    key_id = repo.keys.ensure(["k"])[hash_key("k")]
    job = new_job(key_id)
    repo.jobs.insert([job])
    claim = repo.leases.claim(job.id, "w", 30)
    assert claim is not None
    media_key = "videos/v0.mp4"
    store.put_bytes(media_key, b"\x00" * 1000, "video/mp4")
    expires = repo.clock() + ttl
    assert repo.leases.finish_result(claim, 0, success(media_key, expires_at=expires))
    return media_key, store.signed_url(media_key, int(expires))


def test_ttl_expiry_deletes_the_file_and_the_url_answers_410(repo: JobStore, clock: FakeClock, tmp_path: Path) -> None:
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
    assert repo.results.expired_media() == []  # forgotten: not swept twice


def test_images_expire_thirty_days_after_last_use(repo: JobStore, clock: FakeClock, tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path / "media", "http://testserver", b"secret")
    key_id = repo.keys.ensure(["k"])[hash_key("k")]
    store.put_bytes("images/a.png", b"png", "image/png")
    repo.images.insert(
        ImageRecord("a" * 8 + "-0000-4000-8000-" + "0" * 12, key_id, "images/a.png", "image/png", 400, 400)
    )
    sweeper = Sweeper(repo, store, interval=1, image_retention=30 * 86400)
    clock.advance(29 * 86400)
    assert repo.images.get(key_id, "a" * 8 + "-0000-4000-8000-" + "0" * 12) is not None  # a use renews it
    clock.advance(29 * 86400)
    sweeper_now = sweeper.sweep_once()
    assert sweeper_now["images"] == 0 and store.exists("images/a.png")
    clock.advance(2 * 86400)
    assert sweeper.sweep_once()["images"] == 1
    assert not store.exists("images/a.png")
