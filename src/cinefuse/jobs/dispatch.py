"""The dispatch port: how the job service tells workers that a job is queued.

The job row decides ownership; a dispatcher only wakes workers, so it may lose or repeat a
hint without losing or doubling a job. Implementations live with the workers:
``engine.local.LocalWorkerPool`` (threads polling the store, embedded profile) and the
Celery dispatcher of the distributed profile.
"""

from __future__ import annotations

from typing import Protocol


class Dispatcher(Protocol):
    def dispatch(self, job_id: str) -> None:
        """Hint that ``job_id`` is queued (called after its row is committed). Must not
        block; losing a hint loses no job (workers also poll, the sweeper re-dispatches)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class NullDispatcher:
    """For an API-only server (``CINEFUSE_WORKERS=0``) whose workers poll the store."""

    def dispatch(self, job_id: str) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
