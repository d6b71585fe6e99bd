"""Backtest sweeps: every (parameters[, shard]) task equals the serial backtest of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import xle
from tests.fanout.conftest import FIRST_MIDNIGHT, HOUR_NS
from xle.backtesting import sweep
from xle.backtesting.api import load_strategy
from xle.cli import app
from xle.cli.backtest import parse_param_grid
from xle.errors import UsageError

MAKER = str(Path(__file__).with_name("strategies.py")) + ":Alternate"
START = FIRST_MIDNIGHT - 2 * HOUR_NS
END = FIRST_MIDNIGHT + 2 * HOUR_NS - 1


def _same(a: xle.BacktestResult, b: xle.BacktestResult) -> bool:
    return (
        a.digest == b.digest
        and a.params == b.params
        and a.equity.equals(b.equity)
        and a.summary["pnl"] == b.summary["pnl"]
    )


def test_sweep_on_workers_equals_serial_backtests(multiday: Path, config) -> None:
    results = sweep(MAKER, multiday, START, END, grid={"every": [20, 70]}, workers=2,
                    config=config)  # fmt: skip
    assert [r.params for r in results] == [{"every": 20}, {"every": 70}]
    for result in results:
        alone = xle.backtest(
            load_strategy(MAKER, result.params), multiday, START, END,
            config=config, params=result.params,
        )  # fmt: skip
        assert _same(result, alone)
    assert results[0].summary["fills"] > 0
    assert results[0].digest != results[1].digest


def test_independent_shards_equal_serial_backtests_of_each_shard(multiday: Path, config) -> None:
    results = sweep(MAKER, multiday, START, END, workers=2, independent_shards=True,
                    config=config)  # fmt: skip
    assert [(r.summary["start_ns"], r.summary["shard"]) for r in results] == [
        (START, 0),
        (FIRST_MIDNIGHT, 1),
    ]
    for result, (lo, hi) in zip(results, [(START, FIRST_MIDNIGHT - 1), (FIRST_MIDNIGHT, END)],
                                strict=True):  # fmt: skip
        alone = xle.backtest(load_strategy(MAKER), multiday, lo, hi, config=config)
        assert _same(result, alone)


def test_sweep_refuses_a_shard_length_without_independent_shards(multiday: Path) -> None:
    with pytest.raises(UsageError, match="--independent-shards"):
        sweep(MAKER, multiday, START, END, shard="6h")


def test_param_with_commas_sweeps_its_values() -> None:
    fixed, grid = parse_param_grid(["spread_bps=1,2.5", "venue=binance:BTCUSDT", "xs=[1,2]"])
    assert grid == {"spread_bps": [1, 2.5]}
    assert fixed == {"venue": "binance:BTCUSDT", "xs": [1, 2]}


def test_backtest_command_sweep_prints_one_tagged_summary_per_combination(
    multiday: Path,
) -> None:
    result = CliRunner().invoke(
        app,
        ["backtest", MAKER, "--data", str(multiday), "--from", "2026-01-01T22:00:00Z",
         "--to", "2026-01-02T00:30:00Z", "--param", "every=20,70", "--workers", "2",
         "--no-write"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("== every=20") == 1
    assert result.output.count("== every=70") == 1
    assert result.output.count("digest ") == 2
