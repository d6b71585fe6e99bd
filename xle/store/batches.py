"""The raw log in replay order as Arrow record batches: the columnar twin of ``chunks()``.

``LogRead.chunks()`` turns every batch into RawRecords as it is read. The engine's
compiled lane (``Engine.on_batch``) reads the columns themselves, so this reader keeps
the rows in Arrow: the same hours, files, filters and horizon merge, walked by one
``LogRead.rounds`` over Arrow streams (``xle.store.merge.Stream``, whose mixed rounds
are put in replay order by Arrow's sort, as compaction does), handing out
``(exchange, batch)`` pairs: ``exchange`` is the one exchange of every row, or None
when the batch carries an ``exchange`` column (a round merged from several exchanges).
An unreadable file is a ``corrupt_file`` RawRecord, alone in a list, exactly as
``chunks()`` yields it.

Read-ahead (``read_ahead=True``): the Parquet reading and merging run on a second
thread, at most ``_AHEAD`` rounds ahead of the caller, memory bounded by those few rounds.
Backtests use it; replays do not, by default. Measured on the reference machine (2 shared
cores): with 1,024-row batches the full replay took 5.3-5.9 s per million messages with it
and 5.0-5.3 s without (the GIL hand-offs cost more than the overlapped decompression
saved); with the lane's 4,096-row batches (2026-12-04) 3.2-3.5 s against 3.7-4.7 s, but
peak RSS 236 / 267 / 272 MB at 250k / 1M / 2M messages against a flat 224-229 MB, and a
replay must stay flat in the log's length. A backtest of the real capture ran 0.109 s
against 0.129 s (best of 6), its peak RSS over the generated logs 265 / 264 MB at 250k /
2M messages (233 / 272 MB without).
"""

from __future__ import annotations

import queue
import threading
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter

import pyarrow as pa

from xle.records import RawRecord
from xle.store.merge import (
    Stream,
    concat_parts,
    sort_permutation,
)
from xle.store.reader import LANE_BATCH_ROWS, LogRead

__all__ = [
    "Batch",
    "Round",
    "batch_rows",
    "last_recv_ns",
    "read_batches",
    "rows_before",
    "split_at",
]


@dataclass(frozen=True)
class Round:
    """A round of several exchanges, not merged: per exchange, in exchange-name order,
    its record batches in replay order (``Engine.on_round`` merges them as it feeds).
    Made with ``read_batches(..., rounds=True)`` when no two parts share an exchange."""

    parts: list[tuple[str, list[pa.RecordBatch]]]

    @property
    def num_rows(self) -> int:
        return sum(batch.num_rows for _, batches in self.parts for batch in batches)

    def last_recv_ns(self) -> int:
        return max(batches[-1].column("recv_ns")[-1].as_py() for _, batches in self.parts)


#: ``(exchange or None, record batch)``, a ``Round``, or a ``corrupt_file`` record alone
#: in a list.
Batch = tuple[str | None, pa.RecordBatch] | Round | list[RawRecord]

_RECV_NS = attrgetter("recv_ns")

#: Rounds the read-ahead thread may hold ready (each a few thousand rows).
_AHEAD = 4

_DONE = object()


def read_batches(
    read: LogRead, *, read_ahead: bool = False, rounds: bool = False, symbols: bool = True
) -> Iterator[Batch]:
    """The rows of ``read`` in replay order as record batches (see the module notes);
    ``recv_ns < read.start_ns`` rows are the warm-up, as with ``read.chunks()``.

    ``rounds``: a round of several exchanges comes as a ``Round`` of unmerged parts
    (the compiled lane merges them as it feeds them, which costs next to nothing, where
    Arrow's concatenation and sort cost as much as the rest of the read).

    ``symbols=False`` leaves the rows of other symbols in the batches for a caller that
    skips them itself (``Lane.prepare(..., read.symbol_filter)``): filtering a batch
    copies it, and costs more than the lane's reading of the rows it would drop."""
    if not read_ahead:
        yield from _batches(read, rounds, symbols)
        return
    yield from _ahead(_batches(read, rounds, symbols))


