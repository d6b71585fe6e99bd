"""The log's books and trades in the formats other tools load: tardis.dev CSV and hftbacktest.

``export(root, fmt, out, ...)`` replays the raw log through the engine and watches each
record's decoder events (``Engine.observer``): what a book update, a reset and a trade
did to xle's books is written as the other tool would have recorded it, one file per
exchange, symbol and UTC day (the day of the receive time).

Formats
-------
``tardis`` (gzip CSV) and ``tardis-parquet`` (the same columns in Parquet), after
tardis.dev's "downloadable CSV files" conventions, which nautilus_trader and hftbacktest
both import. Files are named as tardis.dev's download client names them,
``<exchange>_<data type>_<YYYY-MM-DD>_<SYMBOL>.csv.gz``, with tardis.dev's exchange ids
(``binance``, ``binance-us``, ``coinbase``):

* ``incremental_book_L2``: ``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,
  price,amount``; ``side`` is ``bid``/``ask``, ``amount`` the level's new absolute size
  (``0`` removes it). A run of ``is_snapshot=true`` rows replaces the whole book: one
  starts each file (the book as the engine holds it at the day's first update) and one
  follows each resync. While xle's book is unsynced (after a gap, a crossed book ...)
  the file holds no rows for it.
* ``book_snapshot_25``: ``exchange,symbol,timestamp,local_timestamp`` then
  ``asks[i].price,asks[i].amount,bids[i].price,bids[i].amount`` for i in 0..24; a row
  each time a record changed the top 25 levels of a synced book (empty fields when a
  side holds fewer levels).
* ``trades``: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``;
  ``side`` is the taker's, ``buy`` or ``sell``.

``timestamp`` is the venue's own event time when it stamps the message, else the receive
time; ``local_timestamp`` is the receive time; both in microseconds since the epoch
(UTC), truncated. Prices and sizes are the exchange's decimal numbers (trailing zeros
dropped), never float noise.

``hftbacktest``: one ``<exchange>_<SYMBOL>_<YYYY-MM-DD>.npz`` per book and day holding
``data``, an array of hftbacktest's ``event_dtype``, the same events in nanoseconds: a
``DEPTH_CLEAR_EVENT`` then ``DEPTH_SNAPSHOT_EVENT`` rows at the start of the day and
after each resync, a ``DEPTH_CLEAR_EVENT`` when xle's book is reset, ``DEPTH_EVENT``
rows for updates and ``TRADE_EVENT`` rows for trades. Rows are ordered as hftbacktest's
own converters order them: a row whose exchange time would go back is split into an
``EXCH_EVENT`` row (in exchange-time order) and a ``LOCAL_EVENT`` row (in receive order).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xle._native.book import format_decimal
from xle.config import EngineConfig, load_config
from xle.errors import DataError, UsageError
from xle.records import BookReset, BookUpdate, Level, RawRecord, Trade
from xle.store.paths import raw_dir
from xle.timeutil import format_ns

__all__ = [
    "FORMATS",
    "HFTBACKTEST_KINDS",
    "TARDIS_EXCHANGES",
    "TARDIS_KINDS",
    "ExportFile",
    "ExportSummary",
    "export",
    "hftbacktest_event_dtype",
]

FORMATS: tuple[str, ...] = ("tardis", "tardis-parquet", "hftbacktest")
TARDIS_KINDS: tuple[str, ...] = ("incremental_book_L2", "book_snapshot_25", "trades")
HFTBACKTEST_KINDS: tuple[str, ...] = ("depth", "trades")

#: xle's exchange names -> tardis.dev's exchange ids.
TARDIS_EXCHANGES = {"binance": "binance", "binanceus": "binance-us", "coinbase": "coinbase"}

#: Levels per side in ``book_snapshot_25``.
SNAPSHOT_DEPTH = 25

INCREMENTAL_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "is_snapshot",
    "side",
    "price",
    "amount",
)
TRADE_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "id",
    "side",
    "price",
    "amount",
)
SNAPSHOT_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    *(
        f"{side}[{i}].{what}"
        for i in range(SNAPSHOT_DEPTH)
        for side in ("asks", "bids")
        for what in ("price", "amount")
    ),
)

# hftbacktest's event flags, from py-hftbacktest/hftbacktest/types.py in
# github.com/nkaz001/hftbacktest (the same values as the Rust crate's ``types``).
DEPTH_EVENT = 1
TRADE_EVENT = 2
DEPTH_CLEAR_EVENT = 3
DEPTH_SNAPSHOT_EVENT = 4
EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28


def hftbacktest_event_dtype() -> Any:
    """hftbacktest's ``event_dtype`` (types.py there): 64-byte aligned records."""
    import numpy as np

    return np.dtype(
        [
            ("ev", "u8"),
            ("exch_ts", "i8"),
            ("local_ts", "i8"),
            ("px", "f8"),
            ("qty", "f8"),
            ("order_id", "u8"),
            ("ival", "i8"),
            ("fval", "f8"),
        ],
        align=True,
    )


