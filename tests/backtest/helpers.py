"""Shared pieces of the backtest CLI and example tests: data copies, the CLI, examples."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xle.cli import app

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
EXAMPLES = REPO / "examples"
REAL_2024 = REPO.parent / "shared" / "data" / "real-binance-2024"
GOLDEN_RANGE = ("2024-01-02T03:00:00Z", "2024-01-02T04:00:00Z")
REAL_RANGE = ("2024-08-08T23:54:00Z", "2024-08-09T00:06:00Z")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def xle(*args: str | Path) -> Result:
    """``xle …`` in-process, stdout and stderr apart."""
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def golden_copy(tmp_path: Path) -> Path:
    target = tmp_path / "golden"
    shutil.copytree(DATA / "golden", target)
    return target


def real_copy(tmp_path: Path) -> Path:
    """A private copy of ../shared/data/real-binance-2024 (runs write under it)."""
    if not REAL_2024.is_dir():
        pytest.skip(f"real data not present: {REAL_2024}")
    target = tmp_path / "real-binance-2024"
    shutil.copytree(REAL_2024, target)
    return target


def example(name: str):
    """The module ``examples/<name>.py``."""
    module_name = f"xle_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
