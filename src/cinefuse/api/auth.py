"""Who is calling: API keys recognised in memory, sessions remembered for resume, the
Bearer header, and whether a caller is on this machine."""

from __future__ import annotations

import ipaddress
import uuid
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from cinefuse.jobs.store.keys import KeyRepository, hash_key

Scope = MutableMapping[str, Any]

#: Sessions remembered for resume (a resumed session past this is simply a new one).
MAX_SESSIONS = 100_000


class KeyRing:
    """Presented key -> key id (keys are kept hashed in the store). The configured keys are
    registered at start; ``refresh`` (every sweep) picks up keys created or revoked since
    by ``cinefuse keys`` or another server. Called from the sweeper's thread: each refresh
    swaps whole maps in, never edits them, so readers on the event loop need no lock."""

    def __init__(self, keys: KeyRepository, configured: list[str]) -> None:
        self._keys = keys
        self._ids = keys.ensure(configured)
        self._active = frozenset(self._ids.values())

    def refresh(self) -> None:
        ids = self._keys.ids()
        self._ids = ids
        self._active = frozenset(ids.values())

    def is_active(self, key_id: int) -> bool:
        """Whether the key ``key_id`` is still usable: False once a refresh found it revoked.
        A session authenticated earlier asks this before each task (docs/api.md, "Revoked keys")."""
        return key_id in self._active

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


def bearer_key(scope: Scope) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header ("" when the key is empty or
    blank: an invalid key, not a missing one); None without such a header."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            header = bytes(value)
            if header[:6].lower() == b"bearer" and header[6:7] in (b"", b" ", b"\t"):
                return header[6:].strip().decode("latin-1")
            return None
    return None


def is_local(scope: Scope) -> bool:
    """Whether the caller is on this machine: a loopback client address, as the server sees
    it (behind a reverse proxy whose forwarding headers uvicorn trusts, the real client's)."""
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:  # a Unix socket path, a test client's name
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
