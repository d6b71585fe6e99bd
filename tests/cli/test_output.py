"""What a person reads: no float noise, no internal names in help, a clean install."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from xle.cli import app
from xle.records import ArbitrageEpisode
from xle.store.derived import DerivedWriter, Scope

REPO = Path(__file__).resolve().parents[2]
#: A float printed with its binary noise: 15 or more significant digits after a point.
NOISE = re.compile(r"\d\.\d*\d{13,}|\d{6,}\.\d{9,}")
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


def _episode(start: int) -> ArbitrageEpisode:
    return ArbitrageEpisode(
        start, 12, "BTC/USD", "binance:BTCUSDT", "coinbase:BTC-USD", "closed", start,
        start + 1_500_000_000, 1_500_000_000, 8.883600000000001, 12.345678901234,
        0.30000000000000004, 57.80000000000001, "edge",
    )  # fmt: skip


def test_book_json_vwap_is_rounded_to_the_tick_and_bps_to_two_decimals(
    cli: Cli, golden_root: Path
) -> None:
    args = ("-e", "coinbase", "-s", "BTC-USD", "--at", "2024-01-02T03:00:05Z", "--json")
    result = cli("book", "--data", golden_root, *args, "--vwap", "10")
    doc = json.loads(result.stdout)
    assert not NOISE.search(result.stdout), result.stdout
    sell = next(w for w in doc["vwap"] if w["side"] == "sell")
    assert set(sell) == {"side", "size", "price", "filled", "slippage_bps"}
    assert (sell["price"], sell["filled"], sell["slippage_bps"]) == ("42041", "6.2", 154.38)


def test_arb_figures_are_rounded_in_every_format(cli: Cli, golden_root: Path) -> None:
    writer = DerivedWriter(golden_root, Scope(1_704_164_403_000_000_000, 1_704_164_410_000_000_000))
    assert writer.add(_episode(1_704_164_403_000_000_000))
    writer.commit()
    for fmt in ("table", "csv", "json"):
        out = cli("arb", "--data", golden_root, "-f", fmt).stdout
        assert not NOISE.search(out), (fmt, out)
        assert "0.30000000000000004" not in out and "57.80000000000001" not in out
    (row,) = json.loads(cli("arb", "--data", golden_root, "-f", "json").stdout)
    assert (row["edge_bps"], row["peak_edge_bps"], row["duration_s"]) == (8.88, 12.35, 1.5)
    csv = cli("arb", "--data", golden_root, "-f", "csv").stdout
    assert ",12.35,8.88,0.3,57.8," in csv


def test_query_prints_floats_without_noise_in_every_format(cli: Cli, golden_root: Path) -> None:
    sql = "SELECT 0.1::DOUBLE + 0.2::DOUBLE AS x, 60096.664851600006::DOUBLE AS vwap"
    for fmt in ("table", "csv", "json"):
        out = cli("query", "--data", golden_root, "-f", fmt, sql).stdout
        assert "0.3" in out and "0.30000000000000004" not in out, out
        assert "60096.6648516" in out and "60096.664851600006" not in out, out


def test_query_keeps_exchange_prices_exact(cli: Cli, golden_root: Path) -> None:
    sql = "SELECT 0.00000001::DOUBLE AS lot, 42000.85::DOUBLE AS price"
    out = cli("query", "--data", golden_root, "-f", "csv", sql).stdout
    assert out.splitlines()[1] == "0.00000001,42000.85"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_no_internal_module_and_no_type_placeholders(cli: Cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "xle." not in result.stdout, result.stdout
    assert not re.search(r"<(bool|str|int|float|path|list\[\w+\])>", result.stdout), result.stdout


def test_pyproject_license_is_an_spdx_string_built_by_a_setuptools_that_reads_it() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    (setuptools,) = [r for r in project["build-system"]["requires"] if "setuptools" in r]
    assert setuptools == "setuptools>=77"  # the first release that reads SPDX strings
