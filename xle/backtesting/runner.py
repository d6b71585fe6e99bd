"""The backtest driver: replay records and the strategy's own events in one total order.

Records come in replay order ``(recv_ns, exchange, run, seq)``; the backtest's events
(orders reaching a venue, answers reaching the strategy, timers) are kept in a heap keyed
by ``(time, counter)``. An event at time ``T`` runs after every record with
``recv_ns <= T``: with zero latency an order meets exactly the book the strategy saw.

Clocks: the strategy lives on receive time. An order sent at ``t`` reaches the venue at
``t + entry`` and meets the book the recorder saw one feed latency later, at
``t + entry + feed``; the venue's answer reaches the strategy ``response`` after the venue
handled it, and never before the recorder saw the book it was matched against.
"""

from __future__ import annotations

import heapq
import random
import traceback
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any

from xle._native.book import Book
from xle.analytics.engine import Engine
from xle.backtesting.execution import ExecutionSimulator, Ledger, Order
from xle.backtesting.latency import Latency
from xle.backtesting.results import BacktestResult, Recorder
from xle.backtesting.strategy import DEFAULT_EVENTS, EVENTS, Number, Strategy
from xle.backtesting.types import TIFS, BookView, Fill
from xle.config import EngineConfig
from xle.errors import UsageError, XleError
from xle.records import BookReset, BookUpdate, Quote, RawRecord, Trade
from xle.store.batches import read_batches, rows_before
from xle.store.reader import LogRead

__all__ = ["StrategyError", "run_backtest"]

_CALLBACKS = frozenset(
    ("on_start", "on_book", "on_quote", "on_trade", "on_order", "on_fill", "on_timer", "on_stop")
)


class StrategyError(XleError):
    """The strategy raised inside a callback: which one, when, where, and what.

    Any exception escaping a callback becomes this (the original is its ``__cause__``),
    including an ``XleError`` the context raised for a bad order: the run failed because
    of the strategy's code, not because of the data or the command line.
    """

    def __init__(self, callback: str, t_ns: int, exc: BaseException) -> None:
        from xle.timeutil import format_ns

        frames = traceback.extract_tb(exc.__traceback__)
        where = f" ({frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})"
        super().__init__(
            f"strategy failed in {callback} at {format_ns(t_ns)}{where}: "
            f"{type(exc).__name__}: {exc}"
        )
        self.callback = callback
        self.t_ns = t_ns


