"""A strategy for the sweep tests, loaded as ``FILE.py:Class`` in every worker."""

from __future__ import annotations

import xle


class Alternate(xle.Strategy):
    """Every ``every``-th change of the Binance book, take ``size`` BTC, buying and
    selling in turn: fills on every order, and a result that depends on both parameters."""

    def __init__(self, every: int = 50, size: str = "0.01") -> None:
        self.balances = {"binance": {"USDT": 1_000_000, "BTC": 10}}
        self.every = every
        self.size = size
        self.seen = 0
        self.buy = True

    def on_start(self, ctx: xle.Context) -> None:
        ctx.subscribe("binance", "BTCUSDT", events=("book",))

    def on_book(self, ctx: xle.Context, book) -> None:
        self.seen += 1
        if self.seen % self.every:
            return
        if self.buy:
            ctx.buy("binance", "BTCUSDT", self.size)
        else:
            ctx.sell("binance", "BTCUSDT", self.size)
        self.buy = not self.buy
