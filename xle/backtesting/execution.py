"""The execution simulator: orders meet the venues' books as the recorder saw them.

Pure and deterministic: it is told the time and handed the engine's books and each
record's book events; it reads no clock. The rules (also in docs/backtest.md):

* **Taker** (IOC, and the crossing part of a GTC) walks the opposite side level by level
  with exact ``Decimal`` arithmetic on the exchange's strings, up to the limit price.
* **Self-impact**: what a fill took from a level stays taken until the venue next updates
  that level (or sends a snapshot, or the book resets), so a second order sees only the
  remainder.
* **Maker** (GTC rest, POST_ONLY): the queue ahead is the displayed size at the order's
  price when it arrives; only trades printed at that price reduce it, and once it is
  used up further volume there fills the order. A trade through the price (a sell below
  a resting bid, a buy above a resting ask) consumes the whole queue. When the opposite
  best crosses the price, the order fills at its price. POST_ONLY that would take is
  rejected.
* **Gap-aware**: an order reaching an unsynced book is rejected ``book_unsynced``; resting
  orders do not fill while their book is unsynced.
* **Fees** per venue (maker, taker), charged in the quote asset. **Balances** per venue
  and asset, no transfers; resting orders lock what they may spend; an order beyond the
  available balance is rejected unless shorting is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext

from xle._native.book import Book
from xle.backtesting.types import (
    Fill,
    OrderStatus,
    OrderUpdate,
    RejectReason,
    exact,
)
from xle.records import BookReset, BookUpdate, Trade

__all__ = ["ExecutionSimulator", "Ledger", "Order"]

ZERO = Decimal(0)
#: Decimal precision of every computation: prices x sizes x fee rates of real markets
#: need about 30 significant digits; 60 leaves no room for rounding.
PRECISION = 60

Notice = OrderUpdate | Fill


@dataclass(slots=True)
class Order:
    order_id: int
    exchange: str
    symbol: str
    side: str  # buy | sell
    qty: Decimal
    limit: Decimal | None
    tif: str
    sent_ns: int
    response_ns: int  # this order's response latency
    base: str
    quote: str
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    fees: Decimal = ZERO
    status: str = "sent"
    reason: str | None = None
    queue_ahead: Decimal = ZERO
    locked: Decimal = ZERO  # still locked in the ledger for this order
    done_ns: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    @property
    def lock_asset(self) -> str:
        return self.quote if self.side == "buy" else self.base


@dataclass
class Ledger:
    """Balances per (venue, asset); ``locked`` is what resting orders may still spend."""

    balances: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    locked: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def balance(self, exchange: str, asset: str) -> Decimal:
        return self.balances.get((exchange, asset), ZERO)

    def available(self, exchange: str, asset: str) -> Decimal:
        key = (exchange, asset)
        return self.balances.get(key, ZERO) - self.locked.get(key, ZERO)

    def add(self, exchange: str, asset: str, amount: Decimal) -> None:
        key = (exchange, asset)
        self.balances[key] = self.balances.get(key, ZERO) + amount

    def lock(self, exchange: str, asset: str, amount: Decimal) -> None:
        key = (exchange, asset)
        self.locked[key] = self.locked.get(key, ZERO) + amount


def _lot(*values: Decimal) -> Decimal:
    """The finest step among the given quantities: fills never go below the lot the
    exchange and the order use."""
    exponent = min(v.as_tuple().exponent for v in values)  # type: ignore[type-var]
    return Decimal(1).scaleb(int(exponent))


class ExecutionSimulator:
    def __init__(
        self,
        book_of: Callable[[str, str], tuple[Book | None, bool]],
        fees: Callable[[str], tuple[Decimal, Decimal]],
        ledger: Ledger,
        *,
        allow_short: bool = False,
    ) -> None:
        self._book_of = book_of  # (exchange, symbol) -> (book, synced)
        self._fees = fees  # exchange -> (maker, taker) as fractions of notional
        self.ledger = ledger
        self.allow_short = allow_short
        self._taken: dict[tuple[str, str], tuple[dict[float, Decimal], dict[float, Decimal]]] = {}
        self._resting: dict[tuple[str, str], list[Order]] = {}
        self._fill_ids = 0

    # ------------------------------------------------------------------ requests

    def arrive(self, order: Order, venue_ns: int) -> list[Notice]:
        """The order reaches the venue at ``venue_ns`` (recorder clock)."""
        out: list[Notice] = []
        book, synced = self._book_of(order.exchange, order.symbol)
        if book is None or not synced:
            return self._finish(order, venue_ns, OrderStatus.REJECTED, RejectReason.BOOK_UNSYNCED)
        with localcontext() as ctx:
            ctx.prec = PRECISION
            if order.tif == "POST_ONLY" and self._would_take(order, book):
                return self._finish(
                    order, venue_ns, OrderStatus.REJECTED, RejectReason.POST_ONLY_WOULD_TAKE
                )
            if order.tif != "POST_ONLY" and not self._can_spend(order):
                return self._finish(
                    order, venue_ns, OrderStatus.REJECTED, RejectReason.INSUFFICIENT_BALANCE
                )
            out.append(self._update(order, venue_ns, OrderStatus.ACCEPTED))
            stop_reason = None
            if order.tif != "POST_ONLY":
                stop_reason = self._take(order, book, venue_ns, out)
            if order.remaining == 0:
                out.extend(self._finish(order, venue_ns, OrderStatus.FILLED))
            elif order.tif == "IOC" or stop_reason == RejectReason.INSUFFICIENT_BALANCE:
                reason = stop_reason or RejectReason.NO_LIQUIDITY
                out.extend(self._finish(order, venue_ns, OrderStatus.EXPIRED, reason))
            else:
                self._rest(order, book, venue_ns, out)
        return out

    def cancel(self, order: Order, venue_ns: int, response_ns: int) -> list[Notice]:
        """A cancel request for ``order`` reaches the venue at ``venue_ns``."""
        resting = self._resting.get((order.exchange, order.symbol), [])
        if order not in resting:  # the order itself keeps its state: only the answer is new
            rejected = OrderStatus.CANCEL_REJECTED
            return [
                self._update(order, venue_ns, rejected, RejectReason.UNKNOWN_ORDER, response_ns)
            ]
        resting.remove(order)
        self._unlock(order, order.locked)
        return self._finish(order, venue_ns, OrderStatus.CANCELLED, response_ns=response_ns)

    # ------------------------------------------------------------------ the market moves

    def on_events(self, events: list[object], venue_ns: int) -> list[Notice]:
        """One record's book events: restore levels the venue updated, fill resting
        orders on trades at their price and on a crossing opposite best."""
        out: list[Notice] = []
        touched: set[tuple[str, str]] = set()
        with localcontext() as ctx:
            ctx.prec = PRECISION
            for event in events:
                kind = type(event)
                if kind is BookUpdate:
                    key = (event.exchange, event.symbol)
                    touched.add(key)
                    taken = self._taken.get(key)
                    if taken is None:
                        continue
                    if event.is_snapshot:
                        taken[0].clear()
                        taken[1].clear()
                        continue
                    for price, _ in event.bids:
                        taken[0].pop(price, None)
                    for price, _ in event.asks:
                        taken[1].pop(price, None)
                elif kind is BookReset:
                    taken = self._taken.get((event.exchange, event.symbol))
                    if taken is not None:
                        taken[0].clear()
                        taken[1].clear()
                elif kind is Trade:
                    self._on_trade(event, venue_ns, out)
            for key in touched:
                if self._resting.get(key):
                    self._on_book(key, venue_ns, out)
        return out

    def _on_trade(self, trade: Trade, venue_ns: int, out: list[Notice]) -> None:
        key = (trade.exchange, trade.symbol)
        resting = self._resting.get(key)
        if not resting:
            return
        if not self._book_of(*key)[1]:
            return
        price = trade.price
        volume = exact(trade.qty)
        for order in list(resting):
            limit = float(order.limit)  # type: ignore[arg-type]
            if order.side == "buy":
                hits = trade.side == "sell" and price <= limit
                through = price < limit
            else:
                hits = trade.side == "buy" and price >= limit
                through = price > limit
            if not hits:
                continue
            if through:
                order.queue_ahead = ZERO
            used = min(order.queue_ahead, volume)
            order.queue_ahead -= used
            fill = min(volume - used, order.remaining)
            if fill > 0:
                self._maker_fill(order, fill, venue_ns, out)

    def _on_book(self, key: tuple[str, str], venue_ns: int, out: list[Notice]) -> None:
        book, synced = self._book_of(*key)
        if book is None or not synced:
            return
        bid, ask = book.top()
        for order in list(self._resting[key]):
            limit = float(order.limit)  # type: ignore[arg-type]
            crossed = (
                (ask is not None and ask <= limit)
                if order.side == "buy"
                else (bid is not None and bid >= limit)
            )
            if crossed:
                self._maker_fill(order, order.remaining, venue_ns, out)

    # ------------------------------------------------------------------ internals

    def _taken_of(self, order: Order) -> tuple[dict[float, Decimal], dict[float, Decimal]]:
        key = (order.exchange, order.symbol)
        taken = self._taken.get(key)
        if taken is None:
            taken = self._taken[key] = ({}, {})
        return taken

    def _opposite(self, order: Order, book: Book):
        """Levels the order would take, best first, as (float price, available Decimal)."""
        buy = order.side == "buy"
        taken = self._taken_of(order)[1 if buy else 0]
        depth = 64
        seen = 0
        while True:
            levels = book.top_asks(depth) if buy else book.top_bids(depth)
            for price, qty in levels[seen:]:
                yield price, exact(qty) - taken.get(price, ZERO)
            if len(levels) < depth:
                return
            seen = len(levels)
            depth *= 4

    def _would_take(self, order: Order, book: Book) -> bool:
        limit = order.limit
        for price, available in self._opposite(order, book):
            if available <= 0:
                continue
            return exact(price) <= limit if order.side == "buy" else exact(price) >= limit  # type: ignore[operator]
        return False

    def _can_spend(self, order: Order) -> bool:
        if order.side == "sell":
            return self.allow_short or self.ledger.available(order.exchange, order.base) > 0
        return self.ledger.available(order.exchange, order.quote) > 0

    def _take(self, order: Order, book: Book, venue_ns: int, out: list[Notice]) -> str | None:
        """Walk the opposite side; None when the walk ended by size or limit."""
        buy = order.side == "buy"
        _, taker_fee = self._fees(order.exchange)
        taken = self._taken_of(order)[1 if buy else 0]
        for price, available in self._opposite(order, book):
            if order.remaining <= 0:
                return None
            exact_price = exact(price)
            if order.limit is not None and (
                exact_price > order.limit if buy else exact_price < order.limit
            ):
                return None
            if available <= 0:
                continue
            qty = min(available, order.remaining)
            affordable = self._affordable(order, exact_price, taker_fee, qty)
            if affordable <= 0:
                return RejectReason.INSUFFICIENT_BALANCE
            self._fill(order, exact_price, affordable, taker_fee, "taker", venue_ns, out)
            taken[price] = taken.get(price, ZERO) + affordable
            if affordable < qty:
                return RejectReason.INSUFFICIENT_BALANCE
        return None

    def _affordable(self, order: Order, price: Decimal, fee: Decimal, qty: Decimal) -> Decimal:
        """``qty``, cut to what the available balance pays for (in the lot's steps)."""
        ledger = self.ledger
        if order.side == "buy":
            budget = ledger.available(order.exchange, order.quote)
            unit = price * (1 + fee)
            if unit * qty <= budget:
                return qty
            cap = budget / unit
        else:
            if self.allow_short:
                return qty
            cap = ledger.available(order.exchange, order.base)
            if qty <= cap:
                return qty
        step = _lot(qty, order.qty)
        return max(ZERO, cap.quantize(step, rounding=ROUND_DOWN))

    def _rest(self, order: Order, book: Book, venue_ns: int, out: list[Notice]) -> None:
        maker_fee, _ = self._fees(order.exchange)
        remaining = order.remaining
        if order.side == "buy":
            need = remaining * order.limit * (1 + maker_fee)  # type: ignore[operator]
        else:
            need = ZERO if self.allow_short else remaining
        if need > self.ledger.available(order.exchange, order.lock_asset):
            out.extend(
                self._finish(
                    order, venue_ns, OrderStatus.EXPIRED, RejectReason.INSUFFICIENT_BALANCE
                )
            )
            return
        self.ledger.lock(order.exchange, order.lock_asset, need)
        order.locked = need
        order.queue_ahead = _displayed(book, order.side, float(order.limit))  # type: ignore[arg-type]
        order.status = OrderStatus.ACCEPTED
        self._resting.setdefault((order.exchange, order.symbol), []).append(order)

    def _maker_fill(self, order: Order, qty: Decimal, venue_ns: int, out: list[Notice]) -> None:
        maker_fee, _ = self._fees(order.exchange)
        price = order.limit
        assert price is not None
        if order.side == "buy":
            release = qty * price * (1 + maker_fee)
        else:
            release = ZERO if self.allow_short else qty
        self._unlock(order, min(release, order.locked))
        self._fill(order, price, qty, maker_fee, "maker", venue_ns, out)
        if order.remaining == 0:
            self._resting[(order.exchange, order.symbol)].remove(order)
            self._unlock(order, order.locked)
            out.extend(self._finish(order, venue_ns, OrderStatus.FILLED))

    def _unlock(self, order: Order, amount: Decimal) -> None:
        if amount:
            self.ledger.lock(order.exchange, order.lock_asset, -amount)
            order.locked -= amount

    def _fill(
        self,
        order: Order,
        price: Decimal,
        qty: Decimal,
        fee_rate: Decimal,
        liquidity: str,
        venue_ns: int,
        out: list[Notice],
    ) -> None:
        notional = price * qty
        fee = notional * fee_rate
        ledger = self.ledger
        if order.side == "buy":
            ledger.add(order.exchange, order.base, qty)
            ledger.add(order.exchange, order.quote, -(notional + fee))
        else:
            ledger.add(order.exchange, order.base, -qty)
            ledger.add(order.exchange, order.quote, notional - fee)
        order.filled += qty
        order.notional += notional
        order.fees += fee
        self._fill_ids += 1
        out.append(
            Fill(
                self._fill_ids,
                order.order_id,
                venue_ns + order.response_ns,
                venue_ns,
                order.exchange,
                order.symbol,
                order.side,
                price,
                qty,
                fee,
                order.quote,
                liquidity,
            )
        )

    def _update(
        self,
        order: Order,
        venue_ns: int,
        status: str,
        reason: str | None = None,
        response_ns: int | None = None,
    ) -> OrderUpdate:
        delay = order.response_ns if response_ns is None else response_ns
        return OrderUpdate(
            order.order_id,
            venue_ns + delay,
            venue_ns,
            order.exchange,
            order.symbol,
            order.side,
            status,
            reason,
            order.filled,
            order.remaining,
        )

    def _finish(
        self,
        order: Order,
        venue_ns: int,
        status: str,
        reason: str | None = None,
        *,
        response_ns: int | None = None,
    ) -> list[Notice]:
        order.status = status
        order.reason = reason
        order.done_ns = venue_ns
        return [self._update(order, venue_ns, status, reason, response_ns)]

    def open_orders(self) -> list[Order]:
        return [o for orders in self._resting.values() for o in orders]


def _displayed(book: Book, side: str, price: float) -> Decimal:
    """Size shown at ``price`` on the order's own side (0 when there is no such level)."""
    qty = book.size_at(price, side == "buy")
    return exact(qty) if qty else ZERO
