"""A small third venue, "fakevenue": everything xle needs to record, replay and query it.

This module and the ``register`` call at its end are the whole venue: no other file of
xle names it. Its protocol, served by the loopback server of ``test_third_venue``:

* the client connects to ``ws_url`` and sends ``{"op":"subscribe","symbols":[...]}``;
* the server answers with one ``book`` frame of ``"type":"snapshot"`` per symbol, then
  ``book`` updates (absolute quantities, ``"0"`` removes a level) and ``trade`` frames;
* every frame carries ``seq``, counting the frames of one connection across symbols (as
  Coinbase does): a jump resets every book of the connection and asks for a resubscribe,
  which brings fresh snapshots. No REST.

``{"ch":"book","sym":"FAKE-USD","seq":3,"type":"update","bids":[["100.5","2"]],"asks":[]}``
``{"ch":"trade","sym":"FAKE-USD","seq":4,"id":"17","px":"100.6","qty":"0.5","side":"buy"}``
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from xle.exchanges import SyncState, VenueSpec, register
from xle.exchanges._common import DECODE_ERRORS, Event, Number
from xle.recorder.feedbase import ConnectionLoop, FeedOptions, Sink, VenueStats, leading_string
from xle.records import BookReset, BookUpdate, Problem, RawRecord, ResyncRequest, Trade

NAME = "fakevenue"

# ----------------------------------------------------------------------------- wire


class BookFrame(msgspec.Struct, tag="book", tag_field="ch"):
    sym: str
    seq: int
    type: str  # snapshot | update
    bids: list[tuple[Number, Number]]
    asks: list[tuple[Number, Number]]


class TradeFrame(msgspec.Struct, tag="trade", tag_field="ch"):
    sym: str
    seq: int
    id: str
    px: Number
    qty: Number
    side: str  # taker side: buy | sell


_frames = msgspec.json.Decoder(BookFrame | TradeFrame, strict=False)


def subscribe_message(symbols: list[str]) -> str:
    return msgspec.json.encode({"op": "subscribe", "symbols": symbols}).decode()


def assets_of(symbol: str) -> tuple[str, str] | None:
    base, sep, quote = symbol.partition("-")
    return (base, quote) if sep and base and quote else None


def label_frame(payload: bytes) -> tuple[str, str | None]:
    """``{"ch":"book","sym":"FAKE-USD",…`` -> ``("book", "FAKE-USD")``."""
    channel = leading_string(payload, b'{"ch":"', 32)
    if not channel:
        return "", None
    symbol = leading_string(payload, f'{{"ch":"{channel}","sym":"'.encode(), 32)
    return channel, symbol or None


def snapshot_symbols(rec: RawRecord) -> tuple[str, ...]:
    if rec.kind != "ws" or b'"snapshot"' not in rec.payload:
        return ()
    try:
        frame = _frames.decode(rec.payload)
    except DECODE_ERRORS:
        return ()
    return (frame.sym,) if isinstance(frame, BookFrame) and frame.type == "snapshot" else ()


# ----------------------------------------------------------------------------- decoder


@dataclass
class _Book:
    state: SyncState = SyncState.AWAITING_SNAPSHOT
    conn: tuple[str, int] | None = None


class FakeDecoder:
    """Books per symbol under the per-connection sequence rule of the module docstring."""

    exchange = NAME

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()
        self._last_seq: dict[tuple[str, int], int] = {}
        self._books: dict[str, _Book] = {}

    def feed(self, rec: RawRecord) -> list[Event]:
        key = (rec.run, rec.conn)
        if rec.kind == "event" and rec.stream == "disconnected":
            self._last_seq.pop(key, None)
            return self._reset_connection(key, "disconnect", request=False)
        if rec.kind != "ws":
            return []
        try:
            frame = _frames.decode(rec.payload)
        except DECODE_ERRORS as exc:
            self.ignored[rec.stream or "unknown"] += 1
            return [Problem("malformed", NAME, rec.symbol, f"{rec.stream}: {exc}")]
        events: list[Event] = []
        last = self._last_seq.get(key)
        self._last_seq[key] = frame.seq
        if last is not None and frame.seq != last + 1:
            events.extend(self._reset_connection(key, "gap", last + 1, frame.seq))
        if isinstance(frame, TradeFrame):
            events.append(Trade(NAME, frame.sym, frame.px, frame.qty, frame.side, frame.id))
            return events
        book = self._books.setdefault(frame.sym, _Book())
        if frame.type == "snapshot":
            was_resyncing = book.state is SyncState.RESYNCING
            book.state, book.conn = SyncState.LIVE, key
            events.append(BookUpdate(NAME, frame.sym, True, frame.bids, frame.asks, frame.seq))
            if was_resyncing:
                events.append(Problem("resync", NAME, frame.sym, f"synced at {frame.seq}"))
        elif book.state is SyncState.LIVE and book.conn == key:
            events.append(BookUpdate(NAME, frame.sym, False, frame.bids, frame.asks, frame.seq))
        return events

    def state(self, symbol: str) -> SyncState:
        book = self._books.get(symbol)
        return book.state if book is not None else SyncState.AWAITING_SNAPSHOT

    def invalidate(self, symbol: str, reason: str) -> list[Event]:
        return self._reset(symbol, self._books.setdefault(symbol, _Book()), reason)

    def _reset_connection(
        self,
        key: tuple[str, int],
        reason: str,
        expected: int | None = None,
        got: int | None = None,
        *,
        request: bool = True,
    ) -> list[Event]:
        events: list[Event] = []
        for symbol, book in self._books.items():
            if book.conn == key and book.state is SyncState.LIVE:
                events.extend(self._reset(symbol, book, reason, expected, got, request=request))
        return events

    def _reset(
        self,
        symbol: str,
        book: _Book,
        reason: str,
        expected: int | None = None,
        got: int | None = None,
        *,
        request: bool = True,
    ) -> list[Event]:
        book.state = SyncState.RESYNCING
        events: list[Event] = [BookReset(NAME, symbol, reason, expected, got)]
        if request:
            conn = book.conn[1] if book.conn is not None else 0
            events.append(ResyncRequest(NAME, symbol, conn, reason))
        return events


# ----------------------------------------------------------------------------- feed


@dataclass(eq=False)
class _Slot:
    symbols: list[str]
    conn: int = 0
    ws: ClientConnection | None = None
    opened: float = 0.0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class FakeFeed(ConnectionLoop):
    """One connection carrying every symbol; a resync is a resubscribe."""

    exchange = NAME

    def __init__(
        self, symbols: list[str], ws_url: str, sink: Sink, stats: VenueStats, options: FeedOptions
    ) -> None:
        self.ws_url = ws_url
        self.options = options
        self._sink = sink
        self._stats = stats
        self._slot = _Slot(list(dict.fromkeys(symbols)))
        self._slot_of = {symbol: self._slot for symbol in self._slot.symbols}

    @property
    def symbols(self) -> list[str]:
        return list(self._slot_of)

    async def run(self) -> None:
        await self._keep_connected_to(self._slot, self.ws_url, 1 << 20)

    def request_resync(
        self, symbol: str, reason: str, *, force: bool = False, **fields: Any
    ) -> bool:
        slot = self._slot_of.get(symbol)
        if slot is None or slot.ws is None:
            return False
        self._stats.resyncs += 1
        self._sink.event(NAME, slot.conn, "resync", symbol, reason=reason, **fields)
        self._spawn(slot, self._subscribe(slot, slot.ws, slot.conn, [symbol]))
        return True

    def _connected_fields(self, slot: _Slot) -> dict[str, object]:
        return {"symbols": slot.symbols}

    def _on_open(self, slot: _Slot, ws: ClientConnection, conn: int) -> None:
        self._spawn(slot, self._subscribe(slot, ws, conn, slot.symbols))

    async def _subscribe(
        self, slot: _Slot, ws: ClientConnection, conn: int, symbols: list[str]
    ) -> None:
        try:
            await ws.send(subscribe_message(symbols))
        except ConnectionClosed:
            return
        self._sink.event(NAME, conn, "subscribed", None, symbols=symbols)

    async def _receive(self, ws: ClientConnection, conn: int) -> None:
        while True:
            payload = await ws.recv(False)
            stream, symbol = label_frame(payload)
            self._stats.frames += 1
            self._stats.bytes += len(payload)
            if self._sink.frame(NAME, conn, stream, symbol, payload):
                await self._sink.drain()

    def _spawn(self, slot: _Slot, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        slot.tasks.add(task)
        task.add_done_callback(slot.tasks.discard)

    def _drop(self, slot: _Slot) -> None:
        slot.ws = None
        for task in list(slot.tasks):
            task.cancel()
        slot.tasks.clear()


def build_feed(
    spec: VenueSpec,
    symbols: list[str],
    *,
    ws_url: str,
    rest_url: str | None,
    sink: Sink,
    stats: VenueStats,
    config: Any,
) -> FakeFeed:
    return FakeFeed(symbols, ws_url, sink, stats, config.options)


SPEC = register(
    VenueSpec(
        name=NAME,
        ws_url="wss://fakevenue.invalid/ws",
        rest_url=None,
        default_symbols=(),  # recorded only when asked for
        snapshots="stream",
        sequence_scope="connection",
        assets_of=assets_of,
        decoder=lambda _limits: FakeDecoder(),
        snapshot_symbols=snapshot_symbols,
        label=label_frame,
        feed=f"{__name__}:build_feed",
    )
)