# --------------------------------------------------------------------------- summary


@dataclass
class ExportFile:
    """One written file: ``events`` decoder events went in, ``rows`` rows came out."""

    path: Path
    kind: str
    exchange: str
    symbol: str
    date: str
    events: int = 0
    rows: int = 0


@dataclass
class ExportSummary:
    """What an export read and wrote; printed by ``xle export``."""

    fmt: str
    kinds: tuple[str, ...]
    out: Path
    records: int = 0  # records inside the window
    warmup_records: int = 0  # records before ``start`` fed to rebuild the books
    files: list[ExportFile] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(f.events for f in self.files)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


# --------------------------------------------------------------------------- sinks


def _us(ns: int) -> int:
    return ns // 1000


_NS_PER_DAY = 86_400 * 10**9


def _day(recv_ns: int) -> str:
    return format_ns(recv_ns)[:10]


class _Sink:
    """One output file, written to a hidden temporary name and renamed when complete."""

    def __init__(self, info: ExportFile) -> None:
        self.info = info
        self.tmp = info.path.with_name(f".{info.path.name}.partial")

    def close(self) -> None:
        os.replace(self.tmp, self.info.path)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


class _CsvSink(_Sink):
    def __init__(self, info: ExportFile, columns: Sequence[str]) -> None:
        super().__init__(info)
        raw = gzip.open(self.tmp, "wb", compresslevel=6)  # noqa: SIM115 (closed in close())
        self._stream = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        self._writer = csv.writer(self._stream, lineterminator="\n")
        self._writer.writerow(columns)

    def write(self, rows: list[Sequence[Any]]) -> None:
        self._writer.writerows(rows)
        self.info.rows += len(rows)

    def close(self) -> None:
        self._stream.close()
        super().close()

    def discard(self) -> None:
        self._stream.close()
        super().discard()


