"""A one-venue market maker with inventory skew.

It keeps one bid and one ask resting (POST_ONLY, so it never takes) around the mid,
``spread_bps`` apart, and shifts both against its inventory: long, it lowers its prices
to sell more readily and buy less; short, it raises them. At ``max_inventory`` it stops
quoting the side that would add to the position. On every change of the book it
recomputes its prices and, when one moved by a tick or more, cancels that order and
quotes again.

    xle backtest examples/market_maker.py:MarketMaker --from … --to … \\
        --param venue=binance:BTCUSDT --param spread_bps=2 --param size=0.01
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from xle import OrderStatus, Strategy, load_config

_DONE = {
    OrderStatus.REJECTED,
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.EXPIRED,
}


class MarketMaker(Strategy):
    """Parameters: ``venue`` (``exchange:SYMBOL``), ``spread_bps`` between the two quotes
    with no inventory, ``size`` per quote (base asset), ``max_inventory`` (base asset,
    absolute), ``skew`` the shift at full inventory in units of the half spread (1: the
    quote on the reducing side sits at the mid)."""

    def __init__(
        self,
        venue: str = "binance:BTCUSDT",
        spread_bps: float = 2.0,
        size: str | float = "0.01",
        max_inventory: str | float = "0.05",
        skew: float = 1.0,
    ) -> None:
        exchange, sep, symbol = venue.partition(":")
        if not sep:
            raise ValueError(f"venue is exchange:SYMBOL, not {venue!r}")
        self.exchange, self.symbol = exchange, symbol
        self.half = Decimal(repr(float(spread_bps))) / 2 / Decimal(10_000)
        self.size = Decimal(str(size))
        self.max_inventory = Decimal(str(max_inventory))
        self.skew = Decimal(repr(float(skew)))
        base, quote = load_config().assets_of(exchange, symbol) or ("", "")
        # Base enough to sell down to -max_inventory from a flat start; quote to spare.
        self.balances = {exchange: {base: str(self.max_inventory), quote: "1000000"}}
        self.quotes: dict[str, tuple[int, Decimal] | None] = {"buy": None, "sell": None}
        self.requotes = 0

    def on_start(self, ctx) -> None:
        ctx.subscribe(self.exchange, self.symbol, events=("book",))

    def on_book(self, ctx, book) -> None:
        if not book.synced:
            return
        levels_bid, levels_ask = book.levels("bid", 1), book.levels("ask", 1)
        if not levels_bid or not levels_ask:
            return
        best_bid, best_ask = Decimal(levels_bid[0][0]), Decimal(levels_ask[0][0])
        tick = Decimal(1).scaleb(
            min(best_bid.as_tuple().exponent, best_ask.as_tuple().exponent)  # type: ignore[arg-type]
        )
        mid = (best_bid + best_ask) / 2
        inventory = ctx.position(self.exchange, self.symbol)
        lean = max(Decimal(-1), min(Decimal(1), inventory / self.max_inventory)) * self.skew
        bid = (mid * (1 - self.half * (1 + lean))).quantize(tick, rounding=ROUND_FLOOR)
        ask = (mid * (1 + self.half * (1 - lean))).quantize(tick, rounding=ROUND_CEILING)
        bid, ask = min(bid, best_ask - tick), max(ask, best_bid + tick)  # never cross
        self._quote(ctx, "buy", bid, inventory < self.max_inventory)
        self._quote(ctx, "sell", ask, inventory > -self.max_inventory)

    def _quote(self, ctx, side: str, price: Decimal, wanted: bool) -> None:
        current = self.quotes[side]
        if current is not None:
            if wanted and current[1] == price:
                return
            ctx.cancel(current[0])
            self.quotes[side] = None
            self.requotes += 1
        if wanted:
            send = ctx.buy if side == "buy" else ctx.sell
            order_id = send(self.exchange, self.symbol, self.size, limit=price, tif="POST_ONLY")
            self.quotes[side] = (order_id, price)

    def on_order(self, ctx, update) -> None:
        if update.status in _DONE:
            current = self.quotes[update.side]
            if current is not None and current[0] == update.order_id:
                self.quotes[update.side] = None
