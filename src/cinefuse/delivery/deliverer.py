"""The deliverer: sends outbox rows (webhook calls, uploads) with retries.

Rows are written in the transaction that finishes a result (``jobs.store``), so a
crash or restart loses none: the deliverer claims due rows with a short lease, sends
them concurrently, and records the outcome. Retries back off exponentially
(``backoff * 2**(attempt-1)``: 1 s, 2 s, 4 s, ... by default) up to ``max_tries``.

* Webhooks (docs/api.md 4.2): POST ``{"data":[item]}`` or ``{"errors":[item]}`` built from the
  result as it stands when sent (so it reports an upload's outcome); any non-2xx,
  timeout or network error is retried; a URL the outbound guard refuses is given up at once.
* Uploads (docs/api.md 4.3): PUT of the raw file with its Content-Type and an explicit
  Content-Length; retried on 5xx, 429, timeouts and network errors; any other failure,
  or running out of tries, turns the result into ``uploadFailed`` (the file stays at
  its videoURL). A result's webhook waits until its upload has ended.

Runs in its own thread with its own event loop, in the server (embedded) or in a
``cinefuse worker`` process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cinefuse.delivery.outbound import OutboundClient, OutboundError, OutboundRefused, OutboundTimeout, loggable_url
from cinefuse.delivery.signing import webhook_headers
from cinefuse.errors import UploadFailed
from cinefuse.jobs.models import VIDEO_EVENT_PREFIX, Delivery, DeliveryOutcome, ResultFailure, ResultView
from cinefuse.jobs.store import JobStore
from cinefuse.metrics import count_delivery_retry, count_failure
from cinefuse.owners import dead_here, new_owner
from cinefuse.storage.base import MediaStore

log = logging.getLogger(__name__)

#: Rows claimed per round, and sends in flight at once.
CLAIM_BATCH = 200
CONCURRENCY = 32
#: Idle wait between rounds when nothing is due (seconds).
IDLE_POLL = 0.25
#: Outcomes are written in batches: at most this often (seconds) while busy.
FLUSH_INTERVAL = 0.05


#: (taskUUID, result) -> (is it an error?, the wire item): how the API shows a result
#: (``api.results.result_item``), so a webhook carries exactly what getResponse would.
ResultRenderer = Callable[[str, ResultView], tuple[bool, dict[str, Any]]]
#: (delivery, result, unix seconds now) -> the body of an OpenAI-style video event
#: (deliveries whose id starts with ``VIDEO_EVENT_PREFIX``: ``api.videos.events``).
EventRenderer = Callable[[Delivery, ResultView, int], dict[str, Any]]


@dataclass(frozen=True)
class DeliverySettings:
    max_tries: int = 8
    backoff: float = 1.0
    timeout: float = 10.0

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(self.backoff * 2 ** (attempt - 1))


class _Retry(Exception):
    """A failure worth another try."""


class _GiveUp(Exception):
    """A failure no retry can fix."""


class Deliverer:
    def __init__(
        self,
        store: JobStore,
        media: MediaStore,
        outbound: OutboundClient,
        render: ResultRenderer,
        settings: DeliverySettings,
        *,
        webhook_secret: Callable[[int], str | None] = lambda key_id: None,
        clock: Callable[[], float] = time.time,
        render_event: EventRenderer | None = None,
    ) -> None:
        self.store = store
        self.media = media
        self.outbound = outbound
        self.render = render
        self.render_event = render_event
        self.settings = settings
        self.webhook_secret = webhook_secret
        self.clock = clock
        self.owner = new_owner()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0  # counters for benchmarks and tests
        self.failed = 0
        self._outcomes: list[DeliveryOutcome] = []

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        released = self.release_orphans()
        if released:
            log.info("retrying %d deliveries a dead deliverer of this host was sending", released)
        self._thread = threading.Thread(target=lambda: asyncio.run(self.run()), name="cinefuse-deliverer", daemon=True)
        self._thread.start()

    def release_orphans(self) -> int:
        """Make due at once the deliveries that deliverers of this host, now dead (a
        killed server), were sending: they are retried now, not when their claims expire."""
        owners = [owner for owner in self.store.outbox.claim_owners() if dead_here(owner)]
        return self.store.outbox.release_claims(owners)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    async def run(self) -> None:
        """Deliver until ``stop()``; each round claims what is due and sends it. Outcomes
        are written in batches by a flusher, not one transaction per call."""
        gate = asyncio.Semaphore(CONCURRENCY)
        in_flight: set[asyncio.Task[None]] = set()
        flusher = asyncio.create_task(self._flush_loop())
        while not self._stop.is_set():
            try:
                # Only claim what can start soon, so a lease never runs out while queued here.
                room = CLAIM_BATCH - len(in_flight)
                due = (
                    await asyncio.to_thread(self.store.outbox.claim_due, room, self._lease(), self.owner)
                    if room > 0
                    else []
                )
            except Exception:  # the store is unreachable: keep the loop alive
                log.exception("claiming deliveries failed")
                due = []
            for delivery in due:
                task = asyncio.create_task(self._guarded(gate, delivery))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            await asyncio.sleep(IDLE_POLL if not due else FLUSH_INTERVAL)
        if in_flight:
            await asyncio.wait(in_flight, timeout=self.settings.timeout)
        flusher.cancel()
        await self._flush()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            await self._flush()

    async def _flush(self) -> None:
        batch, self._outcomes = self._outcomes, []
        if not batch:
            return
        try:
            await asyncio.to_thread(self.store.outbox.record, batch)
        except Exception:  # keep them for the next flush; their leases hold them meanwhile
            log.exception("recording %d delivery outcomes failed", len(batch))
            self._outcomes[:0] = batch

    def _lease(self) -> float:
        # Long enough for the whole claimed batch to be sent at CONCURRENCY at a time.
        return self.settings.timeout * (CLAIM_BATCH / CONCURRENCY + 2)

    async def _guarded(self, gate: asyncio.Semaphore, delivery: Delivery) -> None:
        async with gate:
            try:
                outcome = await self.attempt(delivery)
                # Not ``self._outcomes.append(await ...)``: that would bind the list before the
                # await, and the flusher swaps the list meanwhile.
                self._outcomes.append(outcome)
            except Exception:  # a bug in one delivery must not stop the others
                log.exception("delivery %s crashed", delivery.delivery_id)

    # ---------------------------------------------------------------- one delivery

    async def deliver(self, delivery: Delivery) -> None:
        """Send one row and record the outcome at once (sent, retry later, or failed)."""
        outcome = await self.attempt(delivery)
        await asyncio.to_thread(self.store.outbox.record, [outcome])

    async def attempt(self, delivery: Delivery) -> DeliveryOutcome:
        """Send one row; the outcome is for the caller to record."""
        try:
            if delivery.kind == "webhook":
                await self._webhook(delivery)
            else:
                await self._upload(delivery)
        except _Retry as retry:
            attempt = delivery.attempts + 1
            if attempt < self.settings.max_tries:
                next_at = self.clock() + self.settings.delay_after(attempt)
                count_delivery_retry(delivery.kind)
                return DeliveryOutcome(delivery, "pending", str(retry), next_at)
            return self._give_up(delivery, f"gave up after {attempt} tries: {retry}")
        except _GiveUp as reason:
            return self._give_up(delivery, str(reason))
        self.sent += 1
        return DeliveryOutcome(delivery, "sent")

    def _give_up(self, delivery: Delivery, reason: str) -> DeliveryOutcome:
        self.failed += 1
        log.warning("%s %s to %s failed: %s", delivery.kind, delivery.delivery_id, loggable_url(delivery.url), reason)
        result_error = None
        if delivery.kind == "upload":
            result_error = ResultFailure.of(
                UploadFailed(f"Upload to uploadEndpoint failed: {reason}", parameter="uploadEndpoint")
            )
            count_failure(result_error.code)
        return DeliveryOutcome(delivery, "failed", reason, result_error=result_error)

    async def _webhook(self, delivery: Delivery) -> None:
        view = await asyncio.to_thread(self.store.results.get, delivery.job_id, delivery.result_idx)
        if view is None:
            raise _GiveUp("result no longer exists")
        now = int(self.clock())
        if self.render_event is not None and delivery.delivery_id.startswith(VIDEO_EVENT_PREFIX):
            body = orjson.dumps(self.render_event(delivery, view, now))
        else:
            is_error, item = self.render(delivery.task_uuid, view)
            body = orjson.dumps({"errors": [item]} if is_error else {"data": [item]})
        headers = webhook_headers(delivery.delivery_id, now, body, self.webhook_secret(delivery.key_id))
        status = await self._send("POST", delivery.url, headers, body)
        if not 200 <= status < 300:
            raise _Retry(f"HTTP {status}")

    async def _upload(self, delivery: Delivery) -> None:
        view = await asyncio.to_thread(self.store.results.get, delivery.job_id, delivery.result_idx)
        if view is None or view.media_key is None or view.content_type is None:
            raise _GiveUp("the result's file is gone")
        data = await asyncio.to_thread(self.media.read_bytes, view.media_key)
        status = await self._send("PUT", delivery.url, {"content-type": view.content_type}, data)
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}")
        if not 200 <= status < 300:
            raise _GiveUp(f"HTTP {status}")

    async def _send(self, method: str, url: str, headers: dict[str, str], body: bytes) -> int:
        try:
            reply = await self.outbound.send(method, url, headers=headers, content=body, timeout=self.settings.timeout)
        except OutboundRefused as refused:
            raise _GiveUp(f"refused by the outbound guard: {refused}") from refused
        except OutboundTimeout as timeout:
            raise _Retry(f"timed out: {timeout}") from timeout
        except OutboundError as error:
            raise _Retry(str(error)) from error
        return reply.status_code
