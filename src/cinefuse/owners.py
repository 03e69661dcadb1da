"""Who holds a lease: ``host:pid:random`` names a worker or deliverer in the job store,
so that a restarted process can tell which leases were held by processes now dead on its
own host and take them back at once instead of waiting for them to expire."""

from __future__ import annotations

import os
import socket
import uuid


def new_owner() -> str:
    """A fresh owner name for this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_here(owner: str) -> bool:
    """Whether ``owner`` names a process of this host that no longer runs (owners of other
    hosts, or in another form, are never judged dead: their leases expire on their own)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    return host == socket.gethostname() and pid_text.isdigit() and not process_alive(int(pid_text))
