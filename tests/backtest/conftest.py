from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.backtest.frames import Frames, at
from xle.backtesting import Strategy
from xle.backtesting.latency import Latency
from xle.backtesting.runner import run_backtest
from xle.config import load_config

Action = Callable[[Any], None]


class Scripted(Strategy):
    """Runs ``actions[t_ms](ctx)`` at those record times and keeps what it hears."""

    def __init__(self, actions: dict[float, Action], balances=None, subscribe=()) -> None:
        self.actions = actions
        self.balances = balances or {"binance": {"USDT": "1000000", "BTC": "100"}}
        self.subscriptions = subscribe
        self.updates: list[Any] = []
        self.fills: list[Any] = []
        self.books: list[Any] = []
        self.trades: list[Any] = []
        self.timers: list[int] = []
        self.ids: dict[str, int] = {}

    def on_start(self, ctx) -> None:
        for venue, symbol, events in self.subscriptions:
            ctx.subscribe(venue, symbol, events=events)
        for ms in self.actions:
            ctx.schedule(at(ms))

    def on_timer(self, ctx, t_ns: int) -> None:
        self.timers.append(t_ns)
        for ms, action in self.actions.items():
            if at(ms) == t_ns:
                action(ctx)

    def on_order(self, ctx, update) -> None:
        self.updates.append(update)

    def on_fill(self, ctx, fill) -> None:
        self.fills.append(fill)

    def on_book(self, ctx, book) -> None:
        self.books.append((ctx.now_ns, book.best_bid, book.best_ask))

    def on_trade(self, ctx, trade) -> None:
        self.trades.append(trade)

    def statuses(self, order_id: int) -> list[tuple[str, str | None]]:
        return [(str(u.status), u.reason and str(u.reason)) for u in self.updates
                if u.order_id == order_id]  # fmt: skip

    def fills_of(self, order_id: int) -> list[tuple[str, str, str]]:
        return [(str(f.price), str(f.qty), f.liquidity) for f in self.fills
                if f.order_id == order_id]  # fmt: skip


@pytest.fixture
def config():
    return load_config()


def run(frames: Frames, strategy: Strategy, config=None, **kwargs):
    """The backtest over ``frames`` up to 1 s (events after the last record still run)."""
    kwargs.setdefault("end_ns", at(1000))
    return run_backtest(strategy, frames.pairs(), config or load_config(), **kwargs)


def book(frames: Frames | None = None, *, ms: float = 0, last_id: int = 100) -> Frames:
    """BTCUSDT synced at ``ms`` with three levels a side around 42000."""
    frames = frames or Frames()
    return frames.snapshot(
        ms,
        last_id,
        bids=[("42000.00", "1.5"), ("41999.50", "2"), ("41990.00", "5")],
        asks=[("42001.00", "1.2"), ("42002.00", "3"), ("42010.00", "5")],
    )


D = Decimal
__all__ = ["D", "Latency", "Scripted", "at", "book", "run"]
