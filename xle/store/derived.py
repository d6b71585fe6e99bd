"""Derived outputs on disk: quotes, arbitrage episodes and integrity events as Parquet.

Layout (hive partitions; the keys live in the path, never inside the files, exactly like
the raw log, so DuckDB's ``hive_partitioning`` reads them back as columns)::

    DIR/derived/quotes/exchange=<ex>/date=YYYY-MM-DD/<scope>.parquet
    DIR/derived/integrity/exchange=<ex>/date=YYYY-MM-DD/<scope>.parquet
    DIR/derived/arbitrage/date=YYYY-MM-DD/<scope>.parquet

``date`` is the UTC day of the row's ``recv_ns``. Arbitrage is not split by market
because canonical markets contain a ``/`` (``BTC/USD``); ``market`` is a column.
``Quote.vwap`` is stored as it is, a ``list<struct<side, size, price, filled,
slippage_bps, insufficient>>`` column, one element per configured size and side
(DuckDB: ``SELECT v.price FROM quotes, UNNEST(vwap) AS u(v)``).

Re-runs and overlapping ranges -- **the newest replay owns its scope**. A replay's scope
is its closed time window ``[T0, T1]`` plus its ``--exchange``/``--symbol`` filters.

1. A replay stores only rows inside its scope: ``T0 <= recv_ns <= T1`` and the row's
   book is selected by the filters (arbitrage: both legs; with a ``--symbol`` filter,
   rows without a symbol, e.g. a connection-level disconnect, are outside the scope).
2. Before its files become visible it removes every row of earlier outputs that lies
   inside its scope: files with no such rows are left alone, files with some are
   rewritten without them, files left empty are deleted.
3. Its own files are named after the scope (``w<T0>-<T1>-<hash of the filters>``), so
   running the same replay again replaces its files instead of adding new ones.

Hence no instant of a book is ever stored twice: the same replay run twice gives the same
files, a wider replay absorbs the narrower ones inside it, a narrower replay carves its
window out of an earlier wider one, and disjoint replays accumulate. Every file is
written to a hidden temporary name and ``os.replace``d, so a concurrent DuckDB reader
never sees half a file. On object storage (``xle.store.fs``) the temporary is a hidden
object beside the final one, published by a server-side copy (no rename there): it must
exist before publishing because the trim comes first and a fanned-out replay's shards
stage files that the parent publishes; a trimmed file is rewritten in place by one
upload, which appears whole on close. The bytes depend only on the rows (no wall-clock
stamps), so the same replay always writes byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate, chain
from operator import attrgetter, itemgetter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xle._native.book import QuoteRows
from xle._native.book import arrow_columns as _arrow_columns
from xle.errors import DataError
from xle.records import ArbitrageEpisode, IntegrityEvent, Quote
from xle.store.arrow_values import int_scalar
from xle.store.fs import StorePath, is_remote, parquet_file, parquet_writer, replace
from xle.store.paths import derived_dir

__all__ = [
    "PARTITION_KEYS",
    "SCHEMAS",
    "DerivedWriter",
    "Scope",
    "partition_dirs",
    "publish",
]

_VWAP = pa.struct(
    [
        ("side", pa.string()),
        ("size", pa.float64()),
        ("price", pa.float64()),
        ("filled", pa.float64()),
        ("slippage_bps", pa.float64()),
        ("insufficient", pa.bool_()),
    ]
)

#: Column schemas of the files (partition keys excluded: they live in the path).
SCHEMAS: dict[str, pa.Schema] = {
    "quotes": pa.schema(
        [
            ("recv_ns", pa.int64()),
            ("seq", pa.int64()),
            ("symbol", pa.string()),
            ("market", pa.string()),
            ("bid", pa.float64()),
            ("bid_size", pa.float64()),
            ("ask", pa.float64()),
            ("ask_size", pa.float64()),
            ("mid", pa.float64()),
            ("spread", pa.float64()),
            ("spread_bps", pa.float64()),
            ("imbalance", pa.float64()),
            ("ratio", pa.float64()),
            ("exch_ns", pa.int64()),  # the venue's time of the book state, epoch ns
            ("feed_latency_ns", pa.int64()),  # recv_ns - exch_ns
            ("vwap", pa.list_(_VWAP)),
        ]
    ),
    "arbitrage": pa.schema(
        [
            ("recv_ns", pa.int64()),
            ("seq", pa.int64()),
            ("market", pa.string()),
            ("buy_venue", pa.string()),
            ("sell_venue", pa.string()),
            ("status", pa.string()),
            ("start_ns", pa.int64()),
            ("end_ns", pa.int64()),
            ("duration_ns", pa.int64()),
            ("edge_bps", pa.float64()),
            ("peak_edge_bps", pa.float64()),
            ("executable_size", pa.float64()),
            ("profit", pa.float64()),
            ("close_reason", pa.string()),
        ]
    ),
    "integrity": pa.schema(
        [
            ("recv_ns", pa.int64()),
            ("seq", pa.int64()),
            ("run", pa.string()),
            ("conn", pa.int32()),
            ("symbol", pa.string()),
            ("kind", pa.string()),
            ("detail", pa.string()),
            ("stream", pa.string()),
        ]
    ),
}

#: Hive partition keys per table, outermost first.
PARTITION_KEYS: dict[str, tuple[str, ...]] = {
    "quotes": ("exchange", "date"),
    "arbitrage": ("date",),
    "integrity": ("exchange", "date"),
}

#: Rows buffered per partition before a row group is written. Peak RSS of a replay is
#: flat with the length of the log at 8,192; at 65,536 it still grew, the buffers and the
#: allocator's retained pages growing with each partition's pending rows (figures:
#: benchmarks/README.md, "Measurements behind the code").
ROW_GROUP_ROWS = 8_192

#: Rows gathered as Python tuples before they become one Arrow batch. The pending rows
#: of a partition live as Arrow batches (about 300 bytes a quote instead of about 3 kB
#: of Python objects). Divides ``ROW_GROUP_ROWS``.
BATCH_ROWS = 4096

_DAY_NS = 86_400 * 1_000_000_000


class _Days:
    """UTC day of a ``recv_ns`` as ``YYYY-MM-DD``, remembering the current day's bounds:
    building a datetime per row is costly at replay rates, a range check costs nothing."""

    def __init__(self) -> None:
        self.lo = 0
        self.hi = 0
        self.day = ""

    def __call__(self, ns: int) -> str:
        if self.lo <= ns < self.hi:
            return self.day
        day = _day(ns)
        self.lo = ns // _DAY_NS * _DAY_NS
        self.hi = self.lo + _DAY_NS
        self.day = day
        return day


def _day(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Scope:
    """What one replay covers: a closed record-time window and optional book filters."""

    start_ns: int
    end_ns: int
    exchanges: tuple[str, ...] | None = None
    symbols: tuple[str, ...] | None = None

    @property
    def stem(self) -> str:
        """File stem shared by every file of this scope, e.g. ``w163…-163…-3f2a9c01d4``."""
        filters = {
            "exchanges": sorted(self.exchanges) if self.exchanges else None,
            "symbols": sorted(self.symbols) if self.symbols else None,
        }
        digest = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()
        return f"w{self.start_ns}-{self.end_ns}-{digest[:10]}"

    def covers_time(self, recv_ns: int) -> bool:
        return self.start_ns <= recv_ns <= self.end_ns

    def covers_book(self, exchange: str, symbol: str | None) -> bool:
        if self.exchanges and exchange not in self.exchanges:
            return False
        if self.symbols:
            return symbol is not None and symbol in self.symbols
        return True

    def covers_venue(self, label: str) -> bool:
        """``label`` is an arbitrage leg, ``exchange:SYMBOL``."""
        exchange, _, symbol = label.partition(":")
        return self.covers_book(exchange, symbol)

    def overlaps_window(self, start_ns: int, end_ns: int) -> bool:
        return start_ns <= self.end_ns and self.start_ns <= end_ns

    def select(self, outputs: Iterable[object]) -> list[object]:
        """The engine outputs this scope covers (``covers``), in order; of a
        ``QuoteRows``, the rows it covers (none: left out)."""
        kept: list[object] = []
        covers = self.covers
        for out in outputs:
            if type(out) is QuoteRows:
                rows = out.select(self.start_ns, self.end_ns, self.covers_book)  # type: ignore[attr-defined]
                if len(rows):
                    kept.append(rows)
            elif covers(out):
                kept.append(out)
        return kept

    def covers(self, out: object) -> bool:
        """Whether an engine output belongs to this scope (rule 1 of the module docstring).

        ``ResyncRequest``s are never stored: they only mean something to a live recorder.
        """
        kind = type(out)
        if kind is Quote or kind is IntegrityEvent:
            return self.covers_time(out.recv_ns) and self.covers_book(out.exchange, out.symbol)
        if kind is ArbitrageEpisode:
            return (
                self.covers_time(out.recv_ns)
                and self.covers_venue(out.buy_venue)
                and self.covers_venue(out.sell_venue)
            )
        return False


def partition_dirs(table_dir: Path, table: str) -> list[tuple[dict[str, str], Path]]:
    """Existing partition directories of a table with their key values, sorted."""
    found: list[tuple[dict[str, str], Path]] = [({}, table_dir)]
    for key in PARTITION_KEYS[table]:
        deeper: list[tuple[dict[str, str], Path]] = []
        for values, directory in found:
            if not directory.is_dir():
                continue
            for child in sorted(directory.iterdir()):
                name, sep, value = child.name.partition("=")
                if sep and name == key and child.is_dir():
                    deeper.append(({**values, key: value}, child))
        found = deeper
    return found


# --------------------------------------------------------------------------- rows

_QUOTE_COLUMNS = SCHEMAS["quotes"].names[:-1]  # every column but ``vwap``, which is last


class _Columns:
    """Pending rows of one table, turned into an Arrow batch column by column.

    With the compiled core the rows are the engine's outputs themselves, and
    ``arrow_columns`` writes their attributes straight into Arrow buffers (several times
    cheaper than the lists below, and no ``pa.array``, whose first call imports pandas).
    Without it each row is one tuple of attributes (a single C-level ``attrgetter`` call
    and append per row), made into one list per column for ``pa.array`` at the end;
    quotes keep each row's list of walks as it is and flatten them per batch."""

    def __init__(self, table: str, *, compiled: bool = True) -> None:
        self.schema = SCHEMAS[table]
        self.quotes = table == "quotes"
        self.compiled = compiled and _arrow_columns is not None
        self.get = attrgetter(*(_QUOTE_COLUMNS if self.quotes else self.schema.names))
        self.width = len(_QUOTE_COLUMNS) if self.quotes else len(self.schema.names)
        self.rows: list = []  # outputs (compiled), else attribute tuples
        self.walks: list[list[object]] = []  # quotes: each row's ``vwap`` list
        if self.compiled:
            self.add = self.rows.append  # type: ignore[method-assign]

    def add(self, out: object) -> None:
        self.rows.append(self.get(out))
        if self.quotes:
            self.walks.append(out.vwap)  # type: ignore[attr-defined]

    @property
    def pending(self) -> int:
        return len(self.rows)

    def batch(self) -> pa.RecordBatch:
        """The pending rows as one batch; the lists start again empty."""
        schema = self.schema
        rows = self.rows
        if self.compiled:  # ``add`` is this list's ``append``: empty it in place
            batch = pa.RecordBatch.from_arrays(_arrow_columns(rows, schema), schema=schema)
            rows.clear()
            return batch
        arrays = [
            pa.array(list(map(itemgetter(i), rows)), schema.field(i).type)
            for i in range(self.width)
        ]
        if self.quotes:
            walks = list(chain.from_iterable(self.walks))
            items = pa.StructArray.from_arrays(
                [pa.array(list(map(attrgetter(f.name), walks)), f.type) for f in _VWAP],
                fields=list(_VWAP),
            )
            offsets = pa.array(list(accumulate(map(len, self.walks), initial=0)), pa.int32())
            arrays.append(pa.ListArray.from_arrays(offsets, items, type=schema.field("vwap").type))
            self.walks = []
        self.rows = []
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Parquet column paths worth dictionary-encoding: the strings, which repeat (venue,
    market, side, kind). Floats and timestamps almost never repeat; trying a dictionary
    on them first made writing about 1.7x slower and the files larger."""
    paths: list[str] = []
    for field in schema:
        if pa.types.is_string(field.type):
            paths.append(field.name)
        elif pa.types.is_list(field.type) and pa.types.is_struct(field.type.value_type):
            for child in field.type.value_type:
                if pa.types.is_string(child.type):
                    paths.append(f"{field.name}.list.element.{child.name}")
    return paths


def _parquet_writer(path: StorePath, schema: pa.Schema) -> pq.ParquetWriter:
    return parquet_writer(
        path, schema, compression="zstd", use_dictionary=_dictionary_columns(schema)
    )


# --------------------------------------------------------------------------- writing


class _Partition:
    """One output file being written: a hidden temp file and its pending rows.

    Rows become Arrow batches every ``BATCH_ROWS`` rows (quote rows, ``add_rows``, once
    per row group) and a row group every ``ROW_GROUP_ROWS``; ``close`` (at commit, or
    once the replay has passed the partition's day) writes the rest and closes the file,
    which holds no memory after.
    A row arriving for a closed partition reopens it, copying its row groups over.
    """

    def __init__(self, final: Path, temp: Path, table: str, day: str) -> None:
        self.final = final
        self.temp = temp
        self.day = day
        self.schema = SCHEMAS[table]
        self.columns = _Columns(table)
        self.batches: list[pa.RecordBatch] = []
        self.rows: QuoteRows | None = None  # type: ignore[valid-type]  # pending quote rows
        self.rows_exchange = ""  # theirs
        self.pending = 0
        self.writer: pq.ParquetWriter | None = None
        self.closed = False
        self.count = 0

    def add(self, out: object) -> None:
        if self.closed:
            self._reopen()
        if self.rows is not None:  # quote rows added before this come first
            self._rows_batch()
        self.columns.add(out)
        self.count += 1
        self.pending += 1
        if self.columns.pending >= BATCH_ROWS:
            self.batches.append(self.columns.batch())
        if self.pending >= ROW_GROUP_ROWS:
            self.flush()

    def add_rows(self, rows: QuoteRows, exchange: str) -> int:  # type: ignore[valid-type]
        """``add`` for each quote of ``exchange`` in ``rows``, in order, kept as C rows
        until their row group is written (one Arrow batch per row group, where a batch
        per ``rows`` cost a tenth of a replay's quote path): the same row groups, so the
        same file, as the quotes one by one. Returns how many there were."""
        if self.closed:
            self._reopen()
        if self.columns.pending:  # quotes added before these come first
            self.batches.append(self.columns.batch())
        if self.rows is not None and self.rows.keys is not rows.keys:  # type: ignore[attr-defined]
            self._rows_batch()  # another engine's rows: a batch of their own
        added = 0
        start = 0
        while start < len(rows):  # type: ignore[arg-type]
            if self.rows is None:
                self.rows = QuoteRows(rows.keys)  # type: ignore[attr-defined, misc]
                self.rows_exchange = exchange
            start, copied = rows.copy_to(  # type: ignore[attr-defined]
                self.rows, exchange, start, ROW_GROUP_ROWS - self.pending
            )
            self.pending += copied
            added += copied
            if self.pending >= ROW_GROUP_ROWS:
                self.flush()
        self.count += added
        return added

    def _rows_batch(self) -> None:
        """The pending quote rows as a batch (none when there are none: an empty batch
        would make an empty row group)."""
        assert self.rows is not None
        if len(self.rows):  # type: ignore[arg-type]
            self.batches.append(self.rows.batch(self.rows_exchange, self.schema))  # type: ignore[attr-defined]
        self.rows = None

    def flush(self) -> None:
        if self.rows is not None:
            self._rows_batch()
        if self.columns.pending:
            self.batches.append(self.columns.batch())
        if not self.batches:
            return
        if self.writer is None:
            self.temp.parent.mkdir(parents=True, exist_ok=True)
            self.writer = _parquet_writer(self.temp, self.schema)
        table = pa.Table.from_batches(self.batches, schema=self.schema).combine_chunks()
        self.batches = []
        self.pending = 0
        self.writer.write_table(table)

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.closed = True

    def _reopen(self) -> None:
        """Rare (rows out of day order): rewrite what the closed file holds into a new
        writer so more row groups can follow."""
        self.closed = False
        if not self.temp.exists():
            return
        written = parquet_file(self.temp)
        groups = [written.read_row_group(i) for i in range(written.num_row_groups)]
        written.close()
        self.writer = _parquet_writer(self.temp, self.schema)
        for group in groups:
            self.writer.write_table(group)

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.temp.unlink(missing_ok=True)


class DerivedWriter:
    """Streams one replay's outputs into Parquet and publishes them with ``commit()``.

    ``add`` keeps only the outputs ``Scope.covers``. Nothing is visible to readers before
    ``commit``; ``abort`` throws the temporary files away.
    """

    def __init__(self, data_root: Path, scope: Scope) -> None:
        self.data_root = data_root
        self.scope = scope
        self.rows: dict[str, int] = dict.fromkeys(SCHEMAS, 0)
        self._parts: dict[tuple[str, tuple[str, ...]], _Partition] = {}
        self._days = _Days()
        self._latest_day = ""

    def add(self, out: object) -> bool:
        """Buffer one engine output; True when it was in scope and will be stored (of a
        ``QuoteRows``, the rows in scope; True when there were any)."""
        kept = self.scope.select((out,))
        for item in kept:
            self.store(item)
        return bool(kept)

    def store_all(self, outputs: Iterable[object]) -> None:
        """``store`` for each output in turn. Quotes, nearly every output, take a short
        path while they fall on the day and in the partition of the quote before."""
        days = self._days
        part: _Partition | None = None  # the previous quote's, while the short path holds
        exchange = day = ""
        quotes = 0
        for out in outputs:
            if type(out) is not Quote:
                self.store(out)
                part = None
                continue
            ns = out.recv_ns
            if (
                part is not None
                and days.lo <= ns < days.hi
                and out.exchange == exchange
                and days.day == day == self._latest_day
            ):
                part.add(out)
                quotes += 1
                continue
            self.store(out)
            exchange, day = out.exchange, days.day
            part = self._parts[("quotes", (exchange, day))]
        self.rows["quotes"] += quotes

    def store(self, out: object) -> None:
        """``add`` for an output the caller already knows ``Scope.covers``."""
        if type(out) is QuoteRows:
            self._store_rows(out)
            return
        day = self._days(out.recv_ns)  # type: ignore[attr-defined]
        if day > self._latest_day:
            self._pass_day(day)
        if isinstance(out, Quote):
            self._part("quotes", (out.exchange, day), day).add(out)
            self.rows["quotes"] += 1
        elif isinstance(out, ArbitrageEpisode):
            self._part("arbitrage", (day,), day).add(out)
            self.rows["arbitrage"] += 1
        elif isinstance(out, IntegrityEvent):
            self._part("integrity", (out.exchange, day), day).add(out)
            self.rows["integrity"] += 1

    def _store_rows(self, rows: QuoteRows) -> None:  # type: ignore[valid-type]
        """Quote rows (``Engine.quote_rows``): into each exchange's partition as rows
        (``_Partition.add_rows``) when they all fall on one day, not before the replay's
        (the common case: a day holds 86,400 quote intervals); else as ``Quote`` objects
        one by one. Either way the files are the ones the objects would make, row group
        for row group."""
        if not len(rows):
            return
        days = self._days
        day = days(rows.min_recv_ns)
        if day < self._latest_day or rows.max_recv_ns >= days.hi:
            for quote in rows.quotes():
                self.store(quote)
            return
        if day > self._latest_day:
            self._pass_day(day)
        for exchange in rows.exchanges():
            self.rows["quotes"] += self._part("quotes", (exchange, day), day).add_rows(
                rows, exchange
            )

    def _pass_day(self, day: str) -> None:
        """The replay reached ``day``: close the partitions of earlier days (records come
        in ``recv_ns`` order, so they get no more rows), keeping memory flat."""
        self._latest_day = day
        for part in self._parts.values():
            if part.day < day and not part.closed:
                part.close()

    def commit(self) -> list[Path]:
        """Trim earlier outputs inside the scope, then publish this replay's files."""
        published = publish(self.data_root, self.scope, self.stage())
        self._parts.clear()
        return published

    def stage(self) -> list[tuple[Path, Path]]:
        """Close every file and hand over ``(temporary, final)`` paths without publishing
        them: a fanned-out replay publishes the files of all its shards at once, under
        the scope of the whole range (``publish``). ``abort`` still throws them away."""
        for part in self._parts.values():
            part.close()
        return [(part.temp, part.final) for part in self._parts.values() if part.temp.exists()]

    def abort(self) -> None:
        for part in self._parts.values():
            part.discard()
        self._parts.clear()

    def _part(self, table: str, values: tuple[str, ...], day: str) -> _Partition:
        key = (table, values)
        part = self._parts.get(key)
        if part is None:
            directory = derived_dir(self.data_root, table)
            for name, value in zip(PARTITION_KEYS[table], values, strict=True):
                directory = directory / f"{name}={value}"
            stem = self.scope.stem
            part = self._parts[key] = _Partition(
                directory / f"{stem}.parquet", directory / f".{stem}.parquet.tmp", table, day
            )
        return part


def publish(data_root: Path, scope: Scope, staged: list[tuple[Path, Path]]) -> list[Path]:
    """Trim earlier outputs inside ``scope``, then ``os.replace`` each staged file onto
    its final name; the published paths, sorted."""
    finals = {final for _temp, final in staged}
    for table in SCHEMAS:
        _trim_table(data_root, table, scope, finals)
    for temp, final in staged:
        replace(temp, final)
    return sorted(finals)


# --------------------------------------------------------------------------- trimming


def _file_window(path: Path) -> tuple[int, int] | None:
    """The window encoded in a file name written by this module, else None."""
    head, _, _ = path.stem.rpartition("-")
    start, sep, end = head.removeprefix("w").partition("-")
    if path.stem.startswith("w") and sep and start.isdigit() and end.isdigit():
        return int(start), int(end)
    return None


def _in_scope_mask(table: str, data: pa.Table, values: dict[str, str], scope: Scope) -> pa.Array:
    recv = data.column("recv_ns")
    mask = pc.and_(
        # Typed scalars: with a bare Python int pyarrow first tries to import dateutil
        # to infer its type, on every call (benchmarks/README.md).
        pc.greater_equal(recv, int_scalar(scope.start_ns, pa.int64())),
        pc.less_equal(recv, int_scalar(scope.end_ns, pa.int64())),
    ).fill_null(False)
    if table == "arbitrage":
        books: Iterable[bool] = (
            scope.covers_venue(b) and scope.covers_venue(s)
            for b, s in zip(
                data.column("buy_venue").to_pylist(),
                data.column("sell_venue").to_pylist(),
                strict=True,
            )
        )
    else:
        exchange = values["exchange"]
        books = (scope.covers_book(exchange, s) for s in data.column("symbol").to_pylist())
    return pc.and_(mask, pa.array(list(books), pa.bool_()))


def _trim_table(data_root: Path, table: str, scope: Scope, replaced: set[Path]) -> None:
    """Remove the rows inside ``scope`` from every earlier file of ``table``.

    Files in ``replaced`` are about to be overwritten by ``os.replace`` and are skipped.
    """
    first_day, last_day = _day(scope.start_ns), _day(scope.end_ns)
    for values, directory in partition_dirs(derived_dir(data_root, table), table):
        if not first_day <= values["date"] <= last_day:
            continue
        exchange = values.get("exchange")
        if exchange is not None and scope.exchanges and exchange not in scope.exchanges:
            continue
        for path in sorted(directory.glob("*.parquet")):
            if path in replaced:
                continue
            if path.stem == scope.stem:
                path.unlink()  # this scope's previous run, with no rows here this time
                continue
            window = _file_window(path)
            if window is not None and not scope.overlaps_window(*window):
                continue
            try:
                data = parquet_file(path).read()
            except (OSError, pa.ArrowException) as exc:
                raise DataError(
                    f"cannot read derived file {path} ({exc}); delete it and replay again"
                ) from exc
            mask = _in_scope_mask(table, data, values, scope)
            removed = pc.sum(mask).as_py() or 0
            if removed == 0:
                continue
            kept = data.filter(pc.invert(mask))
            if kept.num_rows == 0:
                path.unlink()
                continue
            if is_remote(path):  # one upload, published whole on close: no temp needed
                with _parquet_writer(path, kept.schema) as writer:
                    writer.write_table(kept)
                continue
            temp = path.with_name(f".{path.name}.tmp")
            with _parquet_writer(temp, kept.schema) as writer:
                writer.write_table(kept)
            os.replace(temp, path)
