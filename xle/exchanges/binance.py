"""Binance spot and Binance.US: endpoints, wire types, decoding and the depth sync rule.

Everything xle knows about the Binance protocol lives here; the recorder asks this module
for URLs and subscribe messages, the engine feeds it records. No sockets, no clocks.

Streams used: ``<sym>@depth@100ms`` (diff depth, absolute quantities, ``"0"`` removes a
level) with REST snapshots ``GET /api/v3/depth``, and ``<sym>@trade``. A recording's
``<sym>@bookTicker`` frames become ``TopOfBook`` events, the venue's own best levels that
the engine checks its rebuilt book against. Other streams (aggTrade, kline_*) are counted
and ignored.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import msgspec

from xle.exchanges._common import (
    DECODE_ERRORS,
    Event,
    Number,
    StaleGuard,
    SyncState,
    fast_binance_depth,
    inexact_detail,
    inexact_numbers,
)
from xle.exchanges.registry import SyncLimits, VenueSpec, register
from xle.records import (
    BookReset,
    BookUpdate,
    Problem,
    RawRecord,
    ResyncRequest,
    TopOfBook,
    Trade,
)

__all__ = [
    "BINANCE",
    "BINANCEUS",
    "ENDPOINTS",
    "QUOTE_ASSETS",
    "BinanceDecoder",
    "assets_of",
    "combined_stream_path",
    "depth_snapshot_path",
    "label_frame",
    "snapshot_symbols",
    "snapshot_weight",
    "streams_for",
]

#: ``SyncState.LIVE``, looked up once: an enum member lookup is not free on CPython and
#: the state is checked on every frame (benchmarks/README.md).
_LIVE = SyncState.LIVE

# ----------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Endpoints:
    ws: str  # base of /ws/<stream> and /stream?streams=
    rest: str  # base of /api/v3/depth


ENDPOINTS: dict[str, Endpoints] = {
    "binance": Endpoints("wss://stream.binance.com:9443", "https://api.binance.com"),
    "binanceus": Endpoints("wss://stream.binance.us:9443", "https://api.binance.us"),
}

#: A combined-stream connection may carry at most this many streams (Binance limit).
MAX_STREAMS_PER_CONNECTION = 1024
#: Snapshot depth requested by the recorder (weight 50; 5000 levels weigh 250).
SNAPSHOT_LIMIT = 1000


def streams_for(symbol: str) -> list[str]:
    """The streams the recorder subscribes per symbol (lower-case, as Binance requires)."""
    low = symbol.lower()
    return [f"{low}@depth@100ms", f"{low}@trade"]


def combined_stream_path(streams: list[str]) -> str:
    return "/stream?streams=" + "/".join(streams)


def snapshot_weight(limit: int) -> int:
    """Request weight of ``GET /api/v3/depth`` by ``limit`` (Binance spot's table)."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def depth_snapshot_path(symbol: str, limit: int = SNAPSHOT_LIMIT) -> str:
    return f"/api/v3/depth?symbol={symbol.upper()}&limit={limit}"


# ----------------------------------------------------------------------------- wire types

#: An update id as Binance sends it: a signed 64-bit integer on the venue. A larger one
#: cannot be real, and would make every later update look stale: the frame is malformed.
UpdateId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]

