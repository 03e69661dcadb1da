"""The distributed profile end to end (docs/deployment.md): two ``cinefuse serve`` API servers
and three ``cinefuse worker`` processes on PostgreSQL + RabbitMQ (and once Redis) + S3
(moto), the preview engine at 360x360, 5 s clips.

* 30 tasks submitted across both servers all succeed, each result exactly once (one S3
  object per result, nothing else in the bucket), the same videoUUIDs from either server,
  the media read through presigned S3 URLs;
* faults: a job process SIGKILLed mid-job, a job that kills its worker every time, RabbitMQ
  stopped and started with jobs queued, PostgreSQL restarted while idle;
* two API servers enforcing one queue cap.

The RabbitMQ tests share one cluster (module fixture) and run in this file's order.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import fresh_database
from tests.delivery.receivers import Receiver
from tests.integration.client import post, video_task
from tests.integration.cluster import (
    AMQP_URL,
    REDIS_URL,
    Cluster,
    S3Server,
    clean_broker,
    cluster_logs_on_failure,
    restart_postgres,
    start_rabbitmq,
    stop_rabbitmq,
    wait_until,
)
from tests.integration.conftest import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.services, pytest.mark.serial]

#: TEST ONLY hook of the job processes (cinefuse.distributed.TEST_EXIT_ON_PROMPT).
KILLER = "kill-my-worker-please"
TIMINGS = {
    "CINEFUSE_OUTBOUND_ALLOW": "127.0.0.1",  # webhooks to the test's receiver
    "CINEFUSE_LEASE_SECONDS": "3",
    "CINEFUSE_SWEEP_INTERVAL": "0.5",
    "CINEFUSE_REDISPATCH_AFTER": "3",
    "CINEFUSE_HEARTBEAT_INTERVAL": "1",
    "CINEFUSE_ENGINE": "preview",
}
#: Workers take pixverse:1@3 only: cinefuse:preview@1 tasks stay queued (the queue cap test).
WORKER_ARGS = ("--role", "jobs", "--models", "pixverse:1@3")
UNSERVED_MODEL = "cinefuse:preview@1"


def task(**fields: Any) -> dict[str, Any]:
    """A 360x360, 5 s task: the shortest clip the model allows."""
    return video_task(resolution=None, width=360, height=360, **fields)


def submit_all(servers: list[LiveServer], api_key: str, tasks: list[dict[str, Any]]) -> list[str]:
    """Submit each task to the next server in turn, concurrently; every one acknowledged."""

    def send(i: int) -> str:
        reply = post(servers[i % len(servers)].base_url, api_key, [tasks[i]])
        assert reply.status_code == 200, reply.text
        return str(tasks[i]["taskUUID"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(send, range(len(tasks))))


def responses(servers: list[LiveServer], api_key: str, task_uuid: str) -> list[dict[str, Any]]:
    bodies = []
    for server in servers:
        reply = post(server.base_url, api_key, [{"taskType": "getResponse", "taskUUID": task_uuid}])
        assert reply.status_code == 200, reply.text
        bodies.append(reply.json())
    return bodies


def wait_all(servers: list[LiveServer], api_key: str, uuids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll until no result of these tasks is processing; returns each task's last body."""
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(uuids):
        for i, task_uuid in enumerate(uuids):
            if task_uuid in done:
                continue
            reply = post(
                servers[i % len(servers)].base_url, api_key, [{"taskType": "getResponse", "taskUUID": task_uuid}]
            )
            body = reply.json()
            items = body.get("data", []) + body.get("errors", [])
            if items and all(item["status"] != "processing" for item in items):
                done[task_uuid] = body
        if len(done) < len(uuids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(uuids) - len(done)} of {len(uuids)} tasks still processing")
            time.sleep(0.3)
    return done


def job_row(cluster: Cluster, task_uuid: str) -> Any:
    from sqlalchemy import select

    from cinefuse.jobs.tables import jobs

    with cluster.store.engine.connect() as conn:
        return conn.execute(select(jobs).where(jobs.c.task_uuid == task_uuid)).one()


def assert_each_result_once(cluster: Cluster, s3: S3Server, bucket: str) -> None:
    """Every successful result has exactly one object in the bucket, and nothing else is there."""
    from sqlalchemy import select

    from cinefuse.jobs.tables import results

    with cluster.store.engine.connect() as conn:
        uuids = [u for (u,) in conn.execute(select(results.c.video_uuid).where(results.c.status == "success"))]
    assert s3.keys(bucket, "videos/") == sorted(f"videos/{u}.mp4" for u in uuids)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server()
    yield server
    server.stop()


