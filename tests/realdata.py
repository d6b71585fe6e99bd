"""Where the real exchange captures live, and the skip when they are not there.

Real third-party traffic is not part of the repository: it sits in the shared data folder
beside the clone (``../shared/data/<name>/raw/...`` from the repository root), which CI
provides. A test that needs it calls :func:`require_real`, which returns the log's root
or skips the test with the path it looked at, so a checkout without the folder still runs
everything else.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: The shared data folder: ``../shared/data`` relative to the repository root.
SHARED_DATA = REPO.parent / "shared" / "data"


def real_root(name: str) -> Path:
    """The root of the real log ``name`` (it holds ``raw/``), whether or not it exists."""
    return SHARED_DATA / name


def require_real(name: str) -> Path:
    """The root of the real log ``name``; skips the calling test (or module) when absent."""
    root = real_root(name)
    if not (root / "raw").is_dir():
        pytest.skip(
            f"real data {name!r} is not available: expected {root / 'raw'} "
            "(the shared data folder beside the repository, ../shared/data)",
            allow_module_level=True,
        )
    return root


def copy_log(source: Path, target: Path) -> Path:
    """A writable copy of the log at ``source`` (the shared folder is read-only, and a
    replay writes ``derived/`` beside ``raw/``): the same bytes, default permissions."""
    for path in sorted(source.rglob("*")):
        if path.is_file():
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    return target
