"""Videos of the OpenAI-style front door (``/v1/videos``): each names the job rendering it.

A video row is written before its job (``add``) and removed again if the job is refused
(``discard``); every read joins the job, so a row whose job never made it is invisible.
Pages are ordered by (``created_at``, ``id``) and resume after a video id (the cursor).
Characters (a name for a few stored images) live here too: only the front door has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import and_, delete, insert, or_, select, update

from cinefuse.jobs.codec import task_from_record
from cinefuse.jobs.models import Character, NewVideo, VideoView
from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.store.results import RESULT_VIEW_COLUMNS, result_view
from cinefuse.jobs.tables import characters, jobs, results, videos
from cinefuse.schemas.tasks import VideoInferenceTask

Order = Literal["asc", "desc"]

_VIDEO_COLUMNS = (
    videos.c.id,
    videos.c.key_id,
    videos.c.task_uuid,
    videos.c.model,
    videos.c.prompt,
    videos.c.seconds,
    videos.c.size,
    videos.c.created_at,
    videos.c.remixed_from,
    videos.c.extends,
    videos.c.prefix_key,
)
_SELECT = (
    select(*_VIDEO_COLUMNS, jobs.c.status, results.c.finished_at, *RESULT_VIEW_COLUMNS)
    .join_from(videos, jobs, and_(jobs.c.key_id == videos.c.key_id, jobs.c.task_uuid == videos.c.task_uuid))
    .join(results, and_(results.c.job_id == jobs.c.id, results.c.idx == 0))
    .where(videos.c.deleted_at.is_(None))
)


def _view(row: Sequence[Any]) -> VideoView:
    count = len(_VIDEO_COLUMNS)
    video = NewVideo(*row[:count])
    return VideoView(video, row[count], result_view(row[count + 2 :]), row[count + 1])


class VideoRepository(Repository):
    def add(self, video: NewVideo) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(videos).values(
                    id=video.id,
                    key_id=video.key_id,
                    task_uuid=video.task_uuid,
                    model=video.model,
                    prompt=video.prompt,
                    seconds=video.seconds,
                    size=video.size,
                    remixed_from=video.remixed_from,
                    created_at=video.created_at,
                    extends=video.extends,
                    prefix_key=video.prefix_key,
                )
            )

    def discard(self, video_id: str) -> None:
        """Remove the row of a video whose job was refused."""
        with self.engine.begin() as conn:
            conn.execute(delete(videos).where(videos.c.id == video_id))

    def get(self, key_id: int, video_id: str) -> VideoView | None:
        """The key's video, or None (unknown, another key's, deleted, or its job never made it)."""
        with self.reads() as conn:
            row = conn.execute(_SELECT.where(videos.c.key_id == key_id, videos.c.id == video_id)).one_or_none()
        return None if row is None else _view(row)

    def page(self, key_id: int, after: str | None, limit: int, order: Order) -> tuple[list[VideoView], bool] | None:
        """Up to ``limit`` of the key's videos after the video ``after`` (by creation, then
        id), and whether more follow; None when ``after`` names no video of this key (a
        deleted one still marks its place)."""
        query = _SELECT.where(videos.c.key_id == key_id)
        with self.reads() as conn:
            if after is not None:
                anchor = conn.execute(
                    select(videos.c.created_at, videos.c.id).where(videos.c.key_id == key_id, videos.c.id == after)
                ).one_or_none()
                if anchor is None:
                    return None
                created_at, anchor_id = anchor
                later = or_(
                    videos.c.created_at > created_at, and_(videos.c.created_at == created_at, videos.c.id > anchor_id)
                )
                earlier = or_(
                    videos.c.created_at < created_at, and_(videos.c.created_at == created_at, videos.c.id < anchor_id)
                )
                query = query.where(later if order == "asc" else earlier)
            if order == "asc":
                ordering = (videos.c.created_at.asc(), videos.c.id.asc())
            else:
                ordering = (videos.c.created_at.desc(), videos.c.id.desc())
            rows = conn.execute(query.order_by(*ordering).limit(limit + 1)).all()
        return [_view(row) for row in rows[:limit]], len(rows) > limit

    def mark_deleted(self, key_id: int, video_id: str) -> bool:
        """Mark the key's video deleted; False when there was none to delete."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(videos)
                .where(videos.c.key_id == key_id, videos.c.id == video_id, videos.c.deleted_at.is_(None))
                .values(deleted_at=self.clock())
            )
        return done.rowcount > 0

    def task_of(self, key_id: int, video_id: str) -> VideoInferenceTask | None:
        """The validated task behind the key's video (a remix or an extension starts from it)."""
        query = (
            select(jobs.c.request)
            .join_from(videos, jobs, and_(jobs.c.key_id == videos.c.key_id, jobs.c.task_uuid == videos.c.task_uuid))
            .where(videos.c.key_id == key_id, videos.c.id == video_id, videos.c.deleted_at.is_(None))
        )
        with self.reads() as conn:
            record = conn.execute(query).scalar_one_or_none()
        return None if record is None else task_from_record(record)

    def add_character(self, character: Character) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(characters).values(
                    id=character.id,
                    key_id=character.key_id,
                    name=character.name,
                    images=list(character.images),
                    created_at=character.created_at,
                )
            )

    def character(self, key_id: int, character_id: str) -> Character | None:
        """The key's character, or None (unknown or another key's)."""
        query = select(characters).where(characters.c.key_id == key_id, characters.c.id == character_id)
        with self.reads() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            return None
        return Character(row.id, row.key_id, row.name, tuple(row.images), row.created_at)
