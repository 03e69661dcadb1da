"""The layering of docs/architecture.md, checked on the source itself (with ``ast``).

Every ``import`` in ``src/cinefuse`` (at module level or inside functions) must point
down the table below, and no two modules may import each other, directly or round a
loop. The error tree of ``errors.py`` is checked the same way: every leaf is raised
somewhere, and no call site names an error code.
"""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

import cinefuse
from cinefuse import errors

SRC = Path(cinefuse.__file__).resolve().parent
ROOT = SRC.parent.parent

#: module -> part. Longest matching prefix wins.
PARTS = {
    "cinefuse": "core",
    "cinefuse.settings": "core",
    "cinefuse.errors": "core",
    "cinefuse.owners": "core",
    "cinefuse.gpu_profiles": "core",
    "cinefuse.models": "models",
    "cinefuse.schemas": "schemas",
    "cinefuse.jobs": "jobs",
    "cinefuse.migrations": "jobs",
    "cinefuse.media": "media",
    "cinefuse.storage": "storage",
    "cinefuse.generation": "generation",
    "cinefuse.safety": "safety",
    "cinefuse.delivery": "delivery",
    "cinefuse.engine": "engine",
    "cinefuse.hub": "hub",
    "cinefuse.api": "edge",
    "cinefuse.app": "edge",
    "cinefuse.cli": "edge",
    "cinefuse.doctor": "edge",
    "cinefuse.keys": "edge",
    "cinefuse.services": "edge",
    "cinefuse.worker_processes": "edge",
    "cinefuse.distributed": "edge",
    "cinefuse.web": "edge",
}

_BELOW_JOBS = {"core", "models", "schemas"}
#: part -> the parts it may import (besides itself). Generation, safety, media and storage
#: know nothing of the job store; delivery reads the outbox through it.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "models": {"core"},
    "schemas": {"core", "models"},
    "jobs": _BELOW_JOBS,
    "media": _BELOW_JOBS,
    "storage": {"core"},
    "generation": _BELOW_JOBS | {"media"},
    "safety": _BELOW_JOBS | {"media"},
    "delivery": _BELOW_JOBS | {"jobs", "storage", "media"},
    "engine": _BELOW_JOBS | {"jobs", "media", "storage", "generation", "safety", "delivery"},
    "hub": {"core"},
    "edge": set(PARTS.values()),
}


def part_of(module: str) -> str:
    best = max((prefix for prefix in PARTS if module == prefix or module.startswith(prefix + ".")), key=len)
    return PARTS[best]


def module_name(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def imports_of(module: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported cinefuse module, line) for every import statement in ``path``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cinefuse"):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("cinefuse"):
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                yield (candidate if candidate in known else target), node.lineno


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    known = set(modules)
    return {m: {t for t, _ in imports_of(m, p, known) if t != m} for m, p in modules.items()}


def test_every_import_points_down_the_layers() -> None:
    modules = source_modules()
    known = set(modules)
    wrong = []
    for module, path in modules.items():
        source = part_of(module)
        for target, line in imports_of(module, path, known):
            destination = part_of(target)
            if destination != source and destination not in ALLOWED[source]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {source} ({module}) imports {destination} ({target})")
    assert wrong == [], "imports against the layering of docs/architecture.md:\n" + "\n".join(wrong)


def test_the_allowed_table_has_no_cycle() -> None:
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in ALLOWED[start] - {start}:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [part for part in ALLOWED if part != "edge" and reaches(part, part, set())] == []


def test_no_import_cycle_between_modules() -> None:
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            # A package's __init__ importing its own modules is how packages load, not a cycle.
            members = {m for m in component if not any(m != o and o.startswith(m + ".") for o in component)}
            if len(members) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The walker is not vacuous: a storage module importing the job store is caught."""
    bad = tmp_path / "cinefuse" / "storage" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from cinefuse.jobs.store import JobStore\n")
    found = list(imports_of("cinefuse.storage.bad", bad, {"cinefuse.jobs.store"}))
    assert found == [("cinefuse.jobs.store", 1)]
    assert part_of("cinefuse.jobs.store") not in ALLOWED[part_of("cinefuse.storage.bad")]


# ---------------------------------------------------------------------------- the error tree


def error_classes() -> list[type[errors.CinefuseError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.CinefuseError) and cls.__module__ == errors.__name__
    ]


def leaves() -> list[type[errors.CinefuseError]]:
    classes = error_classes()
    return [cls for cls in classes if not any(other is not cls and issubclass(other, cls) for other in classes)]


@functools.cache
def constructed_names() -> set[str]:
    """Names called anywhere in ``src/`` outside errors.py (``Name(...)``, ``mod.Name(...)``),
    and names subclassed (a subclass raised elsewhere raises its base too)."""
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                    names.add(func.value.id)  # an alternative constructor: Error.from_...(...)
            elif isinstance(node, ast.ClassDef):
                names.update(base.id for base in node.bases if isinstance(base, ast.Name))
    return names


@pytest.mark.parametrize("leaf", leaves(), ids=lambda cls: cls.__name__)
def test_every_leaf_of_the_error_tree_is_raised_somewhere(leaf: type[errors.CinefuseError]) -> None:
    assert leaf.__name__ in constructed_names(), f"{leaf.__name__} is never raised: drop it or use it"


@pytest.mark.parametrize("leaf", leaves(), ids=lambda cls: cls.__name__)
def test_every_leaf_is_drawn_in_the_docstring(leaf: type[errors.CinefuseError]) -> None:
    assert f"── {leaf.__name__} " in (errors.__doc__ or "")


def test_no_call_site_names_an_error_code() -> None:
    error_names = {cls.__name__ for cls in error_classes()}
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in error_names and any(keyword.arg == "code" for keyword in node.keywords):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_http_statuses_are_mapped_only_in_the_api() -> None:
    mentions = [
        str(path.relative_to(ROOT))
        for path in SRC.rglob("*.py")
        if "http_status" in path.read_text() and part_of(module_name(path)) != "edge"
    ]
    assert mentions == []
