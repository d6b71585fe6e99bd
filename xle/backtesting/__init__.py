"""Backtests: run a strategy on the recorded books.

``backtest(strategy, log, start, end)`` replays the log through the engine and an
execution simulator (``xle.backtesting.execution``: latency, exact taker walks with
self-impact, queue-position maker fills, fees, balances, gap awareness) and returns a
``BacktestResult`` with orders, fills, positions and equity as Arrow tables, a summary and
a digest. The rules are in ``docs/backtest.md``.
"""

from __future__ import annotations

from xle.backtesting.api import backtest, load_strategy, result_dir, sweep
from xle.backtesting.latency import Latency, parse_latency
from xle.backtesting.results import BacktestResult
from xle.backtesting.runner import StrategyError
from xle.backtesting.strategy import Context, Strategy
from xle.backtesting.types import BookView, Fill, OrderStatus, OrderUpdate, RejectReason

__all__ = [
    "BacktestResult",
    "BookView",
    "Context",
    "Fill",
    "Latency",
    "OrderStatus",
    "OrderUpdate",
    "RejectReason",
    "Strategy",
    "StrategyError",
    "backtest",
    "load_strategy",
    "parse_latency",
    "result_dir",
    "sweep",
]