def _failed_callback(exc: BaseException, strategy: Strategy) -> str | None:
    """The strategy callback ``exc`` escaped from, if it came from one."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name in _CALLBACKS and frame.f_locals.get("self") is strategy:
            return frame.f_code.co_name
        tb = tb.tb_next
    return None


_ARRIVE, _CANCEL, _NOTICE, _TIMER = range(4)


def _decimal(value: Number, what: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # the shortest string that round-trips: 0.1 -> "0.1"
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise UsageError(f"{what} must be a number, not {value!r}") from None
    if not result.is_finite():
        raise UsageError(f"{what} must be finite, not {value!r}")
    return result


class _Run:
    """One backtest: the strategy's context, the event heap and the simulator."""

    def __init__(
        self,
        strategy: Strategy,
        config: EngineConfig,
        *,
        start_ns: int | None,
        end_ns: int | None,
        latency: Mapping[str, Latency],
        fees: Mapping[str, tuple[float, float]] | None,
        balances: Mapping[str, Mapping[str, Number]],
        allow_short: bool,
        seed: int,
        equity_interval_ns: int,
        params: Mapping[str, Any],
    ) -> None:
        self.strategy = strategy
        self.config = config
        self.params = dict(params)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.now_ns = start_ns or 0
        self._latency = dict(latency)
        self._default_latency = self._latency.pop("*", Latency())
        self._rng = random.Random(seed)
        self._heap: list[tuple[int, int, int, Any]] = []
        self._counter = 0
        self._subs: dict[tuple[str, str], frozenset[str]] = {}
        self._quote_subs: set[tuple[str, str]] = set()
        #: Books whose every record the backtest must see: subscribed with "trades"
        self._trade_subs: set[tuple[str, str]] = set()
        #: Books subscribed with "book": the lane stops after each update of theirs
        self._change_subs: set[tuple[str, str]] = set()
        #: Books subscribed with "top": the (best bid, best ask) last shown to on_book.
        self._tops: dict[tuple[str, str], tuple[float | None, float | None] | None] = {}
        self._top_books: set[tuple[str, str]] = set()  # the keys of ``_tops``, for the lane
        self._unshown = False  # a "top" book was subscribed and not shown yet
        self._orders: dict[int, Order] = {}
        self._order_ids = 0
        self._fee_table = {
            ex: (Decimal(repr(maker)), Decimal(repr(taker)))
            for ex, (maker, taker) in (fees or {}).items()
        }
        self.engine = Engine(config)
        self.engine.observer = self._observe
        self.engine.set_quoting(False)  # until a strategy subscribes to quotes
        self._events: list[object] = []
        ledger = Ledger()
        for venue, assets in balances.items():
            for asset, amount in assets.items():
                ledger.add(venue, asset, _decimal(amount, f"balance {venue}:{asset}"))
        self.sim = ExecutionSimulator(self._book_of, self._fees, ledger, allow_short=allow_short)
        self.recorder = Recorder(config, ledger, equity_interval_ns)
        self._started = False

    # ------------------------------------------------------------------ Context

    def subscribe(self, venue: str, symbol: str, events: Iterable[str] = DEFAULT_EVENTS) -> None:
        wanted = frozenset(events)
        unknown = wanted - set(EVENTS)
        if unknown:
            raise UsageError(f"unknown events {sorted(unknown)} (known: {', '.join(EVENTS)})")
        key = (venue, symbol)
        self._subs[key] = self._subs.get(key, frozenset()) | wanted
        if "quotes" in wanted:
            self._quote_subs.add(key)
            self.engine.set_quoting(True)
        if "trades" in wanted:
            self._trade_subs.add(key)
        if "book" in wanted:
            self._change_subs.add(key)
        if "top" in wanted and key not in self._tops:
            self._tops[key] = None  # the top last shown: none yet
            self._top_books.add(key)
            self._unshown = True  # shown as it stands before the next record
        self.recorder.track(venue, symbol)

    def buy(self, venue: str, symbol: str, qty: Number, *, limit: Number | None = None,
            tif: str = "IOC") -> int:  # fmt: skip
        return self._send("buy", venue, symbol, qty, limit, tif)

    def sell(self, venue: str, symbol: str, qty: Number, *, limit: Number | None = None,
             tif: str = "IOC") -> int:  # fmt: skip
        return self._send("sell", venue, symbol, qty, limit, tif)

    def cancel(self, order_id: int) -> None:
        order = self._orders.get(order_id)
        if order is None:
            raise UsageError(f"cancel: no order {order_id} was sent")
        entry, response = self._draw(order.exchange)
        feed = self._latency_of(order.exchange).feed_ns
        self._push(self.now_ns + entry + feed, _CANCEL, (order, max(0, response - feed)))

    def position(self, venue: str, symbol: str) -> Decimal:
        return self.recorder.position(venue, symbol)

    def balance(self, venue: str, asset: str) -> Decimal:
        return self.sim.ledger.balance(venue, asset)

    def schedule(self, t_ns: int) -> None:
        if t_ns < self.now_ns:
            raise UsageError(f"schedule: {t_ns} is in the past (now {self.now_ns})")
        self._push(int(t_ns), _TIMER, int(t_ns))

    def book(self, venue: str, symbol: str) -> BookView | None:
        book = self.engine.book(venue, symbol)
        if book is None:
            return None
        return BookView(venue, symbol, book, self.engine.is_synced(venue, symbol))

    # ------------------------------------------------------------------ running

    def run(self, records: Iterator[tuple[RawRecord, bool]]) -> BacktestResult:
        self._feed_records(records)
        return self._finish()

    def _feed_records(self, records: Iterable[tuple[RawRecord, bool]]) -> None:
        engine = self.engine
        on_record = engine.on_record
        no_events: list[object] = []
        # The per-record path is the backtest's hot loop: the heap and the equity sample
        # (``_reach``) and the quote subscriptions are called on only when due.
        for rec, warm in records:
            if warm:
                on_record(rec)
                continue
            self._reach(rec.recv_ns)
            self._events = no_events
            outputs = on_record(rec)
            events = self._events
            if events:
                self._events = no_events
                self._on_events(rec, events)
            if self._quote_subs and outputs:
                for out in outputs:
                    if type(out) is Quote and (out.exchange, out.symbol) in self._quote_subs:
                        self.strategy.on_quote(self, out)

    def _finish(self) -> BacktestResult:
        recorder = self.recorder
        if not self._started:
            self._start(self.start_ns or 0)
        end = self.end_ns if self.end_ns is not None else self.now_ns
        self._drain(end + 1)
        self.now_ns = max(self.now_ns, end)
        self.strategy.on_stop(self)
        self._drain(end + 1)  # what on_stop sent, within the range
        recorder.sample(self.now_ns, self.engine, force=True)
        return recorder.result(self.sim, self._orders.values(), self.now_ns)

    def run_batches(self, read: LogRead) -> BacktestResult:
        """``run`` on record batches through the engine's compiled lane: it takes the
        depth frames of books nothing watches whole, and stops for everything the
        backtest must see (a heap event or an equity sample due, a record the engine's
        observer saw, an update of a "book" book, a top-of-book change of a "top" book, a
        quote when quotes are subscribed). The same callbacks in the same order as
        ``run``."""
        engine = self.engine
        lane = engine._columnar_lane()
        heap = self._heap
        no_events: list[object] = []
        start = self.start_ns
        symbols = read.symbol_filter  # the lane skips other symbols' rows: no copies
        # The Parquet read runs on a second thread, its decompression overlapping the lane
        # (why backtests and not replays: ``xle.store.batches``, module notes).
        for item in read_batches(read, symbols=False, read_ahead=True):
            if isinstance(item, list):  # a corrupt_file record, alone
                self._feed_records((rec, start is not None and rec.recv_ns < start) for rec in item)
                continue
            exchange, batch = item
            warm = rows_before(batch, start) if start is not None else 0
            if warm:
                engine.observed_books = set()  # warm-up rows' events are not the run's
                engine.on_batch(batch.slice(0, warm), exchange, symbols)
                self._events = no_events
                if warm == batch.num_rows:
                    continue
                batch = batch.slice(warm)
            prepared = lane.prepare(exchange, batch, symbols)
            recv = prepared.recv_ns
            rows = prepared.num_rows
            row = 0
            while row < rows:
                due = self._reach(recv(row))
                stop_ns = heap[0][0] + 1 if heap else None
                if due is not None and (stop_ns is None or due < stop_ns):
                    stop_ns = due
                engine.observed_books = self._watched()
                engine.top_books = self._top_books
                engine.changed_books = self._change_subs
                self._events = no_events
                outputs: list[object] = []
                row = lane.feed(prepared, outputs, row, bool(self._quote_subs), stop_ns, True)
                self.now_ns = recv(row - 1)
                events = self._events
                if events:
                    self._events = no_events
                    self._book_events(self.now_ns, events)
                elif lane.changed is not None:
                    self._show_books([lane.changed])
                elif lane.top_moved:
                    self._check_tops([])  # a "top" book's best prices moved on the lane
                if self._quote_subs and outputs:
                    for out in outputs:
                        if type(out) is Quote and (out.exchange, out.symbol) in self._quote_subs:
                            self.strategy.on_quote(self, out)
        return self._finish()

    def _reach(self, recv_ns: int) -> int | None:
        """Bring the run up to a record at ``recv_ns``: start it, deliver the heap's events
        due before it, take the equity sample if one is due, show newly subscribed "top"
        books; the next sample's time."""
        if not self._started:
            self._start(recv_ns if self.start_ns is None else self.start_ns)
        heap = self._heap
        if heap and heap[0][0] < recv_ns:
            self._drain(recv_ns)
        self.now_ns = recv_ns
        recorder = self.recorder
        due = recorder.next_sample_ns
        if due is None or recv_ns >= due:
            recorder.sample(recv_ns, self.engine)
            due = recorder.next_sample_ns
        if self._unshown:
            # A new "top" subscription sees its book as it stands now, whichever records
            # come next (the lane may take them all without a stop).
            self._unshown = False
            self._check_tops([])
        return due

    def _watched(self) -> set[tuple[str, str]]:
        """Books whose every record the backtest must see: subscribed with "trades", or
        holding the simulator's resting orders or liquidity taken by fills (trades fill
        resting orders). The lane takes the other books' records whole, stopping after
        the updates of "book" books (``_show_books``)."""
        sim = self.sim
        if not sim._taken and not sim._resting:
            return self._trade_subs
        watched = set(self._trade_subs)
        watched.update(key for key, taken in sim._taken.items() if taken[0] or taken[1])
        watched.update(key for key, resting in sim._resting.items() if resting)
        return watched

    def _start(self, t_ns: int) -> None:
        self._started = True
        self.now_ns = t_ns
        self.recorder.sample(t_ns, self.engine, force=True)
        self.strategy.on_start(self)

    def _observe(self, rec: RawRecord, events: list[object]) -> None:
        """The engine calls this once per record that had decoder events."""
        self._events = events

    def _on_events(self, rec: RawRecord, events: list[object]) -> None:
        self._book_events(rec.recv_ns, events)

    def _book_events(self, t_ns: int, events: list[object]) -> None:
        """One record's decoder events: the simulator's, then the strategy's callbacks."""
        for notice in self.sim.on_events(events, t_ns):
            self._push(notice.t_ns, _NOTICE, notice)
        if not self._subs:
            return
        changed: list[tuple[str, str]] = []
        for event in events:
            kind = type(event)
            if kind is BookUpdate or kind is BookReset:
                key = (event.exchange, event.symbol)
                wanted = self._subs.get(key)
                if wanted and "book" in wanted and key not in changed:
                    changed.append(key)
            elif kind is Trade:
                wanted = self._subs.get((event.exchange, event.symbol))
                if wanted and "trades" in wanted:
                    self.strategy.on_trade(self, event)
        self._show_books(changed)

    def _show_books(self, changed: list[tuple[str, str]]) -> None:
        """``on_book`` for the "book" books a record changed, then for the "top" books
        whose best prices it moved. The lane calls it directly (``lane.changed``) for a
        depth update it applied to a "book" book the simulator has no interest in (no
        resting order, no taken liquidity there): its ``BookUpdate`` would call no more."""
        for venue, symbol in changed:
            view = self.book(venue, symbol)
            if view is not None:
                self.strategy.on_book(self, view)
        if self._tops:
            self._check_tops(changed)

    def _check_tops(self, shown: list[tuple[str, str]]) -> None:
        """``on_book`` for each "top" book (in subscription order) whose best prices
        changed since last shown (unless ``shown`` already showed it for this record).
        Every book is checked: a crossed book is cleared with events the observer does
        not see."""
        tops = self._tops
        for key, last in tops.items():
            book = self.engine.book(*key)
            top = book.top() if book is not None else (None, None)
            if top != last:
                tops[key] = top
                if key not in shown:
                    view = self.book(*key)
                    if view is not None:
                        self.strategy.on_book(self, view)

    def _drain(self, before_ns: int) -> None:
        """Run the backtest's own events with a time before ``before_ns``."""
        heap = self._heap
        while heap and heap[0][0] < before_ns:
            t_ns, _, kind, payload = heapq.heappop(heap)
            self.now_ns = max(self.now_ns, t_ns)
            if kind == _ARRIVE:
                for notice in self.sim.arrive(payload, t_ns):
                    self._push(max(notice.t_ns, t_ns), _NOTICE, notice)
            elif kind == _CANCEL:
                order, response = payload
                for notice in self.sim.cancel(order, t_ns, response):
                    self._push(max(notice.t_ns, t_ns), _NOTICE, notice)
            elif kind == _NOTICE:
                self.recorder.notice(payload)
                if type(payload) is Fill:
                    self.strategy.on_fill(self, payload)
                else:
                    self.strategy.on_order(self, payload)
            else:
                self.strategy.on_timer(self, payload)

    # ------------------------------------------------------------------ internals

    def _send(
        self, side: str, venue: str, symbol: str, qty: Number, limit: Number | None, tif: str
    ) -> int:
        if tif not in TIFS:
            raise UsageError(f"tif must be one of {', '.join(TIFS)}, not {tif!r}")
        amount = _decimal(qty, "qty")
        if amount <= 0:
            raise UsageError(f"qty must be positive, not {qty!r}")
        price = None if limit is None else _decimal(limit, "limit")
        if price is not None and price <= 0:
            raise UsageError(f"limit must be positive, not {limit!r}")
        if price is None and tif != "IOC":
            raise UsageError(f"a {tif} order needs a limit price")
        assets = self.config.assets_of(venue, symbol)
        if assets is None:
            raise UsageError(f"cannot tell the base and quote assets of {venue}:{symbol}")
        self._order_ids += 1
        entry, response = self._draw(venue)
        feed = self._latency_of(venue).feed_ns
        order = Order(
            self._order_ids, venue, symbol, side, amount, price, tif, self.now_ns,
            max(0, response - feed), assets[0], assets[1],
        )  # fmt: skip
        self._orders[order.order_id] = order
        self.recorder.sent(order)
        self.recorder.track(venue, symbol)
        self._push(self.now_ns + entry + feed, _ARRIVE, order)
        return order.order_id

    def _latency_of(self, venue: str) -> Latency:
        return self._latency.get(venue, self._default_latency)

    def _draw(self, venue: str) -> tuple[int, int]:
        return self._latency_of(venue).draw(self._rng)

    def _push(self, t_ns: int, kind: int, payload: Any) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (t_ns, self._counter, kind, payload))

    def _book_of(self, exchange: str, symbol: str) -> tuple[Book | None, bool]:
        return self.engine.book(exchange, symbol), self.engine.is_synced(exchange, symbol)

    def _fees(self, exchange: str) -> tuple[Decimal, Decimal]:
        fees = self._fee_table.get(exchange)
        if fees is None:
            fees = self._fee_table[exchange] = (
                Decimal(repr(self.config.maker_fee(exchange))),
                Decimal(repr(self.config.fee(exchange))),
            )
        return fees


