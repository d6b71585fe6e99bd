"""A small log over three UTC days with arbitrage episodes across both midnights.

Written by the fan-out benchmark's generator (``benchmarks/fanout.py``): one message per
venue every 10 s from day 1 18:00 to day 3 06:00, a fresh snapshot of both books every
2 hours (at :17) plus one two seconds before the second midnight, and Coinbase
dislocated upwards for a few minutes around every midnight and noon. Each test copies
it, so that replays never share a ``derived/`` folder.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest


def _benchmark_module():
    """``benchmarks/fanout.py`` under its own name (``fanout`` is this test package)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "fanout.py"
    spec = importlib.util.spec_from_file_location("xle_benchmark_fanout", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_bench = _benchmark_module()
DAY_NS: int = _bench.DAY_NS
START_NS: int = _bench.START_NS
write_log = _bench.write_log
zero_fee_config = _bench.zero_fee_config

HOUR_NS = DAY_NS // 24
DAY1 = START_NS
FIRST_MIDNIGHT = DAY1 + DAY_NS
SECOND_MIDNIGHT = DAY1 + 2 * DAY_NS
LOG_START = DAY1 + 18 * HOUR_NS
LOG_END = SECOND_MIDNIGHT + 6 * HOUR_NS


@pytest.fixture(scope="session")
def multiday_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("multiday")
    write_log(
        root,
        start_ns=LOG_START,
        end_ns=LOG_END,
        step_ns=10_000_000_000,
        extra_snapshots=(SECOND_MIDNIGHT - 2_000_000_000,),
    )
    return root


@pytest.fixture
def multiday(multiday_source: Path, tmp_path: Path) -> Path:
    """A private copy of the three-day log (raw only)."""
    root = tmp_path / "log"
    shutil.copytree(multiday_source / "raw", root / "raw")
    return root


@pytest.fixture
def second_copy(multiday_source: Path, tmp_path: Path) -> Path:
    root = tmp_path / "log2"
    shutil.copytree(multiday_source / "raw", root / "raw")
    return root


@pytest.fixture(scope="session")
def config():
    return zero_fee_config()
