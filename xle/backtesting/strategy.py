"""The strategy API: subclass ``Strategy``, override the callbacks you need.

Callbacks are pushed in one total order of events (records in replay order, then the
backtest's own events by time and a stable counter), each with ``ctx.now_ns`` set to the
event's time on the strategy's clock, the recorder's receive time. A strategy only pays
for what it subscribed to: books, trades and quotes of venues it did not subscribe to
are never turned into callbacks.

Example::

    class Spread(xle.Strategy):
        def on_start(self, ctx):
            ctx.subscribe("binance", "BTCUSDT", events=("book",))

        def on_book(self, ctx, book):
            if book.best_ask and book.best_ask < 60_000:
                ctx.buy("binance", "BTCUSDT", "0.01", limit=book.best_ask)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from xle.backtesting.types import BookView, Fill, OrderUpdate
    from xle.records import Quote, Trade

__all__ = ["DEFAULT_EVENTS", "EVENTS", "Context", "Strategy"]

#: What a subscription can ask for: ``"book"`` (``on_book`` after every record that
#: changed the book), ``"top"`` (``on_book`` once with the book as it stands when
#: subscribed, then only when its best bid or best ask price changed, or a side emptied:
#: a strategy that trades at the touch pays for nothing else, and the replay's compiled
#: lane takes the other changes, tickers and trades without Python), ``"trades"`` and
#: ``"quotes"``.
EVENTS: tuple[str, ...] = ("book", "trades", "quotes", "top")

#: A subscription's events when it names none.
DEFAULT_EVENTS: tuple[str, ...] = ("book", "trades", "quotes")

Number = Decimal | int | float | str


class Context(Protocol):
    """What a strategy can see and do; the backtest hands one to every callback."""

    now_ns: int
    params: Mapping[str, Any]

    def subscribe(
        self, venue: str, symbol: str, events: Iterable[str] = DEFAULT_EVENTS
    ) -> None: ...

    def buy(
        self,
        venue: str,
        symbol: str,
        qty: Number,
        *,
        limit: Number | None = None,
        tif: str = "IOC",
    ) -> int: ...

    def sell(
        self,
        venue: str,
        symbol: str,
        qty: Number,
        *,
        limit: Number | None = None,
        tif: str = "IOC",
    ) -> int: ...

    def cancel(self, order_id: int) -> None: ...

    def position(self, venue: str, symbol: str) -> Decimal: ...

    def balance(self, venue: str, asset: str) -> Decimal: ...

    def schedule(self, t_ns: int) -> None: ...

    def book(self, venue: str, symbol: str) -> BookView | None: ...


class Strategy:
    """Base class: every callback does nothing until overridden.

    ``balances`` are the starting balances per venue and asset unless the backtest is
    given its own, e.g. ``{"binance": {"USDT": "100000"}, "coinbase": {"BTC": "1"}}``.
    Constructor keyword arguments are the strategy's parameters (``--param k=v``).
    """

    balances: Mapping[str, Mapping[str, Number]] = {}

    def on_start(self, ctx: Context) -> None:
        """Before the first event of the range: subscribe here."""

    def on_book(self, ctx: Context, book: BookView) -> None:
        """After each record that changed a subscribed book (including resets); with
        ``"top"`` only, once as the book stands when subscribed (if it exists), then after
        each record that changed its best bid or ask price."""

    def on_quote(self, ctx: Context, quote: Quote) -> None:
        """An engine quote of a book subscribed with ``"quotes"``."""

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        """A trade printed on a book subscribed with ``"trades"``."""

    def on_order(self, ctx: Context, update: OrderUpdate) -> None:
        """Accepted, rejected (with a reason), cancelled, expired, filled."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """One fill of one of the strategy's orders."""

    def on_timer(self, ctx: Context, t_ns: int) -> None:
        """A time asked for with ``ctx.schedule``."""

    def on_stop(self, ctx: Context) -> None:
        """After the last event of the range."""
