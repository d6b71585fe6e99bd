"""Coinbase Advanced Trade: endpoint, subscribe messages, decoding and the sequence rule.

Everything xle knows about the Coinbase protocol lives here. Market data needs no
authentication. One channel per subscribe message, sent within 5 s of connecting:
``level2`` (``l2_data`` snapshot then updates, absolute quantities, ``"0"`` removes),
``market_trades`` and ``heartbeats`` (keeps quiet connections open). A recording's
``ticker`` frames become ``TopOfBook`` events: the venue's best bid and ask, which the
engine checks its rebuilt book against.

Times: book updates carry the frame's ``timestamp`` (the venue's send time, to the ns,
like Binance's ``E``) as ``exch_ns``; trades their ``time``; tickers the frame's
``timestamp``. The per-level ``event_time`` (µs) is left unread: the frame time is one
number per message and is what a feed's latency is measured against.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from xle.exchanges._common import (
    DECODE_ERRORS,
    Event,
    Number,
    SyncState,
    fast_coinbase_l2,
    inexact_detail,
    inexact_numbers,
    rfc3339_ns,
)
from xle.exchanges.registry import VenueSpec, register
from xle.records import (
    BookReset,
    BookUpdate,
    Level,
    Problem,
    RawRecord,
    ResyncRequest,
    TopOfBook,
    Trade,
)

__all__ = [
    "CHANNELS",
    "COINBASE",
    "MAX_FRAME_BYTES",
    "WS_URL",
    "CoinbaseDecoder",
    "assets_of",
    "label_frame",
    "snapshot_symbols",
    "subscribe_message",
    "unsubscribe_message",
]

#: ``SyncState.LIVE``, looked up once: an enum member lookup is not free on CPython and
#: the state is checked on every frame (benchmarks/README.md).
_LIVE = SyncState.LIVE

WS_URL = "wss://advanced-trade-ws.coinbase.com"
#: Channels the recorder subscribes, one subscribe message each.
CHANNELS: tuple[str, ...] = ("level2", "market_trades", "heartbeats")
#: A BTC-USD level2 snapshot is several MB: the WebSocket client must accept this much.
MAX_FRAME_BYTES = 64 * 1024 * 1024


def subscribe_message(channel: str, product_ids: list[str]) -> bytes:
    body: dict[str, object] = {"type": "subscribe", "channel": channel}
    if channel != "heartbeats":
        body["product_ids"] = product_ids
    return msgspec.json.encode(body)


def unsubscribe_message(channel: str, product_ids: list[str]) -> bytes:
    body: dict[str, object] = {"type": "unsubscribe", "channel": channel}
    if channel != "heartbeats":
        body["product_ids"] = product_ids
    return msgspec.json.encode(body)


# ----------------------------------------------------------------------------- wire types


class L2Level(msgspec.Struct, gc=False):
    side: str  # "bid" | "offer"
    price_level: Number
    new_quantity: Number  # absolute; "0" removes the level


class L2Event(msgspec.Struct, gc=False):
    type: str  # "snapshot" | "update"
    product_id: str
    updates: list[L2Level]


class L2Data(msgspec.Struct, tag="l2_data", tag_field="channel", gc=False):
    """``{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z",
    "sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[
    {"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73",
    "new_quantity":"0.06317902"}, ...]}]}``"""

    sequence_num: int
    events: list[L2Event]
    timestamp: str | None = None


class MarketTrade(msgspec.Struct, gc=False):
    trade_id: str
    product_id: str
    price: Number
    size: Number
    side: str  # "BUY" | "SELL"
    time: str | None = None


class TradeEvent(msgspec.Struct, gc=False):
    trades: list[MarketTrade]


class MarketTrades(msgspec.Struct, tag="market_trades", tag_field="channel", gc=False):
    """``{"channel":"market_trades","sequence_num":0,"events":[{"type":"update","trades":[
    {"trade_id":"000000000","product_id":"ETH-USD","price":"1260.01","size":"0.3",
    "side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}``"""

    sequence_num: int
    events: list[TradeEvent]


class TickerItem(msgspec.Struct, gc=False):
    """Only the best levels are read; empty or absent ones are None (an empty side)."""

    product_id: str
    best_bid: str = ""
    best_ask: str = ""
    best_bid_quantity: str = ""
    best_ask_quantity: str = ""


class TickerEvent(msgspec.Struct, gc=False):
    tickers: list[TickerItem] = []


class Tickers(msgspec.Struct, tag="ticker", tag_field="channel", gc=False):
    """``{"channel":"ticker","timestamp":"…","sequence_num":6,"events":[{"type":"snapshot",
    "tickers":[{"type":"ticker","product_id":"BTC-USD","price":"65086.18",…,
    "best_bid":"65083.66","best_ask":"65083.67","best_bid_quantity":"0.20371215",
    "best_ask_quantity":"0.24290402"}]}]}``"""

    sequence_num: int
    events: list[TickerEvent]
    timestamp: str | None = None


class Heartbeats(msgspec.Struct, tag="heartbeats", tag_field="channel", gc=False):
    """``{"channel":"heartbeats","sequence_num":0,"events":[{"current_time":"…",
    "heartbeat_counter":3049}]}``"""

    sequence_num: int


class Subscriptions(msgspec.Struct, tag="subscriptions", tag_field="channel", gc=False):
    """``{"channel":"subscriptions","sequence_num":1,"events":[{"subscriptions":{…}}]}``"""

    sequence_num: int


class _Header(msgspec.Struct, gc=False):
    """What can still be read of a frame the typed decoder rejected."""

    channel: str | None = None
    type: str | None = None
    sequence_num: int | None = None
    message: str | None = None


#: The prices and quantities of ``l2_data`` and ``market_trades`` frames.
_NUMBERS = re.compile(rb'"(?:price_level|new_quantity|price|size)"\s*:\s*"([^"]*)"')

_Message = L2Data | MarketTrades | Tickers | Heartbeats | Subscriptions
_decoder = msgspec.json.Decoder(_Message, strict=False)
_header = msgspec.json.Decoder(_Header)


def _price(text: str) -> float | None:
    """A ticker's decimal string; None when empty or not a plain non-negative number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value < 1e300 else None


def snapshot_symbols(rec: RawRecord) -> tuple[str, ...]:
    """Products whose full book this record carries (an ``l2_data`` snapshot event)."""
    if rec.kind != "ws" or b'"snapshot"' not in rec.payload:
        return ()
    try:
        msg = _decoder.decode(rec.payload)
    except DECODE_ERRORS:
        return ()
    if not isinstance(msg, L2Data):
        return ()
    return tuple(e.product_id for e in msg.events if e.type == "snapshot")


# ----------------------------------------------------------------------------- sync


@dataclass(slots=True)
class _ProductSync:
    state: SyncState = SyncState.AWAITING_SNAPSHOT
    conn: tuple[str, int] | None = None  # the connection whose snapshot the book is built on


class CoinbaseDecoder:
    """Turns Coinbase Advanced Trade records into book events under the sequence rule.

    The rule (https://docs.cdp.coinbase.com/advanced-trade/docs/ws-overview, "Sequence
    Numbers"): ``sequence_num`` counts every message of one connection, across channels.
    xle checks it per ``(run, conn)``; a new connection starts a new count. A jump (or a
    number going backwards) means lost messages: every book built on that connection is
    reset and a level2 resubscribe is requested, which makes Coinbase send a fresh
    snapshot. A book only takes updates from the connection its snapshot came from; an
    update from another connection resets it (``new_connection``) and asks for a fresh
    snapshot, so a book never says synced while its updates go elsewhere. (There is no
    per-book update id to go stale: a bogus ``sequence_num`` is one gap, then a resync.)
    """

    exchange = "coinbase"

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()
        self._last_seq: dict[tuple[str, int], int] = {}
        self._products: dict[str, _ProductSync] = {}

    # ------------------------------------------------------------------ public

    def feed(self, rec: RawRecord) -> list[Event]:
        if rec.kind == "ws":
            return self._on_frame(rec)
        if rec.kind == "event" and rec.stream == "disconnected":
            key = (rec.run, rec.conn)
            self._last_seq.pop(key, None)
            return self._reset_connection(key, "disconnect", None, None, request=False)
        return []

    def state(self, symbol: str) -> SyncState:
        sync = self._products.get(symbol)
        return sync.state if sync is not None else SyncState.AWAITING_SNAPSHOT

    def invalidate(self, symbol: str, reason: str) -> list[Event]:
        sync = self._products.setdefault(symbol, _ProductSync())
        return self._reset(symbol, sync, reason, None, None)

    # ------------------------------------------------------------------ handlers

    def _on_frame(self, rec: RawRecord) -> list[Event]:
        key = (rec.run, rec.conn)
        payload = rec.payload
        parsed = None
        if fast_coinbase_l2 is not None and type(payload) is bytes:
            try:
                parsed = fast_coinbase_l2(payload)
            except DECODE_ERRORS:  # e.g. a product id that is not UTF-8: msgspec words it
                parsed = None
            if parsed is not None:
                seq, l2_events, exch_ns = parsed
                last_seq = self._last_seq
                last = last_seq.get(key)
                if last is not None and seq == last + 1 and len(l2_events) == 1:
                    # The common frame: contiguous, one event. ``_check_sequence`` and
                    # ``_on_l2_levels`` inlined for a synced product's update.
                    last_seq[key] = seq
                    kind, product, bids, asks = l2_events[0]
                    sync = self._products.get(product)
                    if (
                        kind != "snapshot"
                        and sync is not None
                        and sync.state is _LIVE
                        and sync.conn == key
                    ):
                        return [BookUpdate(self.exchange, product, False, bids, asks, 0, exch_ns)]
                    return self._on_l2_levels(key, kind, product, bids, asks, exch_ns, sync)
                events = self._check_sequence(key, seq)
                for kind, product, bids, asks in l2_events:
                    events.extend(self._on_l2_levels(key, kind, product, bids, asks, exch_ns))
                return events
        try:
            msg = _decoder.decode(rec.payload)
        except DECODE_ERRORS as exc:
            return self._on_undecodable(rec, key, exc)
        events = self._check_sequence(key, msg.sequence_num)
        if isinstance(msg, L2Data | MarketTrades):
            inexact = inexact_numbers(rec.payload, _NUMBERS)
            if inexact:
                events.extend(self._on_inexact(rec, msg, inexact))
                return events
        if isinstance(msg, L2Data):
            exch_ns = rfc3339_ns(msg.timestamp)
            for l2 in msg.events:
                events.extend(self._on_l2_event(key, l2, exch_ns))
        elif isinstance(msg, MarketTrades):
            for trade_event in msg.events:
                for t in trade_event.trades:
                    side = t.side.lower()
                    events.append(
                        Trade(
                            self.exchange,
                            t.product_id,
                            t.price,
                            t.size,
                            side,
                            t.trade_id,
                            rfc3339_ns(t.time),
                        )
                    )
        elif isinstance(msg, Tickers):
            exch_ns = rfc3339_ns(msg.timestamp)
            for ticker_event in msg.events:
                for t in ticker_event.tickers:
                    events.append(
                        TopOfBook(
                            self.exchange,
                            t.product_id,
                            _price(t.best_bid),
                            _price(t.best_bid_quantity),
                            _price(t.best_ask),
                            _price(t.best_ask_quantity),
                            None,
                            exch_ns,
                        )
                    )
        else:
            self.ignored[type(msg).__name__.lower()] += 1
        return events

    def _on_l2_event(self, key: tuple[str, int], l2: L2Event, exch_ns: int | None) -> list[Event]:
        product = l2.product_id
        sync = self._products.get(product)
        if sync is None:
            sync = self._products[product] = _ProductSync()
        bids = [(u.price_level, u.new_quantity) for u in l2.updates if u.side == "bid"]
        asks = [(u.price_level, u.new_quantity) for u in l2.updates if u.side == "offer"]
        if len(bids) + len(asks) != len(l2.updates):
            sides = sorted({u.side for u in l2.updates} - {"bid", "offer"})
            detail = f"l2_data {product}: unknown side {sides}"
            problem = Problem("malformed", self.exchange, product, detail)
            return [problem, *self._reset(product, sync, "malformed", None, None)]
        return self._on_l2_levels(key, l2.type, product, bids, asks, exch_ns, sync)

    def _on_l2_levels(
        self,
        key: tuple[str, int],
        kind: str,
        product: str,
        bids: Sequence[Level],
        asks: Sequence[Level],
        exch_ns: int | None,
        sync: _ProductSync | None = None,
    ) -> list[Event]:
        """One ``l2_data`` event, its updates already split into bids and offers."""
        if sync is None:
            sync = self._products.get(product)
            if sync is None:
                sync = self._products[product] = _ProductSync()
        if kind == "snapshot":
            was_resyncing = sync.state is SyncState.RESYNCING
            sync.state = SyncState.LIVE
            sync.conn = key
            events: list[Event] = [BookUpdate(self.exchange, product, True, bids, asks, 0, exch_ns)]
            if was_resyncing:
                events.append(Problem("resync", self.exchange, product, "fresh snapshot"))
            return events
        if sync.state is _LIVE:
            if sync.conn == key:
                return [BookUpdate(self.exchange, product, False, bids, asks, 0, exch_ns)]
            # Another connection's update: this book no longer follows the product, so
            # it would stay "synced" while frozen. Start over on a fresh snapshot.
            return self._reset(product, sync, "new_connection", None, None)
        self.ignored["l2_update_unsynced"] += 1
        return []

    def _check_sequence(self, key: tuple[str, int], seq: int) -> list[Event]:
        last = self._last_seq.get(key)
        self._last_seq[key] = seq
        if last is None or seq == last + 1:
            return []
        return self._reset_connection(key, "gap", last + 1, seq)

    def _on_undecodable(self, rec: RawRecord, key: tuple[str, int], exc: Exception) -> list[Event]:
        try:
            header = _header.decode(rec.payload)
        except DECODE_ERRORS:
            header = None
        if header is not None and header.type == "error":
            detail = f"exchange error: {header.message}"
            return [Problem("exchange_error", self.exchange, rec.symbol, detail)]
        if (
            header is not None
            and header.channel is not None
            and header.channel
            not in (
                "l2_data",
                "market_trades",
                "ticker",
                "heartbeats",
                "subscriptions",
            )
        ):
            self.ignored[header.channel] += 1
            return self._check_sequence(key, header.sequence_num) if header.sequence_num else []
        events: list[Event] = [
            Problem("malformed", self.exchange, rec.symbol, f"{rec.stream}: {exc}")
        ]
        if header is not None and header.sequence_num is not None:
            # The frame used up a sequence number but its content is lost: the books of
            # this connection may have missed an update, exactly as after a gap.
            events.extend(self._check_sequence(key, header.sequence_num))
            if header.channel in ("l2_data", None):
                events.extend(self._reset_connection(key, "malformed", None, None))
        return events

    def _on_inexact(
        self, rec: RawRecord, msg: L2Data | MarketTrades, numbers: list[str]
    ) -> list[Event]:
        """A price or quantity a double cannot hold: nothing of the frame is applied, and
        the books it would have changed are reset and resubscribed."""
        detail = inexact_detail(rec.stream, numbers)
        events: list[Event] = [Problem("inexact_number", self.exchange, rec.symbol, detail)]
        if isinstance(msg, L2Data):
            for product in dict.fromkeys(l2.product_id for l2 in msg.events):
                sync = self._products.setdefault(product, _ProductSync())
                events.extend(self._reset(product, sync, "inexact_number", None, None))
        return events

    # ------------------------------------------------------------------ helpers

    def _reset_connection(
        self,
        key: tuple[str, int],
        reason: str,
        expected: int | None,
        got: int | None,
        *,
        request: bool = True,
    ) -> list[Event]:
        events: list[Event] = []
        for product, sync in self._products.items():
            if sync.conn == key and sync.state is _LIVE:
                events.extend(self._reset(product, sync, reason, expected, got, request=request))
        return events

    def _reset(
        self,
        product: str,
        sync: _ProductSync,
        reason: str,
        expected: int | None,
        got: int | None,
        *,
        request: bool = True,
    ) -> list[Event]:
        sync.state = SyncState.RESYNCING
        events: list[Event] = [BookReset(self.exchange, product, reason, expected, got)]
        if request:
            conn = sync.conn[1] if sync.conn is not None else 0
            events.append(ResyncRequest(self.exchange, product, conn, reason))
        return events


# ----------------------------------------------------------------------------- the venue

_CHANNEL_PREFIX = b'{"channel":"'
_CHANNEL_MAX = 64
_PRODUCT_KEY = b'"product_id":"'
#: How far into a frame the product id is looked for (it sits in the first event).
PRODUCT_WINDOW = 512


def assets_of(symbol: str) -> tuple[str, str] | None:
    """``BTC-USD`` -> ("BTC", "USD")."""
    base, sep, quote = symbol.partition("-")
    return (base, quote) if sep and base and quote else None


def label_frame(payload: bytes) -> tuple[str, str | None]:
    """Channel and product of a frame (``{"channel":"l2_data",…"product_id":"BTC-USD"``
    -> ``("l2_data", "BTC-USD")``), read from its first bytes: Coinbase writes ``channel``
    first and the product in the first event. ``""`` / None for what is not there."""
    channel = ""
    start = len(_CHANNEL_PREFIX)
    if payload[:start] == _CHANNEL_PREFIX:
        end = payload.find(b'"', start, start + _CHANNEL_MAX)
        if end > 0:
            channel = payload[start:end].decode("utf-8", "replace")
    product = None
    at = payload.find(_PRODUCT_KEY, 0, PRODUCT_WINDOW)
    if at >= 0:
        start = at + len(_PRODUCT_KEY)
        end = payload.find(b'"', start, start + 64)
        if end > 0:
            product = payload[start:end].decode("utf-8", "replace")
    return channel, product


COINBASE = register(
    VenueSpec(
        name="coinbase",
        ws_url=WS_URL,
        rest_url=None,
        default_symbols=("BTC-USD", "ETH-USD"),
        snapshots="stream",
        sequence_scope="connection",
        assets_of=assets_of,
        decoder=lambda _limits: CoinbaseDecoder(),
        snapshot_symbols=snapshot_symbols,
        label=label_frame,
        feed="xle.recorder.coinbase_feed:build_feed",
    )
)