#: An event or trade time as Binance sends it, epoch ms. The bound keeps its ns (``E`` *
#: 10**6) inside int64, the type of the derived columns; a larger one is malformed.
EventMs = Annotated[int, msgspec.Meta(ge=0, le=(2**63 - 1) // 1_000_000)]


class DepthUpdate(msgspec.Struct, gc=False):
    """``{"e":"depthUpdate","E":1633998512068,"s":"NKNUSDT","U":499869750,"u":499869752,
    "b":[["0.35130000","6195.00000000"]],"a":[]}``"""

    s: str  # symbol
    U: UpdateId  # first update id in this event
    u: UpdateId  # final update id in this event
    b: list[tuple[Number, Number]]  # bids to update: [price, absolute qty]
    a: list[tuple[Number, Number]]  # asks to update
    E: EventMs | None = None  # event time, epoch ms

    @property
    def exch_ns(self) -> int | None:
        return self.E * 1_000_000 if self.E is not None else None


class _CombinedDepth(msgspec.Struct, gc=False):
    data: DepthUpdate  # {"stream":"nknusdt@depth@100ms","data":{...}}


class DepthSnapshot(msgspec.Struct, gc=False):
    """``GET /api/v3/depth`` -> ``{"lastUpdateId":499869752,"bids":[[p,q],...],"asks":[...]}``"""

    lastUpdateId: UpdateId
    bids: list[tuple[Number, Number]]
    asks: list[tuple[Number, Number]]


class TradeMsg(msgspec.Struct, gc=False):
    """``{"e":"trade","E":…,"s":"BTCUSDT","t":12345,"p":"0.001","q":"100","T":…,"m":true}``"""

    s: str  # symbol
    t: int  # trade id
    p: Number  # price
    q: Number  # quantity
    m: bool  # buyer is the maker (so the taker sold)
    T: EventMs | None = None  # trade time, epoch ms


class _CombinedTrade(msgspec.Struct, gc=False):
    data: TradeMsg


class BookTickerMsg(msgspec.Struct, gc=False):
    """``{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000",
    "a":"25.36520000","A":"40.66000000"}``: best levels as of book update id ``u``."""

    u: UpdateId
    s: str
    b: Number
    B: Number
    a: Number
    A: Number


class _CombinedBookTicker(msgspec.Struct, gc=False):
    data: BookTickerMsg


class _BareHeader(msgspec.Struct, gc=False):
    """Enough of an unlabelled frame to route it: event type, or a wrapper's stream."""

    e: str | None = None
    stream: str | None = None


_depth_bare = msgspec.json.Decoder(DepthUpdate, strict=False)
_depth_combined = msgspec.json.Decoder(_CombinedDepth, strict=False)
_snapshot = msgspec.json.Decoder(DepthSnapshot, strict=False)
_trade_bare = msgspec.json.Decoder(TradeMsg, strict=False)
_trade_combined = msgspec.json.Decoder(_CombinedTrade, strict=False)
_ticker_bare = msgspec.json.Decoder(BookTickerMsg, strict=False)
_ticker_combined = msgspec.json.Decoder(_CombinedBookTicker, strict=False)
_header = msgspec.json.Decoder(_BareHeader)

_WRAPPED = b'{"stream"'

#: Every quoted number of a depth, snapshot or trade frame is a price or a quantity.
_NUMBERS = re.compile(rb'"([0-9][0-9.eE+-]*)"')


def _is_wrapped(payload: bytes) -> bool:
    """Binance always writes ``stream`` first in the combined wrapper."""
    return payload[:9] == _WRAPPED


def snapshot_symbols(rec: RawRecord) -> tuple[str, ...]:
    """Symbols whose full book this record carries (a REST depth snapshot)."""
    if rec.kind == "rest" and rec.stream.startswith("/api/v3/depth"):
        symbol = _rest_symbol(rec)
        return (symbol,) if symbol else ()
    return ()


def _rest_symbol(rec: RawRecord) -> str | None:
    if rec.symbol:
        return rec.symbol
    values = parse_qs(urlsplit(rec.stream).query).get("symbol")
    return values[0].upper() if values else None


# ----------------------------------------------------------------------------- sync


@dataclass(slots=True)
class _SymbolSync:
    """Sync state of one symbol's book (see ``BinanceDecoder._on_depth``)."""

    state: SyncState = SyncState.AWAITING_SNAPSHOT
    update_id: int = 0  # id of the last update applied to the book (``u``)
    buffer: deque[DepthUpdate] = field(default_factory=deque)
    conn: tuple[str, int] | None = None  # (run, conn) whose depth frames feed the book
    # The latest snapshot labelled with another (run, conn) than ``conn``: the base of
    # that connection's book once its frames arrive (``_new_connection``).
    pending: tuple[tuple[str, int], DepthSnapshot] | None = None
    stale: StaleGuard = field(default_factory=StaleGuard)


class BinanceDecoder:
    """Turns Binance / Binance.US records into book events under the official sync rule.

    The rule (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams,
    "How to manage a local order book correctly"), as this class applies it:

    1. Buffer depth events until a snapshot arrives.
    2. If the snapshot's ``lastUpdateId`` leaves a hole before the first buffered event
       (``lastUpdateId + 1 < U``), it is too old: report it and ask for another.
       ``lastUpdateId + 1 == U`` is contiguous and accepted.
    3. Drop buffered events with ``u <= lastUpdateId``; the book id is ``lastUpdateId``.
    4. For each event, buffered or live: ``u <= id`` -> stale, ignore (this also covers
       events older than the snapshot that arrive *after* it); ``U > id + 1`` -> gap:
       report, discard this one book, ask for a resync and keep buffering; else apply and
       set ``id = u``. So the first applied event is the one with ``U <= id + 1 <= u``.

    A snapshot that arrives while the book is live re-bases it when it is at least as new
    as the book, and is ignored when older.

    Ids are only compared within one connection. Depth frames of another ``(run, conn)``
    than the book's start its sync afresh (a live book is reset, reason
    ``new_connection``; the recorder fetches a snapshot for every new connection). A
    snapshot labelled with another connection of the same run is handled as above (older
    logs label REST responses with a connection of their own) and is also kept as the
    base of its connection's book; one from another run is never compared with this run's
    ids and is only kept for its connection. So a second recorder run in the same data
    root syncs on its own snapshots even when its ids are lower than the first run's.

    A frame holding a price or quantity that a double cannot hold exactly is reported
    (``inexact_number``) and not applied: its levels could merge with a neighbour's.
    A live book that misses it is reset and resynced.

    Two guards keep a book from freezing while it still says synced: an event whose ids
    cannot be real (beyond int64, ``u < U``, or ``u - U`` above ``max_update_span``) is
    malformed and not applied, and a live book that keeps dropping its venue's updates as
    stale (``StaleGuard``) is reported (``stale_stream``), reset and resynced.
    """

    #: Buffered events kept per symbol while waiting for a snapshot; older ones are
    #: dropped first (a later snapshot supersedes them anyway).
    BUFFER_LIMIT = 10_000

    def __init__(
        self,
        exchange: str = "binance",
        *,
        max_update_span: int = 1_000_000,
        stale_stream_updates: int = 50,
        stale_stream_ns: int = 10_000_000_000,
    ) -> None:
        self.exchange = exchange
        self.ignored: Counter[str] = Counter()
        self.stale_events = 0
        self.max_update_span = max_update_span
        self.stale_stream_updates = stale_stream_updates
        self.stale_stream_ns = stale_stream_ns
        self._syncs: dict[str, _SymbolSync] = {}

    # ------------------------------------------------------------------ public

    def feed(self, rec: RawRecord) -> list[Event]:
        kind = rec.kind
        if kind == "ws":
            handler = _WS_ROUTES.get(rec.stream)  # exact stream name -> handler, cached
            if handler is not None:
                return handler(self, rec)
            channel = rec.stream.partition("@")[2]
            handler = _WS_HANDLERS.get(channel)
            if handler is not None:
                if len(_WS_ROUTES) < _WS_ROUTES_MAX:
                    _WS_ROUTES[rec.stream] = handler
                return handler(self, rec)
            if not rec.stream:
                return self._on_unlabelled(rec)
            self.ignored[channel.partition("_")[0] or rec.stream] += 1
            return []
        if kind == "rest":
            if rec.stream.startswith("/api/v3/depth"):
                return self._on_snapshot(rec)
            self.ignored["rest"] += 1
            return []
        if kind == "event" and rec.stream == "disconnected":
            return self._on_disconnected(rec)
        return []

    def state(self, symbol: str) -> SyncState:
        sync = self._syncs.get(symbol)
        return sync.state if sync is not None else SyncState.AWAITING_SNAPSHOT

    def invalidate(self, symbol: str, reason: str) -> list[Event]:
        """The engine found the book wrong (e.g. crossed): drop it and resync."""
        sync = self._sync(symbol)
        return self._reset(symbol, sync, reason, None, None)

    # ------------------------------------------------------------------ handlers

    def _on_depth(self, rec: RawRecord) -> list[Event]:
        payload = rec.payload
        parsed = None
        if fast_binance_depth is not None and type(payload) is bytes:
            try:
                parsed = fast_binance_depth(payload)
            except DECODE_ERRORS:  # e.g. a symbol that is not UTF-8: msgspec words it
                parsed = None
        key = (rec.run, rec.conn)
        if parsed is not None:
            symbol, first, last, bids, asks, exch_ns = parsed
            sync = self._syncs.get(symbol)
            if (
                sync is not None
                and sync.state is _LIVE
                and first <= sync.update_id + 1
                and sync.conn == key
                and first <= last <= first + self.max_update_span
            ):
                # The common case, decided without building a DepthUpdate: the rule of
                # ``_apply`` (stale -> ignore, else apply) with the gap branch left to it.
                if last <= sync.update_id:
                    return self._stale(rec, symbol, sync, last)
                sync.update_id = last
                sync.stale.count = 0
                return [BookUpdate(self.exchange, symbol, False, bids, asks, last, exch_ns)]
            event_ms = None if exch_ns is None else exch_ns // 1_000_000
            event = DepthUpdate(symbol, first, last, bids, asks, event_ms)
        else:
            event = self._decode_depth(payload)
            if type(event) is not DepthUpdate:
                return [self._malformed(rec, event)]
            inexact = inexact_numbers(payload, _NUMBERS)
            if inexact:  # not applied; the book misses an update, so it is reset
                sync = self._syncs.get(event.s)
                problem = self._inexact(rec, event.s, inexact)
                if sync is None or sync.state is not _LIVE:
                    return [problem]  # the hole it leaves in the buffer is a gap later
                return [problem, *self._reset(event.s, sync, "inexact_number", None, None)]
        if not event.U <= event.u <= event.U + self.max_update_span:
            detail = (
                f"{rec.stream}: update ids U={event.U} u={event.u} cannot be real "
                f"(u must be from U to U + {self.max_update_span})"
            )
            return [Problem("malformed", self.exchange, event.s, detail)]
        symbol = event.s
        sync = self._syncs.get(symbol)
        if sync is None:
            sync = self._syncs[symbol] = _SymbolSync()
        events: list[Event] = []
        if sync.conn != key:
            events = self._new_connection(symbol, sync, key)
        if sync.state is _LIVE:
            if event.u <= sync.update_id:
                events.extend(self._stale(rec, symbol, sync, event.u))
            else:
                events.extend(self._apply(symbol, sync, event))
            return events
        buffer = sync.buffer
        if len(buffer) >= self.BUFFER_LIMIT:
            buffer.popleft()
        buffer.append(event)
        return events

    def _new_connection(self, symbol: str, sync: _SymbolSync, key: tuple[str, int]) -> list[Event]:
        """The first depth frame of another connection: its ids start the sync afresh."""
        events: list[Event] = []
        if sync.conn is not None:
            if sync.state is _LIVE:
                events = self._reset(symbol, sync, "new_connection", None, None, request=False)
            sync.buffer.clear()
        sync.conn = key
        sync.stale.count = 0
        pending, sync.pending = sync.pending, None
        if pending is not None and pending[0] == key:
            events.extend(self._base(symbol, sync, pending[1]))
        return events

    def _stale(self, rec: RawRecord, symbol: str, sync: _SymbolSync, last: int) -> list[Event]:
        """A live update the book already holds: ignored, unless the book seems frozen."""
        self.stale_events += 1
        guard = sync.stale
        if guard.count == 0:
            guard.since_ns = rec.recv_ns
        guard.count += 1
        span_ns = rec.recv_ns - guard.since_ns
        if guard.count < self.stale_stream_updates and span_ns < self.stale_stream_ns:
            return []
        detail = (
            f"{guard.count} updates in a row over {span_ns / 1e9:.1f} s ignored as stale: "
            f"book at update id {sync.update_id}, latest u {last}"
        )
        problem = Problem("stale_stream", self.exchange, symbol, detail)
        return [problem, *self._reset(symbol, sync, "stale_stream", None, None)]

    @staticmethod
    def _decode_depth(payload: bytes) -> DepthUpdate | Exception:
        """The msgspec path: any frame, with msgspec's own words for what is wrong."""
        try:
            if _is_wrapped(payload):
                return _depth_combined.decode(payload).data
            return _depth_bare.decode(payload)
        except DECODE_ERRORS as exc:
            return exc

    def _on_snapshot(self, rec: RawRecord) -> list[Event]:
        symbol = _rest_symbol(rec)
        try:
            snap = _snapshot.decode(rec.payload)
        except DECODE_ERRORS as exc:
            return [self._malformed(rec, exc, symbol)]
        if symbol is None:
            return [Problem("malformed", self.exchange, None, "depth snapshot without symbol")]
        sync = self._sync(symbol)
        inexact = inexact_numbers(rec.payload, _NUMBERS)
        if inexact:
            problem = self._inexact(rec, symbol, inexact)
            return [problem, self._resync_request(symbol, sync, "inexact_number")]
        key = (rec.run, rec.conn)
        own = sync.conn
        if own is None or own == key:
            return self._base(symbol, sync, snap)
        sync.pending = (key, snap)
        if own[0] != key[0]:  # another run: its ids mean nothing to this book
            return []
        buffer = sync.buffer
        if sync.state is not _LIVE and buffer and snap.lastUpdateId + 1 < buffer[0].U:
            return []  # the buffered events are another connection's: nothing to compare
        return self._base(symbol, sync, snap)

    def _base(self, symbol: str, sync: _SymbolSync, snap: DepthSnapshot) -> list[Event]:
        """The sync rule's snapshot step (2 and 3 of the class docstring)."""
        last_id = snap.lastUpdateId
        if sync.state is _LIVE:
            if last_id < sync.update_id:
                self.ignored["old_snapshot"] += 1
                return []
            sync.update_id = last_id
            sync.stale.count = 0
            return [BookUpdate(self.exchange, symbol, True, snap.bids, snap.asks, last_id)]
        buffer = sync.buffer
        if buffer and last_id + 1 < buffer[0].U:
            detail = f"snapshot lastUpdateId {last_id} older than first buffered U {buffer[0].U}"
            return [
                Problem("stale_snapshot", self.exchange, symbol, detail),
                self._resync_request(symbol, sync, "stale_snapshot"),
            ]
        was_resyncing = sync.state is SyncState.RESYNCING
        sync.state = SyncState.LIVE
        sync.update_id = last_id
        sync.stale.count = 0
        events: list[Event] = [
            BookUpdate(self.exchange, symbol, True, snap.bids, snap.asks, last_id)
        ]
        if was_resyncing:
            events.append(Problem("resync", self.exchange, symbol, f"synced at {last_id}"))
        pending = list(buffer)
        buffer.clear()
        for event in pending:
            if sync.state is _LIVE:
                events.extend(self._apply(symbol, sync, event))
            else:  # a gap inside the buffer: keep the rest for the next snapshot
                buffer.append(event)
        return events

    def _apply(self, symbol: str, sync: _SymbolSync, event: DepthUpdate) -> list[Event]:
        book_id = sync.update_id
        if event.u <= book_id:
            self.stale_events += 1
            return []
        if event.U > book_id + 1:
            events = self._reset(symbol, sync, "gap", book_id + 1, event.U)
            sync.buffer.append(event)
            return events
        sync.update_id = event.u
        sync.stale.count = 0
        return [BookUpdate(self.exchange, symbol, False, event.b, event.a, event.u, event.exch_ns)]

    def _on_trade(self, rec: RawRecord) -> list[Event]:
        try:
            payload = rec.payload
            if _is_wrapped(payload):
                msg = _trade_combined.decode(payload).data
            else:
                msg = _trade_bare.decode(payload)
        except DECODE_ERRORS as exc:
            return [self._malformed(rec, exc)]
        inexact = inexact_numbers(payload, _NUMBERS)
        if inexact:
            return [self._inexact(rec, msg.s, inexact)]
        side = "sell" if msg.m else "buy"
        exch_ns = msg.T * 1_000_000 if msg.T is not None else None
        return [Trade(self.exchange, msg.s, msg.p, msg.q, side, str(msg.t), exch_ns)]

    def _on_book_ticker(self, rec: RawRecord) -> list[Event]:
        try:
            payload = rec.payload
            if _is_wrapped(payload):
                msg = _ticker_combined.decode(payload).data
            else:
                msg = _ticker_bare.decode(payload)
        except DECODE_ERRORS as exc:
            return [self._malformed(rec, exc)]
        inexact = inexact_numbers(payload, _NUMBERS)
        if inexact:
            return [self._inexact(rec, msg.s, inexact)]
        return [TopOfBook(self.exchange, msg.s, msg.b, msg.B, msg.a, msg.A, msg.u)]

    def _on_unlabelled(self, rec: RawRecord) -> list[Event]:
        """A frame recorded without a stream name: route by its own fields."""
        try:
            header = _header.decode(rec.payload)
        except DECODE_ERRORS as exc:
            return [self._malformed(rec, exc)]
        if header.stream is not None:
            channel = header.stream.partition("@")[2]
        else:
            channel = {"depthUpdate": "depth", "trade": "trade"}.get(header.e or "", "")
            if not channel and _is_book_ticker(rec.payload):
                channel = "bookTicker"
        handler = _WS_HANDLERS.get(channel)
        if handler is None:
            self.ignored[channel.partition("_")[0] or "control"] += 1
            return []
        return handler(self, rec)

    def _on_disconnected(self, rec: RawRecord) -> list[Event]:
        """Books fed by a lost connection stop being maintained: unsync them."""
        key = (rec.run, rec.conn)
        events: list[Event] = []
        for symbol, sync in self._syncs.items():
            if sync.conn == key and sync.state is _LIVE:
                events.extend(self._reset(symbol, sync, "disconnect", None, None, request=False))
        return events

    # ------------------------------------------------------------------ helpers

    def _sync(self, symbol: str) -> _SymbolSync:
        sync = self._syncs.get(symbol)
        if sync is None:
            sync = self._syncs[symbol] = _SymbolSync()
        return sync

    def _reset(
        self,
        symbol: str,
        sync: _SymbolSync,
        reason: str,
        expected: int | None,
        got: int | None,
        *,
        request: bool = True,
    ) -> list[Event]:
        sync.state = SyncState.RESYNCING
        sync.buffer.clear()
        sync.stale.count = 0
        events: list[Event] = [BookReset(self.exchange, symbol, reason, expected, got)]
        if request:
            events.append(self._resync_request(symbol, sync, reason))
        return events

    def _resync_request(self, symbol: str, sync: _SymbolSync, reason: str) -> ResyncRequest:
        conn = sync.conn[1] if sync.conn is not None else 0
        return ResyncRequest(self.exchange, symbol, conn, reason)

    def _inexact(self, rec: RawRecord, symbol: str, numbers: list[str]) -> Problem:
        detail = inexact_detail(rec.stream, numbers)
        return Problem("inexact_number", self.exchange, symbol, detail)

    def _malformed(self, rec: RawRecord, exc: Exception, symbol: str | None = None) -> Problem:
        return Problem("malformed", self.exchange, symbol or rec.symbol, f"{rec.stream}: {exc}")


#: Handlers by full stream name (``btcusdt@depth@100ms``), filled from ``_WS_HANDLERS`` as
#: streams are met: one dict lookup per frame instead of a split and a lookup. Bounded, so
#: a log with endless distinct stream names cannot grow it without limit.
_WS_ROUTES: dict[str, Callable[[BinanceDecoder, RawRecord], list[Event]]] = {}
_WS_ROUTES_MAX = 100_000

_WS_HANDLERS = {
    "depth@100ms": BinanceDecoder._on_depth,
    "depth@1000ms": BinanceDecoder._on_depth,
    "depth": BinanceDecoder._on_depth,
    "trade": BinanceDecoder._on_trade,
    "bookTicker": BinanceDecoder._on_book_ticker,
}


def _is_book_ticker(payload: bytes) -> bool:
    """A bare bookTicker names no event type: it is the object of exactly its keys."""
    try:
        _ticker_bare.decode(payload)
    except DECODE_ERRORS:
        return False
    return True


# ----------------------------------------------------------------------------- the venues

#: Quote assets recognised at the end of a Binance symbol, longest first so that
#: "FDUSD" wins over "USD".
QUOTE_ASSETS: tuple[str, ...] = (
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "USD", "BTC", "ETH", "BNB", "EUR",
    "GBP", "TRY", "BRL", "JPY", "AUD", "DAI",
)  # fmt: skip

_STREAM_PREFIX = b'{"stream":"'
_STREAM_NAME_MAX = 128


def assets_of(symbol: str) -> tuple[str, str] | None:
    """``BTCUSDT`` -> ("BTC", "USDT"): the quote is the longest known suffix."""
    quote = next((q for q in QUOTE_ASSETS if symbol.endswith(q)), "")
    base = symbol[: -len(quote)] if quote else ""
    return (base, quote) if base else None


def label_frame(payload: bytes) -> tuple[str, str | None]:
    """Stream name and symbol of a combined-stream frame (``{"stream":"btcusdt@trade",…``
    -> ``("btcusdt@trade", "BTCUSDT")``), read from its first bytes: Binance always writes
    ``stream`` first. ``("", None)`` for a frame that does not start that way."""
    start = len(_STREAM_PREFIX)
    if payload[:start] != _STREAM_PREFIX:
        return "", None
    end = payload.find(b'"', start, start + _STREAM_NAME_MAX)
    if end < 0:
        return "", None
    name = payload[start:end].decode("utf-8", "replace")
    return name, name.partition("@")[0].upper() or None


def _decoder(exchange: str) -> Callable[[SyncLimits | None], BinanceDecoder]:
    def make(limits: SyncLimits | None) -> BinanceDecoder:
        if limits is None:
            return BinanceDecoder(exchange)
        return BinanceDecoder(
            exchange,
            max_update_span=limits.max_update_span,
            stale_stream_updates=limits.stale_stream_updates,
            stale_stream_ns=limits.stale_stream_ns,
        )

    return make


def _spec(name: str, symbols: tuple[str, ...], weight_per_minute: float) -> VenueSpec:
    return VenueSpec(
        name=name,
        ws_url=ENDPOINTS[name].ws,
        rest_url=ENDPOINTS[name].rest,
        default_symbols=symbols,
        snapshots="rest",
        sequence_scope="symbol",
        assets_of=assets_of,
        decoder=_decoder(name),
        snapshot_symbols=snapshot_symbols,
        label=label_frame,
        feed="xle.recorder.binance_feed:build_feed",
        rest_weight_per_minute=weight_per_minute,
    )


# REST weight budgets are half of each venue's per-IP limit (6000 and 1200 a minute).
BINANCE = register(_spec("binance", ("BTCUSDT", "ETHUSDT"), 3000.0))
BINANCEUS = register(_spec("binanceus", ("BTCUSD", "ETHUSD"), 600.0))
