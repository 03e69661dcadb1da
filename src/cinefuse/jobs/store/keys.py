"""API keys in the store: only their SHA-256 hashes are kept, never the keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import insert, select

from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.tables import api_keys


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class KeyRepository(Repository):
    def ensure(self, keys: Iterable[str], label: str = "") -> dict[str, int]:
        """Register keys (idempotent); returns key hash -> key id for every known key."""
        with self.engine.begin() as conn:
            known = {h for (h,) in conn.execute(select(api_keys.c.key_hash))}
            for key in keys:
                key_hash = hash_key(key)
                if key_hash not in known:
                    conn.execute(insert(api_keys).values(key_hash=key_hash, label=label, created_at=self.clock()))
                    known.add(key_hash)
            return {h: i for i, h in conn.execute(select(api_keys.c.id, api_keys.c.key_hash))}

    def ids(self) -> dict[str, int]:
        """Key hash -> key id, for every key."""
        with self.reads() as conn:
            return {h: i for i, h in conn.execute(select(api_keys.c.id, api_keys.c.key_hash))}
