"""Fixtures of the public-API tests: private copies of logs and an in-process CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.clirunner import Cli, Result  # noqa: F401  (re-exported for the tests here)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli()


def copy_log(source: Path, target: Path) -> Path:
    """A private copy of a log's raw/ (tests write derived/ next to it)."""
    shutil.copytree(source / "raw", target / "raw")
    return target


@pytest.fixture
def golden_root(tmp_path: Path) -> Path:
    """The hand-made Binance + Coinbase log of tests/data/golden."""
    return copy_log(DATA / "golden", tmp_path / "golden")
