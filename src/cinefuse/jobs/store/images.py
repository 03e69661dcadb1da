"""Uploaded images (``imageUpload`` and inline task images): their records, per API key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select, update

from cinefuse.jobs.models import ImageRecord
from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.tables import images


class ImageRepository(Repository):
    def insert(self, record: ImageRecord) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                insert(images).values(
                    uuid=record.uuid,
                    key_id=record.key_id,
                    media_key=record.media_key,
                    content_type=record.content_type,
                    width=record.width,
                    height=record.height,
                    created_at=now,
                    last_used_at=now,
                )
            )

    def get(self, key_id: int, image_uuid: str, *, touch: bool = True) -> ImageRecord | None:
        """An uploaded image of this key (another key's image is "not found"); ``touch``
        renews its retention."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(images).where(images.c.uuid == image_uuid, images.c.key_id == key_id)
            ).one_or_none()
            if row is None:
                return None
            if touch:
                conn.execute(update(images).where(images.c.uuid == image_uuid).values(last_used_at=self.clock()))
            return ImageRecord(row.uuid, row.key_id, row.media_key, row.content_type, row.width, row.height)

    def expired(self, older_than: float, limit: int = 500) -> list[tuple[str, str]]:
        """(uuid, media key) of images last used before ``older_than``."""
        with self.reads() as conn:
            rows = conn.execute(
                select(images.c.uuid, images.c.media_key).where(images.c.last_used_at < older_than).limit(limit)
            )
            return [(u, k) for u, k in rows]

    def delete(self, uuids: Sequence[str]) -> None:
        if uuids:
            with self.engine.begin() as conn:
                conn.execute(delete(images).where(images.c.uuid.in_(list(uuids))))
