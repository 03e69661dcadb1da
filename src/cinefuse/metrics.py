"""Prometheus metrics, observed where things happen (docs/deployment.md, "Metrics").

Each process counts what it does: job durations and failed results in the process that
ran the job, delivery retries in the deliverer's, jobs given up in the sweeper's. An API
server exposes its own at ``/metrics`` (``api/metrics.py``, which adds the cluster-wide
gauges read from the job store: queue depth per model, live workers); ``cinefuse worker``
exposes its processes' on ``CINEFUSE_METRICS_PORT`` (and the ports after it).

``prometheus-client`` comes with the ``distributed`` extra; without it every observation
here does nothing and ``/metrics`` is not served.
"""

from __future__ import annotations

import importlib.util

AVAILABLE = importlib.util.find_spec("prometheus_client") is not None

#: Job run times: preview clips take seconds, neural ones minutes (up to the job timeout).
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))

if AVAILABLE:
    from prometheus_client import Counter, Histogram

    JOB_DURATION = Histogram(
        "cinefuse_job_duration_seconds",
        "Run time of jobs from claim to end, by engine, resolution and how the run ended.",
        ["engine", "resolution", "status"],
        buckets=DURATION_BUCKETS,
    )
    FAILURES = Counter(
        "cinefuse_failures_total",
        "Failures by error code: results failed while running, uploads given up, jobs given up"
        " after their worker was lost.",
        ["code"],
    )
    DELIVERY_RETRIES = Counter(
        "cinefuse_delivery_retries_total", "Webhook calls and uploads scheduled for another try.", ["kind"]
    )
    REDISPATCHED = Counter("cinefuse_jobs_redispatched_total", "Queued jobs whose broker message was published again.")


def observe_job(engine: str, resolution: str, status: str, seconds: float) -> None:
    if AVAILABLE:
        JOB_DURATION.labels(engine, resolution, status).observe(seconds)


def count_failure(code: str, n: int = 1) -> None:
    if AVAILABLE and n:
        FAILURES.labels(code).inc(n)


def count_delivery_retry(kind: str) -> None:
    if AVAILABLE:
        DELIVERY_RETRIES.labels(kind).inc()


def count_redispatch(n: int) -> None:
    if AVAILABLE and n:
        REDISPATCHED.inc(n)


def serve(port: int) -> None:
    """Serve this process's metrics over HTTP on ``port`` (a worker process)."""
    if AVAILABLE:
        from prometheus_client import start_http_server

        start_http_server(port)