def run_backtest(
    strategy: Strategy,
    records: Iterable[tuple[RawRecord, bool]] | LogRead,
    config: EngineConfig,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    latency: Mapping[str, Latency] | None = None,
    fees: Mapping[str, tuple[float, float]] | None = None,
    balances: Mapping[str, Mapping[str, Number]] | None = None,
    allow_short: bool = False,
    seed: int = 0,
    equity_interval_ns: int = 1_000_000_000,
    params: Mapping[str, Any] | None = None,
) -> BacktestResult:
    """Run ``strategy`` over ``(record, warm_up)`` pairs in replay order; given the
    ``LogRead`` itself, over its record batches through the engine's columnar lane when
    the compiled core is built (``_Run.run_batches``: the same result)."""
    run = _Run(
        strategy,
        config,
        start_ns=start_ns,
        end_ns=end_ns,
        latency=latency or {},
        fees=fees,
        balances=strategy.balances if balances is None else balances,
        allow_short=allow_short,
        seed=seed,
        equity_interval_ns=equity_interval_ns,
        params=params or {},
    )
    try:
        if isinstance(records, LogRead) and run.engine._columnar_lane() is not None:
            result = run.run_batches(records)
        else:
            result = run.run(iter(records))
    except Exception as exc:
        callback = _failed_callback(exc, strategy)
        if callback is None:
            raise
        raise StrategyError(callback, run.now_ns, exc) from exc
    result.summary["seed"] = seed
    result.params = dict(params or {})
    return result
