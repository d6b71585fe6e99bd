"""Docstrings and comments of ``xle`` point only inside the repository, and a pointer to a
section of docs/design.md names a section that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    path for pattern in ("*.py", "*.pyx", "*.pxi") for path in (ROOT / "xle").rglob(pattern)
)
#: ``docs/design.md, "Title"`` or ``docs/design.md, "One" and "Two"``
POINTER = re.compile(r'docs/design\.md,\s+((?:"[^"]+"(?:\s+and\s+)?)+)')


def _titles() -> set[str]:
    text = (ROOT / "docs" / "design.md").read_text()
    return {
        re.sub(r"^[\d.]+\s+", "", line.lstrip("#").strip())
        for line in text.splitlines()
        if line.startswith("#")
    }


def test_no_source_points_outside_the_repository():
    outside = re.compile(r"DESIGN(\.md)? section|PERF-BASELINES|\.\./shared|/work/shared")
    hits = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in SOURCES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if outside.search(line)
    ]
    assert hits == []


def test_every_pointer_into_the_design_names_one_of_its_sections():
    titles = _titles()
    unknown = []
    for path in SOURCES:
        text = " ".join(path.read_text().split())
        for match in POINTER.finditer(text):
            for title in re.findall(r'"([^"]+)"', match.group(1)):
                if title not in titles:
                    unknown.append(f"{path.relative_to(ROOT)}: {title}")
    assert unknown == []


def test_the_source_points_into_the_design():
    assert any(POINTER.search(" ".join(p.read_text().split())) for p in SOURCES)
