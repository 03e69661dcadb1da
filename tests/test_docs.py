"""The repository stands alone: its documents link only to files it has, and nothing in it
points outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: Markdown links and images: [text](target) and ![alt](target).
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#+\s+(.*)$", re.MULTILINE)


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if line]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in _LINK.findall(document.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("//"):
            continue  # an absolute URL
        path_part, _, fragment = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        if not resolved.exists():
            broken.append(target)
            continue
        if fragment and resolved.suffix == ".md":
            anchors = {anchor(h) for h in _HEADING.findall(resolved.read_text())}
            if fragment not in anchors:
                broken.append(target)
    assert broken == [], f"{document.relative_to(ROOT)}: broken links {broken}"


def test_nothing_points_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in tracked_files()
        if path.suffix in {".py", ".md", ".toml", ".sh", ".txt", ".yml", ".yaml", ".html", ".js", ".cfg", ""}
        and path.is_file()
        and path.name != "test_docs.py"
        and (
            "../shared" in path.read_text(errors="ignore")
            or re.search(r"\b(API|ARCHITECTURE|STYLE)\.md\b", path.read_text(errors="ignore"))
        )
    ]
    assert offenders == []
