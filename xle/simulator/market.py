"""The seeded market model: every venue's true book, stepped in model time.

``MarketModel`` is pure: no sockets, no clocks. ``advance(t_ns)`` returns every message
worth of change (a ``Step``) due up to model time ``t_ns``, in time order, with prices and
sizes already printed the way each venue prints them. The servers only decide *when* to
call it and whom to send the result to, so one step serves every subscriber, and two
models with the same seed produce the same steps whatever the wall clock does.

Step ``k`` of a book happens at model time ``k / rate`` (Binance books at
``binance_rate``, Coinbase at ``coinbase_rate``). Binance steps consume a contiguous
range of update ids ``[first_id, last_id]`` (``U``/``u``); a Coinbase step is one
``l2_data`` update and its id is simply the step number (the venue itself numbers
messages per connection, not per book).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from xle.simulator.book import BookModel, Instrument, Printer, instrument_for
from xle.simulator.config import SimConfig
from xle.simulator.prices import GRID_NS, VENUE_PROFILES, FairPrices

__all__ = ["BookSnapshot", "MarketModel", "Step", "TradePrint"]


@dataclass(slots=True)
class TradePrint:
    """One trade as the venue prints it (read-only; not frozen for the reason of Step)."""

    trade_id: int
    side: str  # taker side: "buy" lifted the ask, "sell" hit the bid
    price: str
    qty: str


@dataclass(slots=True)
class Step:
    """One message worth of change to one book (venue-native strings).

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which
    made building the step a tenth of its cost at high rates. Treat it as read-only.
    """

    venue: str
    symbol: str
    time_ns: int  # model time (ns since the model started)
    first_id: int  # Binance U; Coinbase: the step number
    last_id: int  # Binance u; Coinbase: the step number
    bids: list[tuple[str, str]]  # (price, absolute qty), best first; qty "0" removes
    asks: list[tuple[str, str]]
    trades: list[TradePrint]
    # New (bid, bid qty, ask, ask qty) if it changed; always None for a venue missing from
    # ``MarketModel.top_venues`` (nobody listens to its bookTicker: not worth the work).
    top: tuple[str, str, str, str] | None


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    update_id: int  # Binance lastUpdateId / Coinbase step number
    bids: list[tuple[str, str]]  # best first
    asks: list[tuple[str, str]]


class _Clock:
    """One book plus where it stands in model time and update ids."""

    __slots__ = (
        "book",
        "fair_at",
        "fair_grid",
        "last_id",
        "market",
        "period_ns",
        "printer",
        "step_no",
        "symbol",
        "trade_id",
        "trade_rate",
        "venue",
    )

    def __init__(self, book: BookModel, rate: float, last_id: int, trade_rate: float) -> None:
        self.book = book
        self.printer = Printer(book.instrument)
        self.period_ns = 1e9 / rate
        self.step_no = 0
        self.last_id = last_id
        self.trade_rate = trade_rate / rate  # expected trades per step
        self.trade_id = 0
        self.venue = book.instrument.venue
        self.symbol = book.instrument.symbol
        self.market = book.instrument.market
        # The fair price is constant within a grid step (prices.GRID_NS): remember it.
        self.fair_grid = -1
        self.fair_at = 0.0

    def next_time(self) -> int:
        return int((self.step_no + 1) * self.period_ns)


class MarketModel:
    """All venues' true books for the configured markets, deterministic given the seed."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.fair = FairPrices(config.seed, dict(config.markets), config.venues)
        self._clocks: dict[tuple[str, str], _Clock] = {}
        #: Venues whose steps carry ``top`` (the server keeps it to bookTicker listeners).
        self.top_venues: set[str] = set(config.venues)
        self.instruments: dict[tuple[str, str], Instrument] = {}
        for venue in config.venues:
            rate = config.coinbase_rate if venue == "coinbase" else config.binance_rate
            changes = config.coinbase_changes if venue == "coinbase" else config.changes
            for market, base in config.markets.items():
                inst = instrument_for(venue, market, base)
                rng = random.Random(f"{config.seed}:book:{venue}:{inst.symbol}")
                book = BookModel(
                    inst,
                    rng,
                    config.levels,
                    self.fair.fair(venue, market, 0),
                    changes,
                    VENUE_PROFILES[venue].half_spread_ticks,
                )
                first = 0 if venue == "coinbase" else rng.randrange(10**9, 5 * 10**10)
                clock = _Clock(book, rate, first, config.trade_rate)
                clock.trade_id = rng.randrange(10**8, 4 * 10**9)
                self._clocks[(venue, inst.symbol)] = clock
                self.instruments[(venue, inst.symbol)] = inst

    # ------------------------------------------------------------------ queries

    def symbols(self, venue: str) -> list[str]:
        return [s for (v, s) in self._clocks if v == venue]

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self.instruments[(venue, symbol)]

    def has(self, venue: str, symbol: str) -> bool:
        return (venue, symbol) in self._clocks

    def snapshot(self, venue: str, symbol: str, limit: int | None = None) -> BookSnapshot:
        """The current true book (at most ``limit`` levels a side), best first."""
        clock = self._clocks[(venue, symbol)]
        price, qty = clock.printer.price, clock.printer.qty
        return BookSnapshot(
            clock.last_id,
            [(price(t), qty(q)) for t, q in clock.book.side_levels("bid", limit)],
            [(price(t), qty(q)) for t, q in clock.book.side_levels("ask", limit)],
        )

    def last_id(self, venue: str, symbol: str) -> int:
        return self._clocks[(venue, symbol)].last_id

    # ------------------------------------------------------------------ stepping

    def advance(self, t_ns: int, limit: int | None = None) -> list[Step]:
        """Steps due at or before model time ``t_ns``, ordered by time; at most ``limit``.

        Books are stepped in time order (a heap), never one book far ahead of the others:
        the fair prices they read are only kept for a window around "now". With a
        ``limit``, the next call carries on where this one stopped.
        """
        heap = [
            (clock.next_time(), order, clock)
            for order, clock in enumerate(self._clocks.values())
            if clock.next_time() <= t_ns
        ]
        heapq.heapify(heap)
        steps: list[Step] = []
        if limit is None:
            limit = -1
        step, replace, pop = self._step, heapq.heapreplace, heapq.heappop
        while heap and len(steps) != limit:
            _, order, clock = heap[0]
            steps.append(step(clock))
            due = int((clock.step_no + 1) * clock.period_ns)  # clock.next_time()
            if due <= t_ns:
                replace(heap, (due, order, clock))
            else:
                pop(heap)
        return steps

    def behind_ns(self, t_ns: int) -> int:
        """How far the slowest book lags model time ``t_ns`` (0 when none is due)."""
        return max(0, t_ns - min(c.next_time() for c in self._clocks.values()))

    def _step(self, clock: _Clock) -> Step:
        book = clock.book
        venue = clock.venue
        clock.step_no += 1
        time_ns = int(clock.step_no * clock.period_ns)
        grid = time_ns // GRID_NS
        if grid != clock.fair_grid:
            clock.fair_grid = grid
            clock.fair_at = self.fair.fair(venue, clock.market, time_ns)
        expected = clock.trade_rate
        n_trades = int(expected) + (book.rng.random() < expected - int(expected))
        want_top = venue in self.top_venues
        before = book.best() if want_top else None
        raw = book.step(clock.fair_at, n_trades)
        printer = clock.printer
        # Level strings straight from the printer's caches, which hold almost all of them;
        # a miss (a new price, a size left by a trade) calls the printer.
        ps, qs, price, qty = printer.prices, printer.qtys, printer.price, printer.qty
        cb, ca = raw.bids, raw.asks
        bids = (
            [
                (ps[t] if t in ps else price(t), qs[u] if (u := cb[t]) in qs else qty(u))
                for t in sorted(cb, reverse=True)
            ]
            if cb
            else []
        )
        asks = (
            [
                (ps[t] if t in ps else price(t), qs[u] if (u := ca[t]) in qs else qty(u))
                for t in sorted(ca)
            ]
            if ca
            else []
        )
        trades = []
        if raw.trades:
            for side, tick, units in raw.trades:
                clock.trade_id += 1
                trades.append(TradePrint(clock.trade_id, side, price(tick), qty(units)))
        first_id = clock.last_id + 1
        clock.last_id += 1 if venue == "coinbase" else raw.n_ids
        top = None
        after = book.best() if want_top else None
        if after is not None and after != before:
            top = (price(after[0]), qty(after[1]), price(after[2]), qty(after[3]))
        return Step(venue, clock.symbol, time_ns, first_id, clock.last_id, bids, asks, trades, top)
