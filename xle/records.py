"""The vocabulary of xle: the raw record everything starts from, and what the engine says.

Three layers, each a set of small immutable structs:

* ``RawRecord`` -- one row of the raw event log (docs/design.md, "The raw event log"):
  bytes exactly as received, plus where and when they were received. Live and replay
  both produce these.
* Book events -- what an exchange decoder makes of a record once its sync rules have
  spoken: ``BookUpdate`` (apply these absolute levels; ``is_snapshot`` replaces the
  book), ``BookReset`` (this one book can no longer be trusted), ``Trade``,
  ``TopOfBook`` (the venue's own best levels, checked against the book), ``Problem``
  (something the engine should report) and ``ResyncRequest`` (the live recorder should
  fetch a fresh snapshot or resubscribe).
* Engine outputs -- ``Quote``, ``ArbitrageEpisode``, ``IntegrityEvent`` and
  ``ResyncRequest``; each carries the ``recv_ns``/``seq`` of the record that caused it.

msgspec Structs rather than dataclasses because book events are built once per message
on the hot path and msgspec constructs them about twice as fast.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = [
    "ArbitrageEpisode",
    "BookReset",
    "BookUpdate",
    "IntegrityEvent",
    "IntegrityKind",
    "Level",
    "Problem",
    "Quote",
    "RawRecord",
    "RecordKind",
    "ResyncRequest",
    "TopOfBook",
    "Trade",
    "VwapResult",
]

Level = tuple[float, float]
"""(price, absolute quantity) as parsed from the exchange's decimal strings."""


class RecordKind(StrEnum):
    WS = "ws"  # a received WebSocket frame
    REST = "rest"  # a REST response, e.g. a depth snapshot
    EVENT = "event"  # recorder control event; payload is a small JSON document


class RawRecord(msgspec.Struct, frozen=True, gc=False):
    """One row of the raw event log; ``exchange`` comes from the partition path."""

    recv_ns: int  # UTC ns at receipt (monotonic within a run)
    exchange: str  # a registered venue (binance | binanceus | coinbase | ...)
    run: str  # recorder run id
    conn: int  # connection number inside the run (increments on reconnect)
    seq: int  # record number inside the run, strictly increasing
    kind: str  # ws | rest | event  (see RecordKind)
    stream: str  # stream name, channel, REST path+query, or control event name
    symbol: str | None  # exchange-native symbol when the record is about one
    payload: bytes  # exact bytes received


# --------------------------------------------------------------------------- book events


class BookUpdate(msgspec.Struct, frozen=True, gc=False):
    """Absolute level quantities to apply (quantity 0 removes the level)."""

    exchange: str
    symbol: str
    is_snapshot: bool  # True: replace the whole book with these levels
    bids: list[Level]
    asks: list[Level]
    update_id: int  # Binance final update id / Coinbase sequence_num
    # The venue's own time of the event, epoch ns (Binance depth ``E``, Coinbase frame
    # ``timestamp``); None when the venue gives none (REST snapshots).
    exch_ns: int | None = None


class BookReset(msgspec.Struct, frozen=True, gc=False):
    """One book is discarded and unsynced until its next snapshot (never a global wipe)."""

    exchange: str
    symbol: str
    # gap | crossed | disconnect | stale_snapshot | malformed | new_connection | stale_stream
    reason: str
    expected: int | None = None  # e.g. the update id the book needed next
    got: int | None = None  # and the one that arrived


class Trade(msgspec.Struct, frozen=True, gc=False):
    exchange: str
    symbol: str
    price: float
    qty: float
    side: str  # taker side: buy | sell
    trade_id: str
    exch_ns: int | None = None  # venue's trade time, epoch ns (Binance ``T``, Coinbase ``time``)


class TopOfBook(msgspec.Struct, frozen=True, gc=False):
    """The venue's own best bid and ask (Binance ``bookTicker``, Coinbase ``ticker``).

    Not applied to any book: the engine compares it with the book it rebuilt, a check
    that only the venue can provide. ``update_id`` is the book update id the venue says
    it reflects (Binance ``u``); None when the venue names none (Coinbase), and the
    book is then compared as it stands when the ticker arrives.
    """

    exchange: str
    symbol: str
    bid: float | None
    bid_size: float | None
    ask: float | None
    ask_size: float | None
    update_id: int | None = None
    exch_ns: int | None = None


