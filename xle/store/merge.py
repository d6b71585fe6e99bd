"""Files of the raw log -> rows in replay order (the engine room of ``read_records``).

Every file is already in replay order ``(recv_ns, exchange, run, seq)``, so a k-way
merge does not need a heap of records. The "horizon merge" keeps one pending batch per
stream; every row older than the smallest *last* ``recv_ns`` among the pending batches
can be emitted at once, and only a round that mixes streams needs sorting. Files that
follow each other in time (one recorder run rolling every minute) are chained into one
stream using their row-group statistics, so the common case -- one run per
exchange-hour -- is a sequential read with no sorting at all.

Compaction merges Arrow tables (``Stream``; mixed rounds sorted in C++ by
``sort_permutation``). The replay reader turns each batch into RawRecords as it is read,
columns converted batch-wise, and merges lists of records (``RecordStream``; mixed
rounds merged by Timsort in ``xle.store.reader.LogRead``), with the same rounds.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter
from pathlib import Path
from sys import intern

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xle.records import RawRecord
from xle.store.arrow_values import int_array, int_scalar, string_scalar
from xle.store.fs import read_source
from xle.store.layout import RAW_SCHEMA, Notice, Partition, schema_mismatch

__all__ = [
    "COLUMNS",
    "FileProblem",
    "LogFile",
    "RecordStream",
    "Stream",
    "WrongSchemaError",
    "chain_files",
    "concat_parts",
    "describe_error",
    "file_batches",
    "merge_streams",
    "open_log_file",
    "problem_of",
    "records_from_table",
    "sort_permutation",
]

INF = 1 << 63
_RECV_NS = attrgetter("recv_ns")
_READ_BUFFER = 1 << 20
COLUMNS: list[str] = RAW_SCHEMA.names


@dataclass(frozen=True)
class FileProblem:
    """A log file that could not be (completely) read."""

    path: Path
    partition: Partition
    error: str
    rows_read: int = 0
    kind: str = "unreadable"  # or "wrong_schema" (a Parquet file that is not a raw-log file)

    def message(self) -> str:
        """One line for the terminal."""
        what = "not a raw-log file" if self.kind == "wrong_schema" else "unreadable log file"
        return f"{what} {self.path}: {self.error}"

    def notice(self) -> Notice:
        return Notice(self.kind, self.path, self.error)


class WrongSchemaError(ValueError):
    """A readable Parquet file whose columns are not those of the raw log."""


def problem_of(path: Path, partition: Partition, exc: BaseException) -> FileProblem:
    """The ``FileProblem`` of a file that failed to open with ``exc``."""
    if isinstance(exc, WrongSchemaError):
        return FileProblem(path, partition, str(exc), kind="wrong_schema")
    return FileProblem(path, partition, describe_error(exc))


# --------------------------------------------------------------------------- columns -> records


def _dict_pylist(array: pa.DictionaryArray) -> list:
    # The few distinct values are interned: every record of a replay then shares one
    # str object per name, whose hash is computed once instead of once per row (the
    # engine looks ``stream`` up in a dict for every record).
    if not len(array):
        return []
    values = [intern(v) if type(v) is str else v for v in array.dictionary.to_pylist()]
    if array.null_count:
        values.append(None)
        indices = pc.fill_null(array.indices, int_scalar(len(values) - 1, array.indices.type))
    elif len(values) == 1:
        return values * len(array)
    else:
        indices = array.indices
        bounds = pc.min_max(indices)
        low = bounds["min"].as_py()
        if low == bounds["max"].as_py():  # one value in this slice: no per-row lookup
            return [values[low]] * len(array)
    return list(map(values.__getitem__, indices.to_pylist()))


def _pylist(column: pa.Array | pa.ChunkedArray) -> list:
    """Python values of a column; dictionaries decoded via their (tiny) value list.

    ``DictionaryArray.to_pylist`` builds a new str per row and is about 5x slower.
    """
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks != 1:
            return list(chain.from_iterable(_pylist(c) for c in column.chunks))
        column = column.chunk(0)
    if pa.types.is_dictionary(column.type):
        return _dict_pylist(column)
    return column.to_pylist()


def records_from_table(
    table: pa.Table | pa.RecordBatch, exchange: str | None = None
) -> list[RawRecord]:
    """RAW_SCHEMA rows -> RawRecords, converting whole columns at once.

    ``exchange`` is the one exchange of every row, or None to take it from an
    ``exchange`` column (rows merged from several exchanges).
    """
    c = [table.column(name) for name in COLUMNS]
    return list(
        map(
            RawRecord,
            c[0].to_pylist(),
            repeat(exchange) if exchange is not None else _pylist(table.column("exchange")),
            _pylist(c[1]),
            c[2].to_pylist(),
            c[3].to_pylist(),
            _pylist(c[4]),
            _pylist(c[5]),
            _pylist(c[6]),
            c[7].to_pylist(),
        )
    )


# --------------------------------------------------------------------------- one file


@dataclass
class LogFile:
    path: Path
    partition: Partition
    pf: pq.ParquetFile
    row_groups: list[int]
    lo: int | None  # min recv_ns of the selected row groups (None: no statistics)
    hi: int | None


def open_log_file(
    path: Path, partition: Partition, start_ns: int | None, end_ns: int | None
) -> LogFile:
    # No pre-buffering and a read buffer: column chunks are streamed instead of loaded
    # whole, so memory follows the batch size, not the row-group size (same speed).
    # ``stream`` is read as a dictionary (the files store it dictionary-encoded, a handful
    # of names per file): no str per row to build, and shared objects (``_dict_pylist``).
    # On object storage a file is usually fetched whole (``xle.store.fs.read_source``).
    where, filesystem = read_source(path)
    try:
        pf = pq.ParquetFile(
            where,
            buffer_size=_READ_BUFFER,
            pre_buffer=False,
            read_dictionary=["stream"],
            filesystem=filesystem,
        )
    except KeyError:  # no ``stream`` column to read as a dictionary
        schema = pq.read_schema(where, filesystem=filesystem)
        raise WrongSchemaError(schema_mismatch(schema, RAW_SCHEMA) or "no column stream") from None
    schema = pf.schema_arrow
    mismatch = schema_mismatch(schema, RAW_SCHEMA)
    if mismatch is not None:
        pf.close()
        raise WrongSchemaError(mismatch)
    column = schema.get_field_index("recv_ns")
    meta = pf.metadata
    groups: list[int] = []
    lo: int | None = INF
    hi: int | None = -INF
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        if group.num_rows == 0:
            continue
        stats = group.column(column).statistics
        if stats is None or not stats.has_min_max:
            groups.append(index)
            lo = hi = None
            continue
        if (end_ns is not None and stats.min >= end_ns) or (
            start_ns is not None and stats.max < start_ns
        ):
            continue
        groups.append(index)
        if lo is not None and hi is not None:
            lo, hi = min(lo, stats.min), max(hi, stats.max)
    return LogFile(path, partition, pf, groups, lo, hi)


# --------------------------------------------------------------------------- streams and merge


@dataclass
class Stream:
    """Files of one exchange whose rows follow each other in replay order."""

    exchange: str
    files: list[LogFile]
    batches: Iterator[pa.Table | pa.RecordBatch | FileProblem] | None = None
    pending: pa.Table | None = None
    last: int = 0
    exhausted: bool = False
    problems: list[FileProblem] = field(default_factory=list)

    @property
    def bound(self) -> int:
        return INF if self.exhausted else self.last

    def _next(self) -> pa.Table | pa.RecordBatch | None:
        """Next non-empty table (or batch), or None once exhausted; problems are set
        aside. A ``Stream`` needs tables; a ``RecordStream`` takes either."""
        assert self.batches is not None
        for item in self.batches:
            if isinstance(item, FileProblem):
                self.problems.append(item)
            elif item.num_rows:
                return item
        self.exhausted = True
        return None

    def fill(self) -> bool:
        """Make sure some rows are pending; False when the stream is done."""
        if self.pending is not None and self.pending.num_rows:
            return True
        if self.exhausted:
            return False
        table = self._next()
        if table is None:
            self.pending = None
            return False
        self.pending = table
        self.last = table.column("recv_ns")[-1].as_py()
        return True

    def extend(self) -> None:
        table = self._next()
        if table is not None:
            assert self.pending is not None
            self.pending = pa.concat_tables([self.pending, table])
            self.last = table.column("recv_ns")[-1].as_py()

    def waiting(self) -> bool:
        """True when every pending row sits at ``last`` and the stream may continue."""
        assert self.pending is not None
        return not self.exhausted and self.pending.column("recv_ns")[0].as_py() == self.last

    def take_all(self) -> pa.Table:
        assert self.pending is not None
        table, self.pending = self.pending, None
        return table

    def take_below(self, bound: int) -> pa.Table | None:
        assert self.pending is not None
        if bound == INF:
            count = self.pending.num_rows
        else:
            # Rows are in recv_ns order: a binary search reads about 11 values of a
            # 2,000-row table. (``pc.less(column, int)`` is slow: pyarrow tries to
            # import dateutil for every Python scalar it converts; benchmarks/README.md.)
            count = bisect_left(_Values(self.pending.column("recv_ns")), bound)
        if not count:
            return None
        head = self.pending.slice(0, count)
        self.pending = self.pending.slice(count)
        return head


@dataclass
class RecordStream(Stream):
    """A ``Stream`` whose rows become RawRecords as soon as a batch is read (``rows``).

    Why: each batch is converted once, whole, and the merge then cuts and joins Python
    lists (pointer copies, a bisect over ``recv_ns``) instead of slicing, concatenating
    and converting Arrow tables every round. Its parts are lists of RawRecords.
    """

    rows: list[RawRecord] = field(default_factory=list)

    def _next_rows(self) -> list[RawRecord]:
        table = self._next()
        return [] if table is None else records_from_table(table, self.exchange)

    def fill(self) -> bool:
        if self.rows:
            return True
        if self.exhausted:
            return False
        self.rows = self._next_rows()
        if not self.rows:
            return False
        self.last = self.rows[-1].recv_ns
        return True

    def extend(self) -> None:
        rows = self._next_rows()
        if rows:
            self.rows += rows
            self.last = rows[-1].recv_ns

    def waiting(self) -> bool:
        return not self.exhausted and self.rows[0].recv_ns == self.last

    def take_all(self) -> list[RawRecord]:
        rows, self.rows = self.rows, []
        return rows

    def take_below(self, bound: int) -> list[RawRecord] | None:
        rows = self.rows
        count = len(rows) if bound == INF else bisect_left(rows, bound, key=_RECV_NS)
        if not count:
            return None
        if count == len(rows):
            self.rows = []
            return rows
        self.rows = rows[count:]
        return rows[:count]


class _Values:
    """An Arrow column as a read-only sequence of Python values, for ``bisect``."""

    __slots__ = ("column",)

    def __init__(self, column: pa.ChunkedArray) -> None:
        self.column = column

    def __len__(self) -> int:
        return len(self.column)

    def __getitem__(self, index: int) -> object:
        return self.column[index].as_py()


#: A stream's rows taken in one round: an Arrow table, or RawRecords for a RecordStream.
Part = pa.Table | list[RawRecord]
Round = tuple[list[FileProblem], list[tuple[str, Part]]]


def merge_streams(streams: list[Stream]) -> Iterator[Round]:
    """Rounds of (problems, parts): the union of each round's parts is the next slice of
    the log in replay order once sorted, and a one-part round is already sorted."""
    live = [s for s in streams if s.fill()]
    yield _drain(streams), []
    while live:
        if len(live) == 1:
            only = live[0]
            while True:
                yield _drain(streams), [(only.exchange, only.take_all())]
                if not only.fill():
                    break
            yield _drain(streams), []
            return
        for stream in live:
            # Only rows at its last timestamp left: more may follow at that same time,
            # so nothing could be emitted from it; read on now rather than a round later.
            while stream.waiting():
                stream.extend()
        bound = min(s.bound for s in live)
        parts = []
        for stream in live:
            head = stream.take_below(bound)
            if head is not None:
                parts.append((stream.exchange, head))
        if not parts:
            for stream in live:
                if stream.bound == bound:
                    stream.extend()
        live = [s for s in live if s.fill()]
        yield _drain(streams), parts


def _drain(streams: list[Stream]) -> list[FileProblem]:
    problems: list[FileProblem] = []
    for stream in streams:
        if stream.problems:
            problems.extend(stream.problems)
            stream.problems.clear()
    return problems


def _chunks(parts: list[tuple[str, pa.Table]], name: str) -> list[pa.Array]:
    return [chunk for _, table in parts for chunk in table.column(name).chunks]


def sort_permutation(parts: list[tuple[str, pa.Table]]) -> pa.Array:
    """Indices that put the concatenated parts in replay order (recv_ns, exchange, run, seq).

    Exchange and run are replaced by their rank among the round's names, so Arrow sorts
    four integer columns: several times faster than sorting on the strings.
    """
    exchanges = sorted({ex for ex, _ in parts})
    runs = [
        c if pa.types.is_dictionary(c.type) else pc.dictionary_encode(c)
        for c in _chunks(parts, "run")
    ]
    names = sorted({name for c in runs for name in c.dictionary.to_pylist() if name is not None})
    rank = {name: index for index, name in enumerate(names)}
    run_rank = [
        pc.take(
            int_array([rank.get(v, -1) for v in c.dictionary.to_pylist()], pa.int32()), c.indices
        )
        for c in runs
    ]
    exchange_rank = [
        pa.repeat(int_scalar(exchanges.index(ex), pa.int32()), table.num_rows)
        for ex, table in parts
    ]
    keys = pa.table(
        {
            "recv_ns": pa.concat_arrays(_chunks(parts, "recv_ns")),
            "exchange": pa.concat_arrays(exchange_rank),
            "run": pa.concat_arrays(run_rank),
            "seq": pa.concat_arrays(_chunks(parts, "seq")),
        }
    )
    order = [(name, "ascending") for name in ("recv_ns", "exchange", "run", "seq")]
    return pc.sort_indices(keys, sort_keys=order)


def concat_parts(parts: list[tuple[str, pa.Table]]) -> pa.Table:
    """The parts of a round as one table (RAW_SCHEMA plus a dictionary ``exchange``)."""
    return pa.concat_tables(
        [
            t.select(COLUMNS)
            .cast(RAW_SCHEMA)
            .append_column("exchange", pa.repeat(string_scalar(ex), t.num_rows).dictionary_encode())
            for ex, t in parts
        ]
    )


def chain_files(files: list[LogFile]) -> list[list[LogFile]]:
    """Group one exchange-hour's files into sequences that do not overlap in recv_ns."""
    chains: list[list[LogFile]] = []
    ordered = sorted(files, key=lambda f: (f.lo is None, f.lo or 0, f.hi or 0, f.path.name))
    for file in ordered:
        if file.lo is None or file.hi is None:
            chains.append([file])
            continue
        best = None
        for candidate in chains:
            tail = candidate[-1]
            if (
                tail.hi is not None
                and tail.hi < file.lo
                and (best is None or tail.hi > best[-1].hi)
            ):
                best = candidate
        if best is None:
            chains.append([file])
        else:
            best.append(file)
    return chains


def file_batches(
    files: list[LogFile],
    batch_size: int,
    keep: Callable[[pa.RecordBatch], pa.Table | pa.RecordBatch | None] | None = None,
) -> Iterator[pa.Table | pa.RecordBatch | FileProblem]:
    """The selected row groups of chained files as tables, or as what ``keep`` makes of
    each batch (filtered, or None to drop it); a file that fails part-way yields a
    FileProblem and the next file goes on."""
    for file in files:
        rows = 0
        try:
            for batch in file.pf.iter_batches(
                batch_size, row_groups=file.row_groups, columns=COLUMNS, use_threads=False
            ):
                rows += batch.num_rows
                table = keep(batch) if keep is not None else pa.Table.from_batches([batch])
                if table is not None and table.num_rows:
                    yield table
        except Exception as exc:  # a bad page must not end the replay
            yield FileProblem(file.path, file.partition, describe_error(exc), rows)
        finally:
            file.pf.close()


def describe_error(exc: BaseException) -> str:
    """``Type: message`` on one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
