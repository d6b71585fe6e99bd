"""What a backtest says to a strategy: order updates, fills, and read-only book views.

Quantities, prices and fees are ``Decimal``: fills are computed with exact decimal
arithmetic from the exchange's own strings, so a strategy's accounting never drifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from xle._native.book import Book, format_decimal

__all__ = [
    "TIFS",
    "BookView",
    "Fill",
    "OrderStatus",
    "OrderUpdate",
    "RejectReason",
]

#: Time in force: IOC takes what it can at arrival and expires the rest; GTC takes what
#: crosses and rests the rest; POST_ONLY rests or is rejected if it would take.
TIFS: tuple[str, ...] = ("IOC", "GTC", "POST_ONLY")


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"  # reached the venue; rests (GTC/POST_ONLY) or is being filled
    REJECTED = "rejected"  # see ``reason``
    FILLED = "filled"  # nothing left
    CANCELLED = "cancelled"  # by ``ctx.cancel``
    EXPIRED = "expired"  # IOC remainder, or a taker walk stopped by the balance
    CANCEL_REJECTED = "cancel_rejected"  # the order was no longer open at the venue


class RejectReason(StrEnum):
    BOOK_UNSYNCED = "book_unsynced"  # the venue's book was unsynced (gap, disconnect, ...)
    INSUFFICIENT_BALANCE = "insufficient_balance"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    NO_LIQUIDITY = "no_liquidity"  # nothing on the other side within the limit
    UNKNOWN_ORDER = "unknown_order"  # cancel of an order that is not open


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A change of an order's state, as the strategy hears it (``t_ns``, its clock)."""

    order_id: int
    t_ns: int  # when the strategy receives it
    venue_ns: int  # when it happened at the venue, on the recorder's clock
    exchange: str
    symbol: str
    side: str  # buy | sell
    status: str  # OrderStatus
    reason: str | None  # RejectReason for rejections, else None
    filled: Decimal  # cumulative
    remaining: Decimal


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: int
    order_id: int
    t_ns: int  # when the strategy receives it
    venue_ns: int  # when it matched, on the recorder's clock
    exchange: str
    symbol: str
    side: str  # buy | sell (the strategy's side)
    price: Decimal
    qty: Decimal
    fee: Decimal  # in ``fee_asset``
    fee_asset: str
    liquidity: str  # maker | taker


class BookView:
    """A read-only view of one venue's book as the recorder saw it (not a copy).

    Prices and sizes are floats for speed; ``levels`` gives the exchange's exact strings.
    """

    __slots__ = ("_book", "_synced", "exchange", "symbol")

    def __init__(self, exchange: str, symbol: str, book: Book, synced: bool) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self._book = book
        self._synced = synced

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def best_bid(self) -> float | None:
        return self._book.best_bid()

    @property
    def best_ask(self) -> float | None:
        return self._book.best_ask()

    @property
    def best_bid_size(self) -> float | None:
        return self._book.best_bid_size()

    @property
    def best_ask_size(self) -> float | None:
        return self._book.best_ask_size()

    @property
    def mid(self) -> float | None:
        bid, ask = self._book.top()
        return None if bid is None or ask is None else (bid + ask) / 2.0

    def bids(self, depth: int = 10) -> list[tuple[float, float]]:
        """Best first."""
        return self._book.top_bids(depth)

    def asks(self, depth: int = 10) -> list[tuple[float, float]]:
        return self._book.top_asks(depth)

    def levels(self, side: str, depth: int = 10) -> list[tuple[str, str]]:
        """``side`` "bid" or "ask": (price, qty) as the exchange's decimal strings."""
        rows = self.bids(depth) if side == "bid" else self.asks(depth)
        return [(format_decimal(p), format_decimal(q)) for p, q in rows]


def exact(value: float) -> Decimal:
    """The exchange's decimal string a book float came from, as a Decimal."""
    return Decimal(format_decimal(value))