def make_cluster(base: Path, s3: S3Server, broker_url: str, name: str) -> Cluster:
    clean_broker(broker_url)
    database_url = fresh_database(f"cinefuse_{name}")
    env = {"CINEFUSE_DATABASE_URL": database_url, "CINEFUSE_BROKER_URL": broker_url, **TIMINGS}
    env |= s3.bucket(f"cinefuse-{name}")
    return Cluster(base, env, database_url)


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory, s3: S3Server) -> Iterator[Cluster]:
    cluster = make_cluster(tmp_path_factory.mktemp("dist-amqp"), s3, AMQP_URL, "amqp")
    try:
        # Webhooks go out through two deliverers of their own, as on two machines; the
        # API servers and a sweeper of its own sweep.
        cluster.start_servers(2, CINEFUSE_DELIVERER="false")
        cluster.start_workers(3, *WORKER_ARGS, CINEFUSE_TEST_EXIT_ON_PROMPT=KILLER)
        cluster.start_workers(2, "--role", "deliverer")
        cluster.start_workers(1, "--role", "sweeper")
        cluster.wait_roles({"worker": 3, "deliverer": 2, "sweeper": 1})
        yield cluster
    finally:
        cluster.stop()


def many_tasks(cluster: Cluster, s3: S3Server, hooks: Receiver | None = None, count: int = 30) -> None:
    servers, key = cluster.servers[:2], cluster.api_key
    bucket = cluster.env["CINEFUSE_S3_BUCKET"]
    tasks = [task(seed=i) for i in range(count)]
    if hooks is not None:
        for i in range(0, count, 2):
            tasks[i]["webhookURL"] = hooks.url(f"/hook/{tasks[i]['taskUUID']}")
    uuids = submit_all(servers, key, tasks)
    finished = wait_all(servers, key, uuids, timeout=150)
    for task_uuid in uuids:
        (item,) = finished[task_uuid]["data"]  # one result, exactly once
        assert item["status"] == "success" and "errors" not in finished[task_uuid]
        seen = responses(servers, key, task_uuid)  # both servers show the same result
        assert [b["data"][0]["videoUUID"] for b in seen] == [item["videoUUID"]] * 2
        assert item["videoURL"].startswith(f"{s3.endpoint}/{bucket}/videos/{item['videoUUID']}.mp4?")
        assert "X-Amz-Signature=" in item["videoURL"]
    for task_uuid in uuids:  # the media, through the presigned URLs
        reply = httpx.get(finished[task_uuid]["data"][0]["videoURL"], timeout=10, trust_env=False)
        assert reply.status_code == 200 and reply.content[4:8] == b"ftyp", reply.text[:200]
        assert reply.headers["content-type"] == "video/mp4"
    assert_each_result_once(cluster, s3, bucket)
    if hooks is not None:  # each webhook exactly once, whichever deliverer sent it
        wait_until(lambda: len(hooks.snapshot()) >= (count + 1) // 2, 30, "webhooks missing")
        time.sleep(1.0)
        paths = sorted(call.route for call in hooks.snapshot())
        assert paths == sorted(f"/hook/{t['taskUUID']}" for t in tasks if "webhookURL" in t)


# ---------------------------------------------------------------------------- RabbitMQ


def test_thirty_tasks_across_two_servers_and_three_workers(rabbit: Cluster, s3: S3Server) -> None:
    with cluster_logs_on_failure(rabbit), Receiver() as hooks:
        many_tasks(rabbit, s3, hooks)
        ready = httpx.get(f"{rabbit.servers[0].base_url}/readyz", timeout=10).json()
        assert ready["status"] == "ready"
        assert {name: check["ok"] for name, check in ready["checks"].items()} == {
            "database": True,
            "broker": True,
            "bucket": True,
            "workers": True,
        }
        metrics = httpx.get(f"{rabbit.servers[1].base_url}/metrics", timeout=10).text
        assert re.search(r'^cinefuse_workers_live\{role="worker"\} 3\.0$', metrics, re.M), metrics[-2000:]
        assert "cinefuse_queue_depth" in metrics


def test_a_job_process_killed_mid_job_leaves_one_result(rabbit: Cluster, s3: S3Server) -> None:
    import os
    import signal

    with cluster_logs_on_failure(rabbit):
        servers, key = rabbit.servers[:2], rabbit.api_key
        uuids = submit_all(servers, key, [task(seed=100 + i) for i in range(4)])

        def running() -> Any:
            for task_uuid in uuids:
                row = job_row(rabbit, task_uuid)
                if row.status == "running" and row.lease_owner:
                    return row
            return None

        wait_until(lambda: running() is not None, 60, "no job started")
        victim = running()
        os.kill(int(victim.lease_owner.split(":")[1]), signal.SIGKILL)  # the job process, mid-job
        finished = wait_all(servers, key, uuids, timeout=90)
        assert all([i["status"] for i in finished[u]["data"]] == ["success"] for u in uuids)
        assert job_row(rabbit, victim.task_uuid).attempts >= 2  # finished on another attempt
        assert_each_result_once(rabbit, s3, rabbit.env["CINEFUSE_S3_BUCKET"])
        rabbit.wait_live_workers(3)  # the worker command restarted its job process


def test_a_job_that_kills_its_worker_ends_after_the_attempt_cap(rabbit: Cluster) -> None:
    with cluster_logs_on_failure(rabbit):
        servers, key = rabbit.servers[:2], rabbit.api_key
        killer, *others = submit_all(
            servers, key, [task(positivePrompt=f"a storm at sea {KILLER}"), task(seed=7), task(seed=8)]
        )
        finished = wait_all(servers, key, [killer, *others], timeout=120)
        (error,) = finished[killer]["errors"]
        assert (error["status"], error["code"]) == ("error", "inferenceError")
        assert "Gave up after 3 attempts" in error["message"]
        row = job_row(rabbit, killer)
        assert (row.status, row.attempts) == ("error", 3)
        assert all(finished[u]["data"][0]["status"] == "success" for u in others)
        time.sleep(2)  # a redelivered message of the spent job must not run it again
        assert job_row(rabbit, killer).attempts == 3
        rabbit.wait_live_workers(3)


def test_broker_stopped_and_started_with_jobs_queued_loses_nothing(rabbit: Cluster) -> None:
    with cluster_logs_on_failure(rabbit):
        servers, key = rabbit.servers[:2], rabbit.api_key
        before = submit_all(servers, key, [task(seed=200 + i) for i in range(6)])
        try:
            stop_rabbitmq()  # with most of those still queued
            during = submit_all(servers, key, [task(seed=300 + i) for i in range(4)])  # acknowledged all the same
        finally:
            start_rabbitmq()
        finished = wait_all(servers, key, before + during, timeout=150)
        assert all(finished[u]["data"][0]["status"] == "success" for u in before + during)


def test_postgres_restarted_while_idle_everyone_reconnects(rabbit: Cluster) -> None:
    with cluster_logs_on_failure(rabbit):
        servers, key = rabbit.servers[:2], rabbit.api_key
        rabbit.store.engine.dispose()
        restart_postgres()
        uuids = submit_all(servers, key, [task(seed=400 + i) for i in range(4)])
        finished = wait_all(servers, key, uuids, timeout=90)
        assert all(finished[u]["data"][0]["status"] == "success" for u in uuids)
        assert httpx.get(f"{servers[1].base_url}/readyz", timeout=10).status_code == 200


def test_two_servers_share_one_queue_cap(rabbit: Cluster) -> None:
    with cluster_logs_on_failure(rabbit):
        capped = rabbit.start_servers(2, CINEFUSE_QUEUE_LIMIT="5", CINEFUSE_API_KEYS="sk-capped-key")
        tasks = [task(model=UNSERVED_MODEL, seed=i) for i in range(12)]  # no worker takes these

        def send(i: int) -> int:
            return post(capped[i % 2].base_url, "sk-capped-key", [tasks[i]]).status_code

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(send, range(12)))
        assert sorted(statuses) == [200] * 5 + [429] * 7
        for server in capped:  # both servers now refuse, with the queue cap's code
            reply = post(server.base_url, "sk-capped-key", [task(model=UNSERVED_MODEL)])
            assert reply.status_code == 429 and reply.json()["errors"][0]["code"] == "queueFull"


# ---------------------------------------------------------------------------- Redis


def test_tasks_with_redis_as_broker_run_once_each(tmp_path: Path, s3: S3Server) -> None:
    cluster = make_cluster(tmp_path, s3, REDIS_URL, "redis")
    try:
        with cluster_logs_on_failure(cluster):
            cluster.start_servers(2)
            cluster.start_workers(3, *WORKER_ARGS)
            cluster.wait_live_workers(3)
            many_tasks(cluster, s3, count=12)  # the broker variant; the RabbitMQ case runs thirty
    finally:
        cluster.stop()
