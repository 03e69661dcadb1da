"""Who is calling: API keys recognised in memory, sessions remembered for resume."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from cinefuse.jobs.store.keys import KeyRepository, hash_key

#: Sessions remembered for resume (a resumed session past this is simply a new one).
MAX_SESSIONS = 100_000


class KeyRing:
    """Presented key -> key id (keys are kept hashed in the store). The configured keys are
    registered at start; ``refresh`` (every sweep) picks up keys created or revoked since
    by ``cinefuse keys`` or another server."""

    def __init__(self, keys: KeyRepository, configured: list[str]) -> None:
        self._keys = keys
        self._ids = keys.ensure(configured)

    def refresh(self) -> None:
        self._ids = self._keys.ids()

    def key_id(self, api_key: str | None) -> int | None:
        """The id of a known key; None for unknown keys."""
        if not api_key:
            return None
        # Looking up the hash, not the key, leaks nothing useful through timing.
        return self._ids.get(hash_key(api_key))


@dataclass
class Session:
    """Who is talking: set by an authentication task or the Bearer header."""

    key_id: int | None = None
    session_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))


class Sessions:
    """connectionSessionUUID -> key id, for resume; bounded (oldest forgotten first):
    REST clients that authenticate in the body make a session per request."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self.limit = limit
        self._keys: OrderedDict[str, int] = OrderedDict()

    def bind(self, session: Session, key_id: int, resumed: str | None) -> None:
        """Bind ``session`` to ``key_id``, taking over ``resumed`` if it was this key's."""
        if resumed and self._keys.get(resumed) == key_id:
            session.session_uuid = resumed
        session.key_id = key_id
        self._keys[session.session_uuid] = key_id
        self._keys.move_to_end(session.session_uuid)
        while len(self._keys) > self.limit:
            self._keys.popitem(last=False)

    def __len__(self) -> int:
        return len(self._keys)
