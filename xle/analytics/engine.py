"""The engine: records in, quotes / arbitrage episodes / integrity events out.

Pure by construction: it reads no clock, socket or file. Time is the ``recv_ns`` of the
records it is fed, so the same records always give the same outputs, live or replayed::

    engine = Engine(load_config())
    for rec in source:                   # read_records(...).records() or the recorder's live queue
        for out in engine.on_record(rec):
            sink(out)
    for out in engine.finish():
        sink(out)

Decoders (``xle.exchanges``) own each venue's sync rules; the engine owns the books, the
metrics and the arbitrage tracker, and turns the decoders' verdicts into outputs.
Quotes are throttled in record time: at each ``quote_interval`` boundary every book that
changed since its last quote gets one, stamped with the record that produced that state
and with the venue's own time of it (``exch_ns``, and ``feed_latency_ns`` = receipt minus
that time). The venue's tops of book (``TopOfBook``) are checked against the books
(``xle.analytics.crosscheck``), tallied per book in ``cross_checks()``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

import msgspec

from xle._native.book import COMPILED, Book
from xle.analytics.arbitrage import ArbitrageTracker, Pair, Venue, pairs_between
from xle.analytics.crosscheck import MAX_PENDING, TOLERANCE, CrossCheck
from xle.analytics.metrics import imbalance, vwap, vwap_function
from xle.config import EngineConfig
from xle.exchanges import Decoder, make_decoder
from xle.records import (
    ArbitrageEpisode,
    BookReset,
    BookUpdate,
    IntegrityEvent,
    IntegrityKind,
    Problem,
    Quote,
    RawRecord,
    ResyncRequest,
    TopOfBook,
    Trade,
    VwapResult,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["BookView", "Engine", "Output"]

_vwap = vwap_function()
_make_quote = None
if COMPILED:  # the compiled quote, for the compiled book
    from xle._native._fastbook import make_quote as _make_quote
_RECV_NS = attrgetter("recv_ns")

Output = Quote | ArbitrageEpisode | IntegrityEvent | ResyncRequest

#: Recorder control events that are reported as integrity events.
_CONTROL_INTEGRITY = {
    "disconnected": IntegrityKind.DISCONNECT,
    "error": IntegrityKind.RECORDER_ERROR,
    "corrupt_file": IntegrityKind.CORRUPT_FILE,
}

#: The quote interval of an engine whose quote ticks are off (``set_quoting``): beyond
#: any time an int64 of nanoseconds holds (year 2116).
_NO_TICKS = 1 << 62

#: Reset reasons already reported, with their detail, before the reset itself.
_REPORTED_BEFORE_RESET = frozenset({"crossed", "stale_stream", "inexact_number"})


class BookView(msgspec.Struct, frozen=True):
    exchange: str
    symbol: str
    status: str  # "synced" | "unsynced"
    bids: list[tuple[float, float]]  # best first
    asks: list[tuple[float, float]]  # best first
    last_recv_ns: int | None


@dataclass(slots=True)
class _BookState:
    venue: Venue
    market: str | None
    sizes: tuple[float, ...]
    dirty: bool = False
    stale_reported: bool = False
    last_recv_ns: int | None = None
    last_seq: int = 0
    last_trade: Trade | None = None
    update_id: int = 0  # id of the last update applied (Binance ``u``; 0 for Coinbase)
    exch_ns: int | None = None  # venue's time of the last update applied
    check: CrossCheck | None = None  # the venue's tops of book, once one arrived
    pairs: list[Pair] = field(default_factory=list)  # both ways with each book of its market
    book: Book = field(init=False)  # = venue.book, one attribute hop less on the hot path
    symbol: str = field(init=False)  # the venue's symbol, as quotes and events name it

    def __post_init__(self) -> None:
        self.book = self.venue.book
        self.symbol = self.venue.label.partition(":")[2]

    @property
    def synced(self) -> bool:
        return self.venue.synced

    @synced.setter
    def synced(self, value: bool) -> None:
        self.venue.synced = value


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._stats: Counter[str] = Counter()
        self._records = 0  # hot counters live in ints; ``stats`` folds them in
        self._book_updates = 0
        self.arbitrage = ArbitrageTracker(config.arb_threshold_bps)
        self._decoders: dict[str, Decoder] = {}
        self._books: dict[tuple[str, str], _BookState] = {}
        self._markets: dict[str, list[_BookState]] = {}
        self._interval = max(1, config.quote_interval_ns)
        self._next_tick: int | None = None
        self._last_recv_ns = 0
        self._last_seq = 0
        #: Called as ``observer(record, events)`` after each record whose decoder events
        #: (book updates, resets, trades, ...) were applied; backtests watch books this way.
        self.observer: Callable[[RawRecord, list[object]], None] | None = None
        #: The books whose records ``observer`` needs; None: every book's. With a set,
        #: the columnar lane takes the other books' depth frames whole, unobserved.
        self.observed_books: set[tuple[str, str]] | None = None
        #: Books whose top-of-book changes a caller of ``Lane.feed(until_notice=True)``
        #: waits for (a backtest strategy subscribed to ``"top"``).
        self.top_books: set[tuple[str, str]] = set()
        #: Books whose every applied update such a caller waits for (``"book"``): the
        #: lane applies their depth frames itself and stops after each, naming the book.
        self.changed_books: set[tuple[str, str]] = set()
        #: Quotes of compiled books made by the columnar lane's ticks come as rows of a
        #: ``QuoteRows`` (``xle._native._fastbook``) in the outputs, instead of ``Quote``
        #: objects: for a consumer that stores them as Arrow columns (``run_replay``'s
        #: derived writer), which then never pays for the objects.
        self.quote_rows = False
        self._lane: object | None = None  # the compiled columnar lane, made on first use
        self._generation = 0  # counts on_records calls (see the lane's ``_resume``)

    def set_quoting(self, enabled: bool) -> None:
        """Turn the quote ticks off (or back on; on by default). Off, no quote and no
        stale report is made, and nothing else changes: the books, their sync, the
        arbitrage and the cross-checks are the same. Why: a backtest no strategy asked
        quotes of has no reader for them, and on the compiled lane each tick is a stop."""
        interval = max(1, self.config.quote_interval_ns) if enabled else _NO_TICKS
        if interval != self._interval:
            self._interval = interval
            if self._next_tick is not None:
                self._next_tick = (self._last_recv_ns // interval + 1) * interval

    # ------------------------------------------------------------------ feeding

    def on_record(self, rec: RawRecord) -> list[Output]:
        return self.on_records((rec,))

    def on_records(self, records: Iterable[RawRecord]) -> list[Output]:
        """``on_record`` for each record in turn, the outputs in one list: a replay feeds
        thousands at a time and saves a call and a list per record."""
        self._generation += 1  # the columnar lane's cue that its mirror may be stale
        out: list[Output] = []
        decoders = self._decoders
        handle = self._handle
        books = self._books
        evaluate = self.arbitrage.evaluate
        opened = self.arbitrage.opened
        interval = self._interval
        next_tick = self._next_tick
        observe = self.observer
        count = updates = 0
        rec = None
        for rec in records:
            recv_ns = rec.recv_ns
            if next_tick is None or recv_ns >= next_tick:
                if next_tick is not None:
                    self._tick(rec, out)
                next_tick = self._next_tick = (recv_ns // interval + 1) * interval
            count += 1
            decoder = decoders.get(rec.exchange)
            if decoder is None:
                try:
                    decoder = decoders[rec.exchange] = make_decoder(rec.exchange, self.config)
                except ValueError as exc:
                    out.append(self._integrity(rec, None, IntegrityKind.MALFORMED, str(exc)))
                    continue
            if rec.payload is None:  # not a record the recorder writes: say so, go on
                detail = f"{rec.kind} record of {rec.stream or 'no stream'} without a payload"
                out.append(self._integrity(rec, rec.symbol, IntegrityKind.MALFORMED, detail))
                continue
            if rec.kind == "event":
                kind = _CONTROL_INTEGRITY.get(rec.stream)
                if kind is not None:
                    detail = rec.payload.decode("utf-8", "replace")
                    out.append(self._integrity(rec, rec.symbol, kind, detail))
            events = decoder.feed(rec)
            for event in events:
                if type(event) is not BookUpdate:
                    handle(rec, decoder, event, out)
                    continue
                # Book updates, nearly every event, are applied here rather than in a
                # call per event: this loop is the replay's hot path.
                state = books.get((event.exchange, event.symbol))
                if state is None:
                    state = self._state(event.exchange, event.symbol)
                book = state.book
                if event.is_snapshot:
                    before = book.top()
                    book.load(event.bids, event.asks)
                    state.synced = True
                    moved = book.top() != before
                else:
                    moved = book.apply(event.bids, event.asks)
                state.dirty = True
                state.stale_reported = False
                state.last_recv_ns = recv_ns
                state.last_seq = rec.seq
                state.update_id = event.update_id
                state.exch_ns = event.exch_ns
                updates += 1
                check = state.check
                if check is not None and check.watching:
                    self._cross_check(rec, state, check, out)
                if not moved:
                    # Same best prices: not crossed now, and no edge changed. An open
                    # episode's executable size still can (the touch sizes may have), so
                    # its pairs are re-priced; with no episode open nothing is.
                    if opened and state.pairs and state.synced:
                        evaluate(state.pairs, recv_ns, rec.seq, out)
                    continue
                if book.is_crossed():
                    self._crossed(rec, decoder, state, event.symbol, out)
                elif state.pairs:
                    evaluate(state.pairs, recv_ns, rec.seq, out)
            if observe is not None and events:
                observe(rec, events)
        if rec is not None:
            self._last_recv_ns = rec.recv_ns
            self._last_seq = rec.seq
            self._records += count
            self._book_updates += updates
        return out

    def on_batch(
        self,
        batch: pa.RecordBatch,
        exchange: str | None = None,
        symbols: frozenset[str] | None = None,
    ) -> list[Output]:
        """``on_records`` for the rows of an Arrow record batch of the raw log (RAW_SCHEMA
        columns in replay order; ``exchange`` names every row's exchange, or None to read
        an ``exchange`` column): the same outputs, in the same order.

        Why: with the compiled core (``xle._native.columnar_lane``) the rows are read from
        the Arrow buffers and a depth frame of a synced book is parsed, checked and
        applied without a Python object per message; every other row goes through
        ``on_records``. Without it, the rows become RawRecords and go through
        ``on_records``. ``symbols``: only the rows of those symbols and those without
        one (``LogRead.symbol_filter`` of a read that left the filtering to the lane)."""
        out: list[Output] = []
        for _stop, outputs in self.iter_batch(batch, exchange, whole=True, symbols=symbols):
            out.extend(outputs)
        return out

    def iter_batch(
        self,
        batch: pa.RecordBatch,
        exchange: str | None = None,
        *,
        whole: bool = False,
        symbols: frozenset[str] | None = None,
    ) -> Iterator[tuple[int, list[Output]]]:
        """``on_batch`` in steps: ``(rows fed so far, outputs)`` where the outputs are
        those of the last row fed, and the engine is in its state right after that row
        until the next step (``Log.replay`` shows the books at each output this way).
        The last step feeds the rest of the batch. ``whole`` feeds it all in one step.
        ``symbols`` as in ``on_batch``; the steps then count the rows of those symbols."""
        lane = self._columnar_lane()
        if lane is None:
            from xle.store.merge import records_from_table

            records = records_from_table(batch, exchange)
            if symbols is not None:
                records = [r for r in records if r.symbol is None or r.symbol in symbols]
            rows = len(records)
            if whole:
                yield rows, self.on_records(records)
                return
            for index, rec in enumerate(records):
                outputs = self.on_records((rec,))
                if outputs or index + 1 == rows:
                    yield index + 1, outputs
            return
        prepared = lane.prepare(exchange, batch, symbols)
        rows = prepared.num_rows
        start = 0
        while start < rows:
            out: list[Output] = []
            start = lane.feed(prepared, out, start, not whole)
            if out or start >= rows:
                yield start, out

    def on_round(self, parts: list[tuple[str, list[pa.RecordBatch]]]) -> list[Output]:
        """``on_records`` for the rows of several exchanges' record batches merged in
        replay order (``xle.store.batches.Round``: one part per exchange, in
        exchange-name order, each in replay order): the compiled lane merges them as it
        feeds them; without it they become RawRecords, merged as the reader merges them."""
        lane = self._columnar_lane()
        if lane is not None and not any(
            b.column("recv_ns").null_count for _, bs in parts for b in bs
        ):
            out: list[Output] = []
            lane.feed_parts([[lane.prepare(ex, b) for b in batches] for ex, batches in parts], out)
            return out
        from xle.store.merge import records_from_table

        merged = [
            rec
            for exchange, batches in parts
            for b in batches
            for rec in records_from_table(b, exchange)
        ]
        merged.sort(key=_RECV_NS)  # stable: ties keep the exchange order of the parts
        return self.on_records(merged)

    def _columnar_lane(self):  # -> xle._native._fastbook.Lane | None
        if self._lane is None:
            from xle._native.book import columnar_lane
            from xle.exchanges import binance, coinbase
            from xle.exchanges._common import SyncState

            make = columnar_lane()
            if make is None:
                self._lane = False
            else:
                decoder = binance.BinanceDecoder
                routes = binance._WS_HANDLERS
                self._lane = make(
                    self,
                    {
                        binance.BINANCE.name: "binance",
                        binance.BINANCEUS.name: "binance",
                        coinbase.COINBASE.name: "coinbase",
                    },
                    SyncState.LIVE,
                    RawRecord,
                    [c for c, h in routes.items() if h is decoder._on_depth],
                    decoder,
                    coinbase.CoinbaseDecoder,
                    ticker_channels=[c for c, h in routes.items() if h is decoder._on_book_ticker],
                    trade_channels=[c for c, h in routes.items() if h is decoder._on_trade],
                    top_of_book=TopOfBook,
                    trade=Trade,
                    check_tolerance=TOLERANCE,
                    check_limit=MAX_PENDING,
                )
        return self._lane or None

    def finish(self) -> list[Output]:
        """End of the stream: quote what changed since the last tick, close episodes."""
        self._generation += 1
        out: list[Output] = []
        for state in self._books.values():
            if state.dirty:
                out.append(self._quote(state))
        out.extend(self.arbitrage.finish(self._last_recv_ns, self._last_seq))
        for state in self._books.values():
            if state.check is not None:
                state.check.drop_pending()
        return out

    # ------------------------------------------------------------------ reading state

    @property
    def stats(self) -> Counter[str]:
        """Counters: records, book_updates, trades, reset_<reason>, ..."""
        stats = self._stats
        if self._records:
            stats["records"] = self._records
        if self._book_updates:
            stats["book_updates"] = self._book_updates
        return stats

    def book_keys(self) -> list[tuple[str, str]]:
        return sorted(self._books)

    def book(self, exchange: str, symbol: str) -> Book | None:
        state = self._books.get((exchange, symbol))
        return state.book if state is not None else None

    def is_synced(self, exchange: str, symbol: str) -> bool:
        state = self._books.get((exchange, symbol))
        return state is not None and state.synced

    def market_of(self, exchange: str, symbol: str) -> str | None:
        state = self._books.get((exchange, symbol))
        return state.market if state is not None else self.config.market_of(exchange, symbol)

    def book_view(self, exchange: str, symbol: str, depth: int | None = None) -> BookView | None:
        state = self._books.get((exchange, symbol))
        if state is None:
            return None
        book = state.book
        return BookView(
            exchange,
            symbol,
            "synced" if state.synced else "unsynced",
            book.top_bids(depth),
            book.top_asks(depth),
            state.last_recv_ns,
        )

    def vwap(self, exchange: str, symbol: str, side: str, size: float) -> VwapResult:
        state = self._books.get((exchange, symbol))
        book = state.book if state is not None else Book()
        return vwap(book, side, size)

    def imbalance(self, exchange: str, symbol: str) -> tuple[float | None, float | None]:
        state = self._books.get((exchange, symbol))
        if state is None:
            return None, None
        return imbalance(state.book, self.config.imbalance_levels)

    def last_trade(self, exchange: str, symbol: str) -> Trade | None:
        state = self._books.get((exchange, symbol))
        return state.last_trade if state is not None else None

    def cross_checks(self) -> dict[tuple[str, str], CrossCheck]:
        """Per book that got any, the tally of the venue's tops of book against it."""
        return {key: state.check for key, state in sorted(self._books.items()) if state.check}

    def ignored_streams(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for exchange, decoder in sorted(self._decoders.items()):
            for stream, n in decoder.ignored.items():
                counts[f"{exchange}:{stream}"] += n
        return dict(sorted(counts.items()))

    # ------------------------------------------------------------------ internals

    def _state(self, exchange: str, symbol: str) -> _BookState:
        key = (exchange, symbol)
        state = self._books.get(key)
        if state is None:
            market = self.config.market_of(exchange, symbol)
            venue = Venue(f"{exchange}:{symbol}", exchange, Book(), self.config.fee(exchange))
            state = self._books[key] = _BookState(venue, market, self.config.sizes_for(market))
            if market is not None:
                members = self._markets.setdefault(market, [])
                for other in members:
                    state.pairs.extend(pairs_between(market, venue, other.venue))
                    other.pairs.extend(pairs_between(market, other.venue, venue))
                members.append(state)
        return state

    def _crossed(
        self, rec: RawRecord, decoder: Decoder, state: _BookState, symbol: str, out: list[Output]
    ) -> None:
        """The book crossed after an update: report it and have the decoder resync it."""
        book = state.book
        detail = f"best bid {book.best_bid()} >= best ask {book.best_ask()}"
        out.append(self._integrity(rec, symbol, IntegrityKind.CROSSED, detail))
        for follow in decoder.invalidate(symbol, "crossed"):
            self._handle(rec, decoder, follow, out)

    def _handle(self, rec: RawRecord, decoder: Decoder, event, out: list[Output]) -> None:
        """Every decoder event but ``BookUpdate`` (``on_records`` applies those)."""
        if type(event) is TopOfBook:  # first: as frequent as book updates on some logs
            state = self._books.get((event.exchange, event.symbol))
            if state is None:
                state = self._state(event.exchange, event.symbol)
            check = state.check
            if check is None:
                check = state.check = CrossCheck()
            check.on_ticker(event, state.book, state.update_id, state.synced)
        elif type(event) is BookReset:
            state = self._state(event.exchange, event.symbol)
            state.book.clear()
            state.synced = False
            state.dirty = False
            if state.check is not None:
                state.check.drop_pending()
            self._stats[f"reset_{event.reason}"] += 1
            if event.reason not in _REPORTED_BEFORE_RESET:
                detail = event.reason
                if event.expected is not None:
                    detail = f"{event.reason}: expected {event.expected}, got {event.got}"
                kind = IntegrityKind.GAP if event.reason == "gap" else event.reason
                out.append(self._integrity(rec, event.symbol, kind, detail))
            if state.market is not None:
                out.extend(
                    self.arbitrage.close_venue(
                        state.market, state.venue.label, rec.recv_ns, rec.seq, "book_unsynced"
                    )
                )
        elif type(event) is ResyncRequest:
            out.append(
                ResyncRequest(
                    event.exchange, event.symbol, event.conn, event.reason, rec.recv_ns, rec.seq
                )
            )
        elif type(event) is Problem:
            out.append(self._integrity(rec, event.symbol, event.kind, event.detail))
        elif type(event) is Trade:
            self._state(event.exchange, event.symbol).last_trade = event
            self._stats["trades"] += 1

    def _cross_check(
        self, rec: RawRecord, state: _BookState, check: CrossCheck, out: list[Output]
    ) -> None:
        """The book took an update while tickers wait for it: judge them."""
        self._mismatches(rec, state, check.on_update(state.book, state.update_id), out)

    def _mismatches(
        self, rec: RawRecord, state: _BookState, verdicts: list, out: list[Output]
    ) -> None:
        """The tickers that disagreed with the book for good, as integrity events."""
        for verdict in verdicts:
            out.append(
                self._integrity(
                    rec,
                    state.symbol,
                    IntegrityKind.TOP_OF_BOOK_MISMATCH,
                    verdict.detail(),
                    exchange=state.venue.exchange,
                )
            )

    def _tick(self, rec: RawRecord, out: list[Output]) -> None:
        """A quote interval ended before ``rec``: quote changed books, check staleness."""
        stale_before = rec.recv_ns - self.config.stale_after_ns
        quote = self._quote
        for state in self._books.values():
            if state.dirty:
                out.append(quote(state))
            last = state.last_recv_ns
            # The usual case, a book updated within the window, fails the first and
            # cheapest test (this runs per book and quote interval: 100,000 times on the
            # generated million-message log).
            if (
                last is not None
                and last < stale_before
                and not state.stale_reported
                and state.synced
            ):
                self._report_stale(rec, state, out)

    def _report_stale(self, rec: RawRecord, state: _BookState, out: list[Output]) -> None:
        """``state``'s book got no update for ``stale_after`` before ``rec``: say so once."""
        state.stale_reported = True
        seconds = (rec.recv_ns - state.last_recv_ns) / 1e9
        out.append(
            self._integrity(
                rec,
                state.symbol,
                IntegrityKind.STALE,
                f"no update for {seconds:.1f} s",
                exchange=state.venue.exchange,
            )
        )

    def _quote(self, state: _BookState) -> Quote:
        state.dirty = False
        book = state.book
        args = (
            book,
            state.sizes,
            self.config.imbalance_levels,
            state.last_recv_ns or 0,
            state.last_seq,
            state.venue.exchange,
            state.symbol,
            state.market,
            state.exch_ns,
        )
        if _make_quote is not None and type(book) is Book:
            quote = _make_quote(*args)
            if quote is not None:
                return quote
        return self._make_quote(*args)

    def _make_quote(
        self,
        book: Book,
        sizes: tuple[float, ...],
        depth: int,
        recv_ns: int,
        seq: int,
        exchange: str,
        symbol: str,
        market: str | None,
        exch_ns: int | None,
    ) -> Quote:
        """The compiled ``make_quote`` in Python (``depth`` is the configured
        ``imbalance_levels``, which ``_quote_fields`` reads itself)."""
        return Quote(
            recv_ns,
            seq,
            exchange,
            symbol,
            market,
            *self._quote_fields(book, sizes),
            exch_ns,
            recv_ns - exch_ns if exch_ns is not None else None,
        )

    def _quote_fields(self, book: Book, sizes: tuple[float, ...]) -> tuple:
        """A quote's book figures, in ``Quote`` field order (from best bid to the VWAP
        walks), computed in Python: what the compiled ``make_quote`` puts in its quote."""
        bid = book.best_bid()
        ask = book.best_ask()
        mid = spread = spread_bps = None
        if bid is not None and ask is not None:
            mid = (bid + ask) / 2.0
            spread = ask - bid
            spread_bps = spread / mid * 1e4
        imb, ratio = imbalance(book, self.config.imbalance_levels)
        walks = [_vwap(book, side, size) for size in sizes for side in ("buy", "sell")]
        return (
            bid,
            book.best_bid_size(),
            ask,
            book.best_ask_size(),
            mid,
            spread,
            spread_bps,
            imb,
            ratio,
            walks,
        )

    @staticmethod
    def _integrity(
        rec: RawRecord,
        symbol: str | None,
        kind: str,
        detail: str,
        *,
        exchange: str | None = None,
    ) -> IntegrityEvent:
        return IntegrityEvent(
            rec.recv_ns,
            rec.seq,
            rec.run,
            rec.conn,
            exchange or rec.exchange,
            symbol,
            str(kind),
            detail,
            rec.stream,
        )
