"""Fixtures of the replay-side tests: copies of the golden logs and a CLI runner.

``pytest tests/replay --regen-golden`` (or ``XLE_REGEN_GOLDEN=1``) rewrites the expected
files under ``tests/data/expected/`` from the current code instead of comparing; review
the diff before committing it (see tests/data/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.clirunner import Cli, Result  # noqa: F401  (re-exported for the tests here)
from tests.realdata import copy_log, require_real

DATA = Path(__file__).resolve().parents[1] / "data"
EXPECTED = DATA / "expected"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite tests/data/expected/* from the current code instead of comparing",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    flag = request.config.getoption("--regen-golden", default=False)
    return bool(flag) or os.environ.get("XLE_REGEN_GOLDEN") == "1"


@pytest.fixture
def cli() -> Cli:
    return Cli()


def _copy(source: Path, tmp_path: Path) -> Path:
    return copy_log(source, tmp_path / source.name)


@pytest.fixture
def golden_root(tmp_path: Path) -> Path:
    """A private copy of the hand-made Binance + Coinbase log (tests/data/golden)."""
    return _copy(DATA / "golden", tmp_path)


@pytest.fixture
def real_root(tmp_path: Path) -> Path:
    """A private copy of the real Binance / Binance.US capture (``../shared/data/real``)."""
    return _copy(require_real("real"), tmp_path)
