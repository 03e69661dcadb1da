"""docs/api-reference.md is what ``python -m cinefuse.api.reference`` renders now.

The page is generated from the parser, the model capabilities and the error tree; a change to
any of them must come with the regenerated page:
``python -m cinefuse.api.reference > docs/api-reference.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cinefuse.api.reference import render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "api-reference.md"
REGENERATE = "python -m cinefuse.api.reference > docs/api-reference.md"


def test_the_committed_reference_is_current() -> None:
    assert PAGE.read_text() == render(), f"docs/api-reference.md is stale: run `{REGENERATE}`"


def test_the_module_entry_prints_the_page() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cinefuse.api.reference"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out == PAGE.read_text()


def test_the_page_covers_every_task_type_model_and_leaf_error() -> None:
    from cinefuse.models.registry import MODELS
    from cinefuse.schemas.tasks import TASK_TYPES

    text = PAGE.read_text()
    assert all(f"### {task_type}\n" in text for task_type in TASK_TYPES)
    assert all(f"### `{model_id}`\n" in text for model_id in MODELS)
    for code in ("invalidJson", "conflictTaskUUID", "taskNotFound", "nsfwContentDetected", "uploadFailed"):
        assert f"| `{code}` |" in text


def test_the_rules_table_says_truly_which_rules_the_schema_states() -> None:
    """A rule marked "in the schema" is refused by ``/openapi.json``'s schema; one marked "the parser
    only" passes it (and the parser still refuses it: the table shows its code)."""
    import jsonschema_rs

    from cinefuse.api.openapi import openapi_document
    from cinefuse.api.reference import RULES, minimal_task
    from cinefuse.errors import RequestError
    from cinefuse.schemas.parser import parse_task

    document = openapi_document()
    body = document["paths"]["/v1"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator({**body, "components": document["components"]})
    for rule, changes, stated in RULES:
        task = {**minimal_task(), **changes}
        assert validator.is_valid([task]) is not stated, rule
        try:
            parse_task(task)
        except RequestError:
            continue
        raise AssertionError(f"the parser takes {rule!r}")
