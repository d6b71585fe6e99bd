"""Fixtures of the public-API tests: private copies of logs and an in-process CLI."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


class Cli:
    """``xle …`` in-process through Typer's runner, stdout and stderr kept apart."""

    def __init__(self) -> None:
        self._runner = CliRunner()

    def __call__(self, *args: str | Path | int) -> Result:
        from xle.cli import app

        result = self._runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)


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
