"""How much of what ``/openapi.json`` allows the server accepts: schemathesis against a live server.

:func:`measure` generates request bodies from the served document (positive: bodies the schema
allows; negative: bodies it refuses) with a fixed seed, sends them to a real ``cinefuse serve``
(``CINEFUSE_WORKERS=0``: accepted tasks wait in the queue) and tallies the replies: bodies and
tasks accepted, 5xx replies, and every refusal by cause (code and parameter, indices dropped).
``tests/api/test_schema_acceptance.py`` runs a bounded version; the full figures come from::

    .venv/bin/python -m tests.api.schema_acceptance --examples 200 --seed 20

(one run per task type and mode, the task types narrowed as ``test_openapi.only_task`` does,
plus the whole operation: arrays mixing every task type).

``fresh_uuids`` gives every generated videoInference and imageUpload task a new taskUUID (a
seeded UUID v4, still schema-valid) before it is sent: generators repeat their values (the
minimal ``00000000-0000-4000-8000-000000000000`` above all), and a taskUUID already used is
refused (``conflictTaskUUID``) for a reason no schema can state. With it, what remains are the
refusals of the body itself.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from tests.integration.conftest import LiveServer, start_live_server

from cinefuse.api.openapi import TASK_COMPONENTS
from cinefuse.schemas.tasks import TASK_TYPES

#: The whole operation (arrays mixing every task type) rather than one task type.
ALL = "all"


@dataclass
class Tally:
    """What the server answered to the generated bodies of one run."""

    bodies: int = 0
    bodies_accepted: int = 0
    tasks: int = 0
    tasks_accepted: int = 0
    server_errors: int = 0
    #: "code parameter" -> how many tasks were refused so (parameter indices as ``[]``).
    causes: Counter[str] = field(default_factory=Counter)
    #: cause -> one body that got it, to show.
    examples: dict[str, Any] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.bodies += other.bodies
        self.bodies_accepted += other.bodies_accepted
        self.tasks += other.tasks
        self.tasks_accepted += other.tasks_accepted
        self.server_errors += other.server_errors
        self.causes.update(other.causes)
        for cause, body in other.examples.items():
            self.examples.setdefault(cause, body)

    def summary(self) -> dict[str, Any]:
        return {
            "bodies": f"{self.bodies_accepted}/{self.bodies}",
            "tasks": f"{self.tasks_accepted}/{self.tasks}",
            "5xx": self.server_errors,
            "causes": dict(self.causes.most_common()),
        }


def narrowed(document: dict[str, Any], task_type: str) -> dict[str, Any]:
    """The document with ``POST /v1`` only; its body items narrowed to one task type unless ``ALL``."""
    out = copy.deepcopy(document)
    out["paths"] = {"/v1": out["paths"]["/v1"]}
    if task_type != ALL:
        schema = out["paths"]["/v1"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        schema["items"] = {"$ref": f"#/components/schemas/{TASK_COMPONENTS[task_type]}"}
    return out


def cause_of(error: dict[str, Any], *, why: bool = False) -> str:
    """``code parameter`` (indices as ``[]``); with ``why``, the message's gist too (UUIDs,
    numbers and the parameter dropped), to tell causes of one code apart."""
    parameter = re.sub(r"\[\d+\]", "[]", str(error.get("parameter", "")))
    cause = f"{error.get('code')} {parameter}".strip()
    if why:
        gist = str(error.get("message", "")).replace(str(error.get("parameter", "")), "<param>")
        gist = re.sub(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|\d+", "#", gist)
        cause += f": {gist[:80]}"
    return cause


#: Tasks whose taskUUID names a new task (a used one is ``conflictTaskUUID``).
NEW_TASKS = ("videoInference", "imageUpload")


def renew_uuids(body: Any, rng: random.Random) -> None:
    """Give each new task of ``body`` a fresh UUID v4 (in place)."""
    for task in body if isinstance(body, list) else []:
        if isinstance(task, dict) and task.get("taskType") in NEW_TASKS and isinstance(task.get("taskUUID"), str):
            task["taskUUID"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))


def measure(
    server: LiveServer,
    document: dict[str, Any],
    task_type: str,
    mode: GenerationMode,
    *,
    examples: int,
    seed_value: int,
    fresh_uuids: bool = False,
    why: bool = False,
) -> Tally:
    """Send ``examples`` generated bodies (seeded) of ``task_type`` in ``mode``; tally the replies."""
    operation = schemathesis.openapi.from_dict(narrowed(document, task_type))["/v1"]["POST"]
    headers = {"Authorization": f"Bearer {server.api_key}"}
    tally = Tally()
    rng = random.Random(f"{seed_value} {task_type} {mode.value}")  # runs share a server: no UUID twice

    @seed(seed_value)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        if fresh_uuids:
            renew_uuids(case.body, rng)
        response = case.call(base_url=server.base_url, headers=headers, timeout=60)
        tally.bodies += 1
        if response.status_code >= 500:
            tally.server_errors += 1
            tally.examples.setdefault(f"5xx {response.status_code}", case.body)
            return
        body = case.body if isinstance(case.body, list) else []
        tally.tasks += len(body)
        try:
            reply = response.json()
        except ValueError:
            reply = {}
        errors = reply.get("errors", []) if isinstance(reply, dict) else []
        # Only result errors of a getResponse come with 200; those tasks were still accepted.
        refused = [e for e in errors if e.get("status") != "error"]
        if response.status_code == 200 and not refused:
            tally.bodies_accepted += 1
        tally.tasks_accepted += max(0, len(body) - len(refused))
        for error in refused:
            cause = cause_of(error, why=why)
            tally.causes[cause] += 1
            tally.examples.setdefault(cause, case.body)

    run()
    return tally


def fetch_document(server: LiveServer) -> dict[str, Any]:
    reply = httpx.get(f"{server.base_url}/openapi.json", timeout=30)
    reply.raise_for_status()
    document: dict[str, Any] = reply.json()
    return document


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=200, help="bodies per task type and mode")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--task-types", default=",".join([*TASK_TYPES, ALL]))
    parser.add_argument("--modes", default="positive,negative")
    parser.add_argument("--show", type=int, default=0, help="print this many characters of one body per cause")
    parser.add_argument("--fresh-uuids", action="store_true", help="a new taskUUID for every new task sent")
    parser.add_argument("--why", action="store_true", help="tell causes apart by their message too")
    args = parser.parse_args(argv)
    modes = [GenerationMode(m) for m in args.modes.split(",")]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_live_server(Path(tmp), {"CINEFUSE_WORKERS": "0"})
        try:
            document = fetch_document(server)
            for mode in modes:
                total = Tally()
                for task_type in args.task_types.split(","):
                    started = time.monotonic()
                    tally = measure(
                        server,
                        document,
                        task_type,
                        mode,
                        examples=args.examples,
                        seed_value=args.seed,
                        fresh_uuids=args.fresh_uuids,
                        why=args.why,
                    )
                    results[f"{mode.value} {task_type}"] = {
                        **tally.summary(),
                        "seconds": round(time.monotonic() - started, 1),
                    }
                    if task_type != ALL:
                        total.add(tally)
                    if args.show:
                        for cause, body in tally.examples.items():
                            shown = json.dumps(body, default=repr)[: args.show]
                            print(f"  {mode.value} {task_type} {cause}: {shown}", file=sys.stderr)
                results[f"{mode.value} (task types together)"] = total.summary()
            traceback = "Traceback" in server.log_tail(100_000)
            results["traceback in server log"] = traceback
        finally:
            server.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
