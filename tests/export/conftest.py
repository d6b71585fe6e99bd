"""Fixtures of the export tests: writable copies of the golden log and of the real Binance
capture, each exported once per format for the whole session, and a CLI runner.

The shared real data is read-only and readers may recover journals beside it, so both logs
are copied before anything reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clirunner import Cli, Result  # noqa: F401  (re-exported for the tests here)
from tests.realdata import copy_log, require_real
from xle.replay.export import ExportSummary, export

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
REAL = "real-binance-2024"
LOGS = ("golden", REAL)


@pytest.fixture(scope="session")
def log_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {}


@pytest.fixture(params=LOGS)
def log_root(
    request: pytest.FixtureRequest,
    log_copies: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A copy of the golden log, then of the real capture (skipped when it is absent)."""
    name = request.param
    if name not in log_copies:
        source = GOLDEN if name == "golden" else require_real(name)
        log_copies[name] = copy_log(source, tmp_path_factory.mktemp(f"log-{name}"))
    return log_copies[name]


@dataclass
class Exported:
    root: Path
    out: Path
    summary: ExportSummary


@pytest.fixture(scope="session")
def export_cache() -> dict[tuple[Path, str], Exported]:
    return {}


@pytest.fixture
def exported(
    export_cache: dict[tuple[Path, str], Exported], tmp_path_factory: pytest.TempPathFactory
):
    """``exported(root, fmt)``: the whole log exported in ``fmt``, once per session."""

    def run(root: Path, fmt: str) -> Exported:
        key = (root, fmt)
        if key not in export_cache:
            out = tmp_path_factory.mktemp(f"export-{fmt}")
            export_cache[key] = Exported(root, out, export(root, fmt, out))
        return export_cache[key]

    return run


@pytest.fixture
def cli() -> Cli:
    return Cli()