class Problem(msgspec.Struct, frozen=True, gc=False):
    """Something a decoder wants reported that does not by itself reset a book."""

    kind: str  # see IntegrityKind
    exchange: str
    symbol: str | None
    detail: str


class ResyncRequest(msgspec.Struct, frozen=True, gc=False):
    """Ask the live recorder for a fresh snapshot (Binance) or a resubscribe (Coinbase)."""

    exchange: str
    symbol: str
    conn: int
    reason: str
    recv_ns: int = 0
    seq: int = 0


# --------------------------------------------------------------------------- outputs


class IntegrityKind(StrEnum):
    GAP = "gap"  # continuity broken; book reset, resync requested
    RESYNC = "resync"  # book synced again after a reset
    CROSSED = "crossed"  # best bid >= best ask after an update; book reset
    STALE = "stale"  # no update for the configured time (record time)
    STALE_SNAPSHOT = "stale_snapshot"  # snapshot older than the buffered events; refetch
    MALFORMED = "malformed"  # record could not be decoded; nothing applied
    DISCONNECT = "disconnect"  # recorder lost a connection
    RECORDER_ERROR = "recorder_error"  # recorder reported an error event
    EXCHANGE_ERROR = "exchange_error"  # the venue sent an error message
    CORRUPT_FILE = "corrupt_file"  # a log file could not be read (replay goes on)
    STALE_STREAM = "stale_stream"  # synced book kept ignoring updates as stale; resynced
    NEW_CONNECTION = "new_connection"  # a live book's frames came from a new connection
    INEXACT_NUMBER = "inexact_number"  # a price/qty a double cannot hold; not applied
    # the venue's own top of book (bookTicker / ticker) kept disagreeing with the book
    TOP_OF_BOOK_MISMATCH = "top_of_book_mismatch"


class IntegrityEvent(msgspec.Struct, frozen=True):
    recv_ns: int
    seq: int
    run: str
    conn: int
    exchange: str
    symbol: str | None
    kind: str  # IntegrityKind value
    detail: str
    stream: str = ""


class VwapResult(msgspec.Struct, frozen=True, gc=False):
    """Walk-the-book price for ``size`` on ``side`` (buy walks asks, sell walks bids)."""

    side: str  # buy | sell
    size: float
    price: float | None  # VWAP of what was filled; None if the side is empty
    filled: float  # == size unless the book holds less
    slippage_bps: float | None  # VWAP vs best price on the walked side, positive = cost
    insufficient: bool  # True when the book held less than ``size``


class Quote(msgspec.Struct, frozen=True, gc=False):
    """Not tracked by the garbage collector (``gc=False``): a quote holds scalars and its
    list of ``VwapResult``, so it is never part of a cycle, and a replay makes one per
    book per quote interval (100,000 on the generated million-message log, whose
    collections they doubled: 3 % of its time)."""

    recv_ns: int
    seq: int
    exchange: str
    symbol: str
    market: str | None  # canonical market, e.g. BTC/USD
    bid: float | None
    bid_size: float | None
    ask: float | None
    ask_size: float | None
    mid: float | None
    spread: float | None
    spread_bps: float | None
    imbalance: float | None  # (B - A) / (B + A) over the top N levels
    ratio: float | None  # B / A over the top N levels
    vwap: list[VwapResult]
    exch_ns: int | None = None  # venue's time of the last update applied (epoch ns)
    feed_latency_ns: int | None = None  # recv_ns - exch_ns of that update


class ArbitrageEpisode(msgspec.Struct, frozen=True):
    """A net-of-fees cross-venue opportunity: buy on ``buy_venue``, sell on ``sell_venue``.

    Emitted when it opens (``end_ns`` is None) and again when it closes.
    """

    recv_ns: int
    seq: int
    market: str
    buy_venue: str  # exchange:symbol whose asks are lifted
    sell_venue: str  # exchange:symbol whose bids are hit
    status: str  # open | closed
    start_ns: int
    end_ns: int | None
    duration_ns: int | None
    edge_bps: float  # net edge at this moment (open: at start; closed: last value)
    peak_edge_bps: float
    executable_size: float  # size of the most profitable walk seen during the episode
    profit: float  # profit of that size after taker fees, in quote currency
    close_reason: str | None = None  # edge | book_unsynced | end_of_data
