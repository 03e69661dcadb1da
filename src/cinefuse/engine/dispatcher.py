"""How accepted jobs reach workers. The job row decides ownership; a dispatcher only wakes workers.

Implementations: ``engine.local.LocalWorkerPool`` (embedded: threads in the server
process, or a ``cinefuse worker`` process polling the same database) and, for the
distributed profile, a Celery dispatcher sending the job id to a per-model queue.
"""

from __future__ import annotations

from typing import Protocol


class Dispatcher(Protocol):
    def dispatch(self, job_id: str) -> None:
        """Hint that ``job_id`` is queued. Must not block; losing a hint loses no job
        (workers also poll the store, and the sweeper requeues expired leases)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class NullDispatcher:
    """For an API-only server (``CINEFUSE_WORKERS=0``): workers elsewhere poll the store."""

    def dispatch(self, job_id: str) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
