"""The videos of the OpenAI-style front door in the job store (jobs/store/videos.py), on
SQLite and PostgreSQL: a row is seen only with its job, per key, in cursor pages."""

from __future__ import annotations

import uuid

from tests.factories import new_job, success

from cinefuse.jobs.models import NewVideo
from cinefuse.jobs.store import JobStore, hash_key


def key(repo: JobStore, name: str) -> int:
    return repo.keys.ensure([name])[hash_key(name)]


def video_with_job(repo: JobStore, key_id: int, created_at: float, *, admitted: bool = True) -> NewVideo:
    job = new_job(key_id)
    video = NewVideo(
        id="video_" + uuid.UUID(job.task_uuid).hex,
        key_id=key_id,
        task_uuid=job.task_uuid,
        model="sora-2",
        prompt="a fox",
        seconds="4",
        size="720x1280",
        created_at=created_at,
    )
    repo.videos.add(video)
    if admitted:
        assert repo.jobs.insert([job]) == [True]
    return video


def test_a_video_is_seen_with_its_job_and_only_by_its_key(repo: JobStore) -> None:
    mine, theirs = key(repo, "a"), key(repo, "b")
    video = video_with_job(repo, mine, 100.0)
    view = repo.videos.get(mine, video.id)
    assert view is not None and view.video == video
    assert (view.job_status, view.result.status, view.result.progress, view.finished_at) == (
        "queued",
        "pending",
        0,
        None,
    )
    assert repo.videos.get(theirs, video.id) is None
    assert repo.videos.page(theirs, None, 10, "desc") == ([], False)
    assert repo.videos.page(theirs, video.id, 10, "desc") is None  # another key's id is no cursor


def test_a_row_whose_job_never_made_it_is_invisible_and_discard_removes_it(repo: JobStore) -> None:
    k = key(repo, "a")
    orphan = video_with_job(repo, k, 100.0, admitted=False)
    assert repo.videos.get(k, orphan.id) is None
    assert repo.videos.page(k, None, 10, "asc") == ([], False)
    repo.videos.discard(orphan.id)
    assert repo.videos.page(k, orphan.id, 10, "asc") is None


def test_pages_follow_creation_then_id_both_ways(repo: JobStore) -> None:
    k = key(repo, "a")
    made = [video_with_job(repo, k, 100.0 + i // 2) for i in range(5)]  # pairs share a timestamp
    ascending = sorted(made, key=lambda v: (v.created_at, v.id))
    walked: list[str] = []
    after = None
    while True:
        page = repo.videos.page(k, after, 2, "asc")
        assert page is not None
        views, more = page
        walked += [v.video.id for v in views]
        if not more:
            break
        after = views[-1].video.id
    assert walked == [v.id for v in ascending]
    page = repo.videos.page(k, ascending[2].id, 10, "desc")
    assert page is not None and [v.video.id for v in page[0]] == [v.id for v in reversed(ascending[:2])]


def test_deleted_videos_are_gone_but_still_mark_their_place(repo: JobStore) -> None:
    k = key(repo, "a")
    first, second, third = (video_with_job(repo, k, 100.0 + i) for i in range(3))
    assert repo.videos.mark_deleted(k, second.id)
    assert not repo.videos.mark_deleted(k, second.id)
    assert repo.videos.get(k, second.id) is None
    page = repo.videos.page(k, second.id, 10, "asc")
    assert page is not None and [v.video.id for v in page[0]] == [third.id]
    page = repo.videos.page(k, None, 10, "asc")
    assert page is not None and [v.video.id for v in page[0]] == [first.id, third.id]


def test_a_finished_result_shows_its_media_and_finish_time(repo: JobStore, clock) -> None:  # type: ignore[no-untyped-def]
    k = key(repo, "a")
    video = video_with_job(repo, k, 100.0)
    claim = repo.leases.claim(_job_id(repo, k, video.task_uuid), "w1", 30.0)
    assert claim is not None
    clock.advance(5)
    assert repo.leases.finish_result(claim, 0, success("videos/x.mp4", expires_at=2e9))
    assert repo.leases.complete(claim, "success")
    view = repo.videos.get(k, video.id)
    assert view is not None
    assert (view.job_status, view.result.status, view.result.media_key) == ("success", "success", "videos/x.mp4")
    assert view.finished_at is not None and view.result.expires_at == 2e9


def _job_id(repo: JobStore, key_id: int, task_uuid: str) -> str:
    view = repo.jobs.view(key_id, task_uuid)
    assert view is not None
    return view.job_id