def rows_before(batch: pa.RecordBatch, ns: int) -> int:
    """How many rows of ``batch`` (in ``recv_ns`` order) come before ``ns``: the warm-up
    prefix of a batch that straddles a replay's start."""
    recv = batch.column("recv_ns")
    if not len(recv) or recv[0].as_py() >= ns:
        return 0
    return bisect_left(_Column(recv), ns)


def split_at(item: Batch, ns: int) -> tuple[Batch | None, Batch | None]:
    """``(rows before ns, rows from ns on)`` of an item of ``read_batches``, each None
    when it holds no row: a replay's warm-up, or the end of a shard's window."""
    if isinstance(item, list):  # records in replay order (a ``corrupt_file`` record)
        count = bisect_left(item, ns, key=_RECV_NS)
        return (item[:count] or None, item[count:] or None)
    if isinstance(item, Round):
        before: list[tuple[str, list[pa.RecordBatch]]] = []
        after: list[tuple[str, list[pa.RecordBatch]]] = []
        for exchange, batches in item.parts:
            head: list[pa.RecordBatch] = []
            tail: list[pa.RecordBatch] = []
            for batch in batches:
                count = rows_before(batch, ns)
                if count:
                    head.append(batch if count == batch.num_rows else batch.slice(0, count))
                if count < batch.num_rows:
                    tail.append(batch.slice(count) if count else batch)
            if head:
                before.append((exchange, head))
            if tail:
                after.append((exchange, tail))
        return (Round(before) if before else None, Round(after) if after else None)
    exchange, batch = item
    count = rows_before(batch, ns)
    if count == 0:
        return None, item
    if count == batch.num_rows:
        return item, None
    return (exchange, batch.slice(0, count)), (exchange, batch.slice(count))


def batch_rows(item: Batch) -> int:
    """Rows of an item of ``read_batches``."""
    if isinstance(item, list):
        return len(item)
    return item.num_rows if isinstance(item, Round) else item[1].num_rows


def last_recv_ns(item: Batch) -> int:
    """``recv_ns`` of the last row of an item of ``read_batches``."""
    if isinstance(item, list):
        return item[-1].recv_ns
    if isinstance(item, Round):
        return item.last_recv_ns()
    return item[1].column("recv_ns")[-1].as_py()


class _Column:
    """An int64 Arrow array as a sequence of ints, for ``bisect``."""

    __slots__ = ("array",)

    def __init__(self, array: pa.Array) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: int) -> int:
        return self.array[index].as_py()


def _batches(read: LogRead, rounds: bool, symbols: bool = True) -> Iterator[Batch]:
    """``read.rounds`` on Arrow streams: a round of one exchange, or of several when
    ``rounds`` is off or two parts share an exchange, becomes record batches (merged by
    Arrow's sort); a ``corrupt_file`` record comes alone in a list."""
    size = read.batch_size or LANE_BATCH_ROWS
    for item in read.rounds(Stream, _table_filter(read, symbols), _last_table_ns, size):
        if isinstance(item, RawRecord):
            yield [item]
            continue
        parts = item
        if len(parts) == 1:
            exchange, table = parts[0]
        elif rounds and len({exchange for exchange, _ in parts}) == len(parts):
            ordered = sorted(parts, key=lambda part: part[0])
            yield Round([(exchange, table.to_batches()) for exchange, table in ordered])
            continue
        else:
            exchange = None
            table = concat_parts(parts).take(sort_permutation(parts))
        for batch in table.to_batches():
            if batch.num_rows:
                yield exchange, batch


def _last_table_ns(table: pa.Table) -> int:
    return table.column("recv_ns")[-1].as_py()


def _table_filter(read: LogRead, symbols: bool = True):
    """``read``'s batch filter, giving tables (what ``Stream`` concatenates)."""

    def keep(batch: pa.RecordBatch) -> pa.Table | None:
        kept = read.filter_batch(batch, symbols)
        if kept is None:
            return None
        return pa.Table.from_batches([kept]) if isinstance(kept, pa.RecordBatch) else kept

    return keep


def _ahead(items: Iterator[Batch]) -> Iterator[Batch]:
    """``items`` produced on a second thread, a bounded queue ahead of the consumer; an
    exception there is raised here, and a consumer that stops early stops the thread."""
    ready: queue.Queue = queue.Queue(_AHEAD)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=produce, name="xle-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
