"""``xle.backtest`` is the function the design promises, whatever else was imported."""

from __future__ import annotations

from pathlib import Path

import xle
import xle.backtesting  # importing the package must not shadow the function

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


class Idle(xle.Strategy):
    def on_start(self, ctx) -> None:
        ctx.subscribe("binance", "BTCUSDT", events=("book",))


def test_xle_backtest_is_the_function_and_runs_on_a_log() -> None:
    assert callable(xle.backtest) and xle.backtest is xle.backtesting.backtest
    result = xle.backtest(Idle(), xle.open(GOLDEN))
    assert isinstance(result, xle.BacktestResult)
    assert result.orders.num_rows == 0 and len(result.digest) == 64