class _ParquetSink(_Sink):
    """The CSV's columns with types: times int64, ``is_snapshot`` bool, numbers float64
    (each holds the exchange's decimal exactly: xle refuses numbers a double cannot)."""

    BATCH = 65_536

    def __init__(self, info: ExportFile, columns: Sequence[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(info)
        fields = []
        for name in columns:
            if name in ("timestamp", "local_timestamp"):
                kind = pa.int64()
            elif name == "is_snapshot":
                kind = pa.bool_()
            elif name in ("exchange", "symbol", "side", "id"):
                kind = pa.string()
            else:
                kind = pa.float64()
            fields.append(pa.field(name, kind))
        self._schema = pa.schema(fields)
        self._writer = pq.ParquetWriter(self.tmp, self._schema, compression="zstd")
        self._rows: list[Sequence[Any]] = []

    def write(self, rows: list[Sequence[Any]]) -> None:
        self._rows.extend(rows)
        self.info.rows += len(rows)
        if len(self._rows) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._rows:
            return
        columns = list(zip(*self._rows, strict=True))
        arrays = [_typed(col, field.type) for col, field in zip(columns, self._schema, strict=True)]
        self._writer.write_table(pa.table(arrays, schema=self._schema))
        self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        super().close()

    def discard(self) -> None:
        self._writer.close()
        super().discard()


def _typed(values: Sequence[Any], kind: Any) -> list[Any]:
    """A CSV column's text as the Parquet column's type."""
    import pyarrow as pa

    if pa.types.is_floating(kind):
        return [None if v == "" else float(v) for v in values]
    if pa.types.is_boolean(kind):
        return [v == "true" for v in values]
    return list(values)


class _EventSink(_Sink):
    """hftbacktest events of one book and day, ordered and saved as ``.npz`` at close."""

    def __init__(self, info: ExportFile) -> None:
        super().__init__(info)
        self.tmp = info.path.with_name(f".{info.path.stem}.partial.npz")
        # a day of a busy book is millions of rows: packed arrays, not tuples
        self._columns = (array("Q"), array("q"), array("q"), array("d"), array("d"))

    def add(self, ev: int, exch_ns: int, local_ns: int, px: float, qty: float) -> None:
        evs, exchs, locals_, pxs, qtys = self._columns
        evs.append(ev)
        exchs.append(exch_ns)
        locals_.append(local_ns)
        pxs.append(px)
        qtys.append(qty)

    def close(self) -> None:
        import numpy as np

        data = _event_order(self._columns)
        self.info.rows = len(data)
        with open(self.tmp, "wb") as stream:
            np.savez_compressed(stream, data=data)
        super().close()


def _event_order(columns: Sequence[Sequence[Any]]) -> Any:
    """Rows given as columns ``(ev, exch_ts, local_ts, px, qty)`` in receive order, as
    hftbacktest reads them: each row once in exchange-time order with ``EXCH_EVENT`` and
    once in receive order with ``LOCAL_EVENT``; a row where both orders agree is one row
    with both flags, as hftbacktest's ``correct_event_order`` does it."""
    import numpy as np

    n = len(columns[0])
    base = np.zeros(n, hftbacktest_event_dtype())
    for name, values in zip(("ev", "exch_ts", "local_ts", "px", "qty"), columns, strict=True):
        if n:
            base[name] = np.asarray(values, dtype=base.dtype[name])
    by_exch = np.argsort(base["exch_ts"], kind="stable")
    by_local = np.argsort(base["local_ts"], kind="stable")
    if np.array_equal(by_exch, by_local):
        base["ev"] |= EXCH_EVENT | LOCAL_EVENT
        return base[by_local]
    picks: list[int] = []
    flags: list[int] = []
    e = loc = 0
    exch_ts = base["exch_ts"].tolist()  # plain ints: the merge below runs per row
    by_exch, by_local = by_exch.tolist(), by_local.tolist()
    while e < n or loc < n:
        if e < n and loc < n and by_exch[e] == by_local[loc]:
            picks.append(by_exch[e])
            flags.append(EXCH_EVENT | LOCAL_EVENT)
            e += 1
            loc += 1
        elif loc >= n or (e < n and exch_ts[by_exch[e]] < exch_ts[by_local[loc]]):
            picks.append(by_exch[e])
            flags.append(EXCH_EVENT)
            e += 1
        else:
            picks.append(by_local[loc])
            flags.append(LOCAL_EVENT)
            loc += 1
    out = base[np.asarray(picks, dtype=np.int64)]
    out["ev"] |= np.asarray(flags, dtype=np.uint64)
    return out


# --------------------------------------------------------------------------- the exporter


@dataclass(slots=True)
class _Book:
    """What the files of one book have said so far."""

    day: str = ""
    live: bool = False  # a reader of the file holds the book (a snapshot was written)
    last_snapshot: tuple[dict[float, float], dict[float, float]] | None = None
    top: tuple[list[Level], list[Level]] | None = None
    #: (run, seq) of the record whose book a snapshot was just written from: its other
    #: updates (Binance's buffered diffs applied with the snapshot) are inside it already,
    #: and written again they would precede the snapshot in exchange time.
    snapshot_of: tuple[str, int] | None = None


class _Exporter:
    def __init__(
        self,
        fmt: str,
        kinds: tuple[str, ...],
        out: Path,
        engine: Any,
        exchanges: tuple[str, ...] | None,
        symbols: tuple[str, ...] | None,
    ) -> None:
        self.fmt = fmt
        self.kinds = kinds
        self.out = out
        self.engine = engine
        self.exchanges = exchanges
        self.symbols = symbols
        self.books: dict[tuple[str, str], _Book] = {}
        self.sinks: dict[tuple[str, str, str, str], Any] = {}
        self.files: list[ExportFile] = []
        self.incremental = "incremental_book_L2" in kinds
        self.top25 = "book_snapshot_25" in kinds
        self.trades = fmt != "hftbacktest" and "trades" in kinds
        self.hft_trades = fmt == "hftbacktest" and "trades" in kinds
        self.depth = "depth" in kinds
        self.day = ""  # the UTC day of the latest record: older days' files are complete
        self._day_lo = self._day_hi = 0  # its bounds, epoch ns

    # ------------------------------------------------------------------ files

    def _sink(self, kind: str, exchange: str, symbol: str, day: str) -> Any:
        key = (kind, exchange, symbol, day)
        sink = self.sinks.get(key)
        if sink is not None:
            return sink
        if self.fmt == "hftbacktest":
            name = f"{exchange}_{symbol}_{day}.npz"
            info = ExportFile(self.out / name, "events", exchange, symbol, day)
            sink = _EventSink(info)
        else:
            venue = TARDIS_EXCHANGES[exchange]
            ext = "csv.gz" if self.fmt == "tardis" else "parquet"
            info = ExportFile(
                self.out / f"{venue}_{kind}_{day}_{symbol}.{ext}", kind, exchange, symbol, day
            )
            columns = {
                "incremental_book_L2": INCREMENTAL_COLUMNS,
                "book_snapshot_25": SNAPSHOT_COLUMNS,
                "trades": TRADE_COLUMNS,
            }[kind]
            sink = (_CsvSink if self.fmt == "tardis" else _ParquetSink)(info, columns)
        self.sinks[key] = sink
        self.files.append(info)
        return sink

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()

    def discard(self) -> None:
        for sink in self.sinks.values():
            sink.discard()

    # ------------------------------------------------------------------ events

    def _wanted(self, exchange: str, symbol: str) -> bool:
        if self.exchanges is not None and exchange not in self.exchanges:
            return False
        return self.symbols is None or symbol in self.symbols

    def _roll(self, day: str) -> None:
        """Records come in receive order: a new day closes every file of the days before."""
        self.day = day
        for key in [k for k in self.sinks if k[3] < day]:
            self.sinks.pop(key).close()

    def observe(self, rec: RawRecord, events: list[object]) -> None:
        if not self._day_lo <= rec.recv_ns < self._day_hi:
            self._day_lo = rec.recv_ns - rec.recv_ns % _NS_PER_DAY
            self._day_hi = self._day_lo + _NS_PER_DAY
            self._roll(_day(rec.recv_ns))
        touched: dict[tuple[str, str], int] = {}  # book -> exchange time of its last update
        for event in events:
            kind = type(event)
            if kind is BookUpdate:
                if self._wanted(event.exchange, event.symbol):
                    key = (event.exchange, event.symbol)
                    exch_ns = getattr(event, "exch_ns", None) or rec.recv_ns
                    touched[key] = exch_ns
                    self._update(rec, event, exch_ns)
            elif kind is BookReset:
                if self._wanted(event.exchange, event.symbol):
                    self._reset(rec, event.exchange, event.symbol)
            elif kind is Trade and self._wanted(event.exchange, event.symbol):
                self._trade(rec, event)
        for (exchange, symbol), exch_ns in touched.items():
            # a crossed book is reset by the engine itself, after the decoder's events
            if not self.engine.is_synced(exchange, symbol):
                self._reset(rec, exchange, symbol)
            elif self.top25:
                self._top25(rec, exchange, symbol, exch_ns)

    def _state(self, rec: RawRecord, exchange: str, symbol: str) -> _Book:
        key = (exchange, symbol)
        state = self.books.get(key)
        if state is None:
            state = self.books[key] = _Book()
        day = self.day
        if state.day != day:  # a new day's files start with a snapshot
            state.day = day
            state.live = False
            state.last_snapshot = None
            state.top = None
        return state

    def _update(self, rec: RawRecord, event: BookUpdate, exch_ns: int) -> None:
        exchange, symbol = event.exchange, event.symbol
        state = self._state(rec, exchange, symbol)
        if not state.live or event.is_snapshot:
            # The engine's book after this record is what a reader must hold now; the
            # record's later updates are absolute levels, harmless to apply again.
            if not self.engine.is_synced(exchange, symbol):
                return
            book = self.engine.book(exchange, symbol)
            self._snapshot(rec, state, exchange, symbol, book.top_bids(), book.top_asks(), exch_ns)
            state.live = True
            state.snapshot_of = (rec.run, rec.seq)
            return
        inside_snapshot = state.snapshot_of == (rec.run, rec.seq)
        if event.bids or event.asks:
            state.last_snapshot = None
        if self.incremental:
            self._count("incremental_book_L2", exchange, symbol, state.day)
            if inside_snapshot:
                self._count_depth(exchange, symbol, state.day)
                return
            rows = _level_rows(
                TARDIS_EXCHANGES[exchange],
                symbol,
                _us(exch_ns),
                _us(rec.recv_ns),
                False,
                event.bids,
                event.asks,
            )
            if rows:
                self._sink("incremental_book_L2", exchange, symbol, state.day).write(rows)
        if self.depth:
            sink = self._sink("events", exchange, symbol, state.day)
            sink.info.events += 1
            if inside_snapshot:
                return
            for px, qty in event.bids:
                sink.add(DEPTH_EVENT | BUY_EVENT, exch_ns, rec.recv_ns, px, qty)
            for px, qty in event.asks:
                sink.add(DEPTH_EVENT | SELL_EVENT, exch_ns, rec.recv_ns, px, qty)

    def _count_depth(self, exchange: str, symbol: str, day: str) -> None:
        """Count an update already inside the snapshot in the npz events too, if written."""
        if self.depth:
            self._sink("events", exchange, symbol, day).info.events += 1

    def _count(self, kind: str, exchange: str, symbol: str, day: str) -> None:
        self._sink(kind, exchange, symbol, day).info.events += 1

    def _snapshot(
        self,
        rec: RawRecord,
        state: _Book,
        exchange: str,
        symbol: str,
        bids: list[Level],
        asks: list[Level],
        exch_ns: int,
    ) -> None:
        if self.incremental:
            self._count("incremental_book_L2", exchange, symbol, state.day)
            venue = TARDIS_EXCHANGES[exchange]
            levels = (dict(bids), dict(asks))
            previous = state.last_snapshot
            if previous is None:
                rows = _level_rows(venue, symbol, _us(exch_ns), _us(rec.recv_ns), True, bids, asks)
                state.last_snapshot = levels
            else:
                # A snapshot right after a snapshot would read as one merged block: say
                # the second as the changes from the first instead.
                bid_diff = _diff(previous[0], levels[0])
                ask_diff = _diff(previous[1], levels[1])
                rows = _level_rows(
                    venue, symbol, _us(exch_ns), _us(rec.recv_ns), False, bid_diff, ask_diff
                )
                state.last_snapshot = levels if not rows else None
            if rows:
                self._sink("incremental_book_L2", exchange, symbol, state.day).write(rows)
        if self.depth:
            sink = self._sink("events", exchange, symbol, state.day)
            sink.info.events += 1
            sink.add(DEPTH_CLEAR_EVENT, exch_ns, rec.recv_ns, 0.0, 0.0)
            for px, qty in bids:
                sink.add(DEPTH_SNAPSHOT_EVENT | BUY_EVENT, exch_ns, rec.recv_ns, px, qty)
            for px, qty in asks:
                sink.add(DEPTH_SNAPSHOT_EVENT | SELL_EVENT, exch_ns, rec.recv_ns, px, qty)

    def _reset(self, rec: RawRecord, exchange: str, symbol: str) -> None:
        state = self._state(rec, exchange, symbol)
        if not state.live:
            return
        state.live = False
        state.top = None
        if self.depth:
            sink = self._sink("events", exchange, symbol, state.day)
            sink.info.events += 1
            sink.add(DEPTH_CLEAR_EVENT, rec.recv_ns, rec.recv_ns, 0.0, 0.0)

    def _top25(self, rec: RawRecord, exchange: str, symbol: str, exch_ns: int) -> None:
        state = self._state(rec, exchange, symbol)
        book = self.engine.book(exchange, symbol)
        top = (book.top_bids(SNAPSHOT_DEPTH), book.top_asks(SNAPSHOT_DEPTH))
        sink = self._sink("book_snapshot_25", exchange, symbol, state.day)
        sink.info.events += 1
        if top == state.top:
            return
        state.top = top
        bids, asks = top
        row: list[Any] = [TARDIS_EXCHANGES[exchange], symbol, _us(exch_ns), _us(rec.recv_ns)]
        for i in range(SNAPSHOT_DEPTH):
            for levels in (asks, bids):
                if i < len(levels):
                    row.append(format_decimal(levels[i][0]))
                    row.append(format_decimal(levels[i][1]))
                else:
                    row.extend(("", ""))
        sink.write([row])

    def _trade(self, rec: RawRecord, trade: Trade) -> None:
        exch_ns = getattr(trade, "exch_ns", None) or rec.recv_ns
        day = self.day
        if self.trades:
            sink = self._sink("trades", trade.exchange, trade.symbol, day)
            sink.info.events += 1
            side = trade.side if trade.side in ("buy", "sell") else "unknown"
            sink.write(
                [
                    (
                        TARDIS_EXCHANGES[trade.exchange],
                        trade.symbol,
                        _us(exch_ns),
                        _us(rec.recv_ns),
                        trade.trade_id,
                        side,
                        format_decimal(trade.price),
                        format_decimal(trade.qty),
                    )
                ]
            )
        if self.hft_trades:
            sink = self._sink("events", trade.exchange, trade.symbol, day)
            sink.info.events += 1
            flag = {"buy": BUY_EVENT, "sell": SELL_EVENT}.get(trade.side, 0)
            sink.add(TRADE_EVENT | flag, exch_ns, rec.recv_ns, trade.price, trade.qty)


def _level_rows(
    venue: str,
    symbol: str,
    ts_us: int,
    local_us: int,
    is_snapshot: bool,
    bids: Sequence[Level],
    asks: Sequence[Level],
) -> list[tuple[Any, ...]]:
    flag = "true" if is_snapshot else "false"
    rows = [
        (venue, symbol, ts_us, local_us, flag, "bid", format_decimal(p), format_decimal(q))
        for p, q in bids
        if q or not is_snapshot
    ]
    rows.extend(
        (venue, symbol, ts_us, local_us, flag, "ask", format_decimal(p), format_decimal(q))
        for p, q in asks
        if q or not is_snapshot
    )
    return rows


def _diff(old: dict[float, float], new: dict[float, float]) -> list[Level]:
    """The absolute-level updates that turn ``old`` into ``new``."""
    changes = [(p, 0.0) for p in old if p not in new]
    changes.extend((p, q) for p, q in new.items() if old.get(p) != q)
    return changes


# --------------------------------------------------------------------------- entry point


def check_kinds(fmt: str, kinds: Sequence[str] | None) -> tuple[str, ...]:
    """The kinds to write for ``fmt`` (all of its kinds when none are named)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r} (formats: {', '.join(FORMATS)})")
    known = HFTBACKTEST_KINDS if fmt == "hftbacktest" else TARDIS_KINDS
    if not kinds:
        return known
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise UsageError(
            f"unknown kind {', '.join(repr(k) for k in unknown)} for --format {fmt} "
            f"(kinds: {', '.join(known)})"
        )
    return tuple(k for k in known if k in kinds)


def export(
    root: Path,
    fmt: str,
    out: Path,
    start: int | None = None,
    end: int | None = None,
    kinds: Sequence[str] | None = None,
    exchanges: tuple[str, ...] | None = None,
    symbols: tuple[str, ...] | None = None,
    config: EngineConfig | None = None,
) -> ExportSummary:
    """Write the books and trades of ``[start, end]`` (receive time, epoch ns, closed;
    ``None`` is the log's start or end) under ``out`` in ``fmt``.

    Records before ``start`` only rebuild the books, so the first file of each book
    starts with the book as a full replay has it. Files of the same name in ``out`` are
    replaced; a failed export leaves none of its files behind. Raises ``UsageError``
    for a bad format or kind, ``DataError`` when the window holds no record.
    """
    from xle.analytics.engine import Engine
    from xle.replay.session import check_range
    from xle.store.reader import read_records

    chosen = check_kinds(fmt, kinds)
    if start is not None and end is not None:
        check_range(start, end)
    if fmt == "hftbacktest":
        try:
            import numpy  # noqa: F401
        except ImportError:
            raise UsageError(
                "the hftbacktest export needs numpy: pip install 'xle[export]'"
            ) from None
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory")
    out.mkdir(parents=True, exist_ok=True)
    engine = Engine(config if config is not None else load_config())
    summary = ExportSummary(fmt, chosen, out)
    exporter = _Exporter(fmt, chosen, out, engine, exchanges, symbols)
    try:
        read = read_records(root, start, end, exchanges=exchanges, symbols=symbols)
        for chunk in read.chunks():
            if start is not None and chunk[0].recv_ns < start:
                cut = next((i for i, r in enumerate(chunk) if r.recv_ns >= start), len(chunk))
                engine.on_records(chunk[:cut])
                summary.warmup_records += cut
                chunk = chunk[cut:]
                if not chunk:
                    continue
            engine.observer = exporter.observe
            engine.on_records(chunk)
            engine.observer = None
            summary.records += len(chunk)
    except BaseException:
        exporter.discard()
        raise
    if summary.records == 0:
        exporter.discard()
        window = ""
        if start is not None or end is not None:
            first = format_ns(start) if start is not None else "the start"
            last = format_ns(end) if end is not None else "the end"
            window = f" between {first} and {last}"
        raise DataError(f"no records{window} in {raw_dir(root)}")
    try:
        exporter.close()
    except BaseException:
        exporter.discard()
        raise
    summary.files = sorted(exporter.files, key=lambda f: f.path.name)
    return summary
