"""API keys in the store: only their SHA-256 hashes are kept, never the keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.tables import api_keys

#: Characters of a key shown in listings (enough to tell keys apart, too few to use one).
PREFIX_LENGTH = 8


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    id: int
    prefix: str | None
    label: str
    created_at: float
    revoked_at: float | None


class KeyRepository(Repository):
    def ensure(self, keys: Iterable[str], label: str = "") -> dict[str, int]:
        """Register keys (idempotent); returns key hash -> key id for every usable key
        (revoked ones are left out, even when named again)."""
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    known = {h for (h,) in conn.execute(select(api_keys.c.key_hash))}
                    for key in keys:
                        key_hash = hash_key(key)
                        if key_hash not in known:
                            conn.execute(
                                insert(api_keys).values(
                                    key_hash=key_hash, label=label, created_at=self.clock(), prefix=key[:PREFIX_LENGTH]
                                )
                            )
                            known.add(key_hash)
                break
            except IntegrityError:
                # Another server registered the same key at the same moment (a fleet starting
                # together on one PostgreSQL): read again, it is known now.
                if attempt == 2:
                    raise
        return self.ids()

    def ids(self) -> dict[str, int]:
        """Key hash -> key id, for every key not revoked."""
        with self.reads() as conn:
            rows = conn.execute(select(api_keys.c.id, api_keys.c.key_hash).where(api_keys.c.revoked_at.is_(None)))
            return {h: i for i, h in rows}

    def create(self, key: str, label: str = "") -> int:
        """Register a new key; returns its id."""
        with self.engine.begin() as conn:
            row = conn.execute(
                insert(api_keys)
                .values(key_hash=hash_key(key), label=label, created_at=self.clock(), prefix=key[:PREFIX_LENGTH])
                .returning(api_keys.c.id)
            ).one()
            return int(row.id)

    def list(self) -> list[KeyInfo]:
        with self.reads() as conn:
            rows = conn.execute(
                select(
                    api_keys.c.id, api_keys.c.prefix, api_keys.c.label, api_keys.c.created_at, api_keys.c.revoked_at
                ).order_by(api_keys.c.id)
            )
            return [KeyInfo(r.id, r.prefix, r.label, r.created_at, r.revoked_at) for r in rows]

    def revoked(self, key_id: int) -> bool:
        """Whether the key ``key_id`` is revoked (False for an unknown id)."""
        with self.reads() as conn:
            revoked_at = conn.execute(select(api_keys.c.revoked_at).where(api_keys.c.id == key_id)).scalar()
            return revoked_at is not None

    def revoke(self, key_id: int) -> bool:
        """Revoke a key (servers stop accepting it when they next read the keys); False when
        there is no such key or it was revoked already."""
        with self.engine.begin() as conn:
            res = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
            return res.rowcount == 1
