"""Read the raw event log back in replay order: ``read_records``, the one way in.

``read_records(root, start_ns, end_ns)`` covers ``start_ns`` to ``end_ns`` *inclusive*
(as ``xle replay --from/--to`` do) and, by default, starts reading early enough to
rebuild every book as a full replay has it at ``start_ns``: from the earliest latest
snapshot over all books, found by ``xle.store.seek.plan_seek``. The records read before
``start_ns`` are the warm-up: a caller feeds them to the engine and drops their outputs.
They are a prefix, since ``recv_ns`` never goes back in replay order. With
``warm_up=False`` the read is exactly the range.

Partitions are pruned by path (exchange, date, hour; ``xle.store.listing``), so a
one-hour query never opens another hour's files, then the files of each hour are merged
in replay order ``(recv_ns, exchange, run, seq)`` (``xle.store.merge``). Hours never
overlap in ``recv_ns``, so they are read one after the other; only the files of the
current hour are open, each stream holding about one batch of records, and batches are
small enough for Arrow's allocator to recycle their buffers at once (``_BATCH_ROWS``):
memory does not grow with the length of the log.

A file that cannot be read becomes a control record (``kind="event"``,
``stream="corrupt_file"``, payload ``{"file", "error"}``) and the read goes on;
``check_files`` reports the same problems up front for a CLI that prefers to stop.

Before listing anything, the reader converts the journals of crashed recorder runs to
Parquet (``xle.store.writer.recover_journals``; never a live writer's), and it keeps in
``LogRead.notices`` what a person should hear: what was recovered, damaged journal
batches dropped, impossible partition names and files it skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xle.errors import DataError
from xle.exchanges.registry import EXCHANGES, find_venue
from xle.records import RawRecord
from xle.store.arrow_values import int_scalar, string_array
from xle.store.fs import as_root, is_remote
from xle.store.layout import RAW_SCHEMA, Notice, Partition
from xle.store.listing import hour_dirs, live_files, log_exchanges
from xle.store.merge import (
    COLUMNS,
    INF,
    FileProblem,
    LogFile,
    RecordStream,
    Stream,
    chain_files,
    concat_parts,
    file_batches,
    merge_streams,
    open_log_file,
    problem_of,
    sort_permutation,
)
from xle.store.seek import DEFAULT_MARGIN_NS, SeekPlan, plan_seek

__all__ = [
    "LANE_BATCH_ROWS",
    "REPLAY_BATCH_ROWS",
    "FileProblem",
    "LogRead",
    "check_files",
    "corrupt_record",
    "read_merged",
    "read_records",
]

#: Most records handed out in one chunk (a round larger than this, from a large
#: ``batch_size``, is split).
_CHUNK = 4096

#: Rows per Parquet batch and stream for RawRecords (``chunks()``). Why not more: Parquet
#: grows a batch's payload buffer by doubling, and blocks that large go back to Arrow's
#: allocator (mimalloc) as whole pages that it only returns to the OS a second later; with
#: sizes that differ batch to batch they are not all reused. A batch is also what becomes
#: RawRecords in one go, and that is fastest while the rows stay in the CPU cache: the
#: RawRecord replay of 250k messages took 1.5-1.6 s at 1,024 rows, 1.7 s at 4,096.
_BATCH_ROWS = 1024

#: Rows per batch for the compiled lane (``xle.store.batches.read_batches``): every batch
#: costs a fixed amount on top of its rows (the Parquet reader's call, the filter, the
#: lane's ``prepare``, a backtest's stop), which 4,096 rows spread. Peak RSS stays flat:
#: full replay 224 / 225 / 229 MB at 250k / 1M / 2M messages (8,192 rows: 254 to 322 MB,
#: growing), 8-10 % faster than at 1,024 rows, a real-data backtest 15 % faster. Figures:
#: benchmarks/README.md, "Measurements behind the code".
LANE_BATCH_ROWS = 4096

#: Rows per batch of a replay's read (``run_replay``, a fanned-out shard), which stops
#: nowhere per batch, unlike a backtest. At 1,024 rows each batch's payload buffer stays
#: small enough for the allocator to reuse, where 4,096-row batches (up to 8 MB of
#: Coinbase frames) are grown into fresh pages by reallocation and copying: the 1M log on
#: one core in 2.70-2.86 s against 2.79-2.98 s, kernel time 0.10-0.21 s against
#: 0.23-0.45 s, peak RSS 151 MB against 237 MB (2026-12-05, six interleaved runs each;
#: benchmarks/README.md, "Measurements behind the code").
REPLAY_BATCH_ROWS = 1024

#: Sort key of replay order (docs/design.md, "The raw event log").
_REPLAY_ORDER = attrgetter("recv_ns", "exchange", "run", "seq")
_RECV_NS = attrgetter("recv_ns")


def corrupt_record(data_root: Path, problem: FileProblem, recv_ns: int) -> RawRecord:
    """The control record standing in for an unreadable file in the replay."""
    try:
        name = problem.path.relative_to(data_root).as_posix()
    except ValueError:
        name = problem.path.as_posix()
    body = {"file": name, "error": problem.error}
    if problem.rows_read:
        body["rows_read"] = problem.rows_read
    payload = json.dumps(body, sort_keys=True).encode()
    return RawRecord(
        recv_ns, problem.partition.exchange, "", 0, 0, "event", "corrupt_file", None, payload
    )


# --------------------------------------------------------------------------- reader


def read_records(
    data_root: Path,
    start_ns: int | None = None,
    end_ns: int | None = None,
    *,
    exchanges: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    warm_up: bool = True,
    margin_ns: int = DEFAULT_MARGIN_NS,
    max_lookback_ns: int | None = None,
    batch_size: int | None = None,
    recover: bool = True,
) -> LogRead:
    """The records of ``data_root`` from ``start_ns`` to ``end_ns``, both inclusive.

    ``None`` is the start or the end of the log. Iterating the result gives
    ``(record, warm_up)`` pairs; ``.records()`` the records alone and ``.chunks()`` lists
    of a few thousand (the replay's hot path: a generator step per record costs more
    than the engine's cheapest work). See ``LogRead`` for the rest of the options.
    """
    return LogRead(
        data_root,
        start_ns,
        end_ns,
        exchanges=exchanges,
        symbols=symbols,
        warm_up=warm_up,
        margin_ns=margin_ns,
        max_lookback_ns=max_lookback_ns,
        batch_size=batch_size,
        recover=recover,
    )


class LogRead:
    """One read of the raw log in replay order, streamed (made by ``read_records``).

    The range is ``[start_ns, end_ns]``, both ends inclusive. With ``warm_up`` (the
    default) and a ``start_ns``, reading begins where every book can be rebuilt as of
    ``start_ns`` (``xle.store.seek.plan_seek``: the earliest latest snapshot over all
    books, minus ``margin_ns``; ``max_lookback_ns`` bounds that scan), and the records
    before ``start_ns`` are the warm-up. Records of every book are read from that one
    point on, never a per-book cut: Coinbase counts ``sequence_num`` per connection
    across products, so a cut would look like a gap.

    ``exchanges=None`` reads every known exchange (``xle.exchanges.registry.EXCHANGES``) the log
    holds; a partition of an unknown one is not the replay's to decode. ``symbols``
    keeps the records of those symbols and those without a symbol (control events), and
    only when no Coinbase venue is read: Coinbase counts ``sequence_num`` per connection
    across products, so dropping the other products' frames would look like gaps
    (callers filter outputs by ``Scope`` anyway).

    Unreadable files yield a ``corrupt_file`` control record at ``max(start of the
    file's hour, read start)`` if they fail to open, or at the current position of the
    read if they fail part-way (so ``recv_ns`` never goes back); they are also collected
    in ``problems``. ``notices`` lists, for the caller to show, what the reader did or
    skipped besides reading (``xle.store.layout.Notice``): journals of crashed runs it
    recovered (unless ``recover=False``), damaged journal batches dropped, impossible
    partition names, unreadable and wrong-schema files (as they are met).

    Memory: one hour's files are open at a time, each stream holding about
    ``batch_size`` rows, whatever the length of the log.
    """

    def __init__(
        self,
        data_root: Path,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        exchanges: Sequence[str] | None = None,
        symbols: Sequence[str] | None = None,
        warm_up: bool = True,
        margin_ns: int = DEFAULT_MARGIN_NS,
        max_lookback_ns: int | None = None,
        batch_size: int | None = None,
        recover: bool = True,
    ) -> None:
        self.data_root = as_root(data_root)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.symbols = tuple(symbols) if symbols is not None else None
        self.warm_up = warm_up and start_ns is not None
        self.margin_ns = margin_ns
        self.max_lookback_ns = max_lookback_ns
        #: Rows per Parquet batch; None: each way of reading picks its own (``chunks()``
        #: 1,024, ``read_batches`` ``LANE_BATCH_ROWS``).
        self.batch_size = batch_size
        self.problems: list[FileProblem] = []
        self.notices: list[Notice] = []
        self._stop_ns = None if end_ns is None else end_ns + 1  # exclusive, inside
        self._plan: SeekPlan | None = None
        if recover and not is_remote(self.data_root):
            # Journals live on the recorders' local disks, never on object storage.
            # A run killed before it rolled has its records only in the journal (and no
            # partition yet: this comes before any listing or seek).
            from xle.store.writer import recover_journals

            self._note(recover_journals(self.data_root, sweep=False).notices)
        if exchanges is None:
            exchanges = [name for name in log_exchanges(self.data_root) if name in EXCHANGES]
        self.exchanges = tuple(exchanges)
        prune = self.symbols
        if prune is not None and any(
            (spec := find_venue(ex)) is not None and spec.sequence_scope == "connection"
            for ex in self.exchanges
        ):
            # A venue whose sequence numbers span a connection (Coinbase) would look gapped
            # without the other products' frames; callers filter outputs by scope anyway.
            prune = None
        self._prune = prune
        self._symbol_set = string_array(prune) if prune is not None else None

    @property
    def plan(self) -> SeekPlan | None:
        """The snapshot scan behind the warm-up (None without one); made once, on use."""
        if self._plan is None and self.warm_up:
            assert self.start_ns is not None
            self._plan = plan_seek(
                self.data_root,
                self.start_ns,
                exchanges=self.exchanges,
                symbols=self._prune,
                margin_ns=self.margin_ns,
                max_lookback_ns=self.max_lookback_ns,
            )
        return self._plan

    @property
    def read_from_ns(self) -> int | None:
        """Where reading starts: the seek point with a warm-up, else ``start_ns``."""
        plan = self.plan
        return plan.read_from_ns if plan is not None else self.start_ns

    def _note(self, notices: Sequence[Notice]) -> None:
        for notice in notices:
            if notice not in self.notices:
                self.notices.append(notice)

    def _hours_by_index(self) -> dict[int, list[tuple[Partition, Path]]]:
        """The partitions to read, by hour index (``rounds`` walks them)."""
        bad: list[Notice] = []
        hours = hour_dirs(self.data_root, self.exchanges, self.read_from_ns, self._stop_ns, bad)
        self._note(bad)
        return hours

    def _note_problem(self, problem: FileProblem) -> None:
        """Keep an unreadable file's problem and its notice."""
        self.problems.append(problem)
        self._note([problem.notice()])

    # ----------------------------------------------------------------- listing

    def partitions(self) -> list[tuple[Partition, Path]]:
        """Partition directories the query touches, in (hour, exchange) order."""
        return [entry for entries in self._hours_by_index().values() for entry in entries]

    def files(self) -> list[Path]:
        """The files the query would read (after partition pruning), in hour order."""
        return [path for _, directory in self.partitions() for path in live_files(directory)]

    # ----------------------------------------------------------------- reading

    def __iter__(self) -> Iterator[tuple[RawRecord, bool]]:
        """``(record, warm_up)``: a warm-up record must be fed to the engine, but its
        outputs are not the read's."""
        if not self.warm_up:
            for chunk in self.chunks():
                for rec in chunk:
                    yield rec, False
            return
        start = self.start_ns
        for chunk in self.chunks():
            for rec in chunk:
                yield rec, rec.recv_ns < start

    def records(self) -> Iterator[RawRecord]:
        """The records alone (warm-up ones included: those with ``recv_ns < start_ns``)."""
        return chain.from_iterable(self.chunks())

    def chunks(self) -> Iterator[list[RawRecord]]:
        """The records in replay order, a few thousand at a time (cheaper to loop over).

        The warm-up records are those with ``recv_ns < start_ns``, a prefix. A
        ``corrupt_file`` record always comes alone in its chunk (``run_replay`` relies
        on it to look for one only in one-record chunks)."""
        size = self.batch_size or _BATCH_ROWS
        for item in self.rounds(RecordStream, self.filter_batch, _last_record_ns, size):
            if isinstance(item, RawRecord):
                yield [item]
                continue
            for records in self._records(item):
                if records:
                    yield records

    def rounds(
        self,
        stream: type[Stream],
        keep: Callable[[pa.RecordBatch], object],
        last_ns: Callable[[Any], int],
        batch_size: int,
    ) -> Iterator[RawRecord | list[tuple[str, Any]]]:
        """Hour by hour, the rounds of the horizon merge (``merge_streams``) of streams of
        type ``stream`` whose batches pass ``keep``: each round a list of parts
        ``(exchange, rows)``; ``last_ns(rows)`` is the ``recv_ns`` of a part's last row.
        A file that cannot be read becomes a ``corrupt_file`` record, noted, and stamped
        at the latest time already handed out (``chunks()`` and ``read_batches`` walk
        this one skeleton)."""
        start = self.read_from_ns
        watermark = start if start is not None else -INF
        for entries in self._hours_by_index().values():
            streams, problems = self._open_hour(entries, stream, keep, batch_size)
            first = max(entries[0][0].start_ns, watermark)
            for problem in problems:
                self._note_problem(problem)
                yield corrupt_record(self.data_root, problem, first)
            for problems, parts in merge_streams(streams):
                for problem in problems:
                    self._note_problem(problem)
                    yield corrupt_record(
                        self.data_root, problem, max(watermark, problem.partition.start_ns)
                    )
                lasts = [last_ns(rows) for _exchange, rows in parts if len(rows)]
                if lasts:
                    watermark = max(lasts)
                    yield parts

    def _records(self, parts: list[tuple[str, list[RawRecord]]]) -> Iterator[list[RawRecord]]:
        if len(parts) == 1:
            merged = parts[0][1]
        else:
            # Each part is already in replay order: let Timsort merge the runs (stable,
            # so ties keep the parts' order). With one part per exchange, laid out in
            # exchange order, a stable sort on ``recv_ns`` alone gives the same order
            # (ties: exchange, then the part's own (run, seq) order) and compares ints
            # instead of building a 4-tuple per record.
            exchanges = [exchange for exchange, _rows in parts]
            distinct = len(set(exchanges)) == len(exchanges)
            if distinct:
                parts = sorted(parts, key=itemgetter(0))
            merged = list(chain.from_iterable(rows for _exchange, rows in parts))
            merged.sort(key=_RECV_NS if distinct else _REPLAY_ORDER)
        if len(merged) <= _CHUNK:
            yield merged
            return
        for offset in range(0, len(merged), _CHUNK):
            yield merged[offset : offset + _CHUNK]

    def _open_hour(
        self,
        entries: list[tuple[Partition, Path]],
        stream: type[Stream],
        keep: Callable[[pa.RecordBatch], object],
        batch_size: int,
    ) -> tuple[list[Stream], list[FileProblem]]:
        """Open every file of one hour (holding them open survives a concurrent
        compaction deleting them) and group them into streams."""
        streams: list[Stream] = []
        problems: list[FileProblem] = []
        for partition, directory in entries:
            opened, failed = self._open_partition(partition, directory)
            problems.extend(failed)
            for files in chain_files(opened):
                opened_stream = stream(partition.exchange, files)
                opened_stream.batches = file_batches(files, batch_size, keep)
                streams.append(opened_stream)
        return streams, problems

    def _open_partition(
        self, partition: Partition, directory: Path
    ) -> tuple[list[LogFile], list[FileProblem]]:
        """The partition's live files opened for this read, and those that failed; a
        file compacted away between listing and opening makes it list again."""
        for attempt in range(3):
            opened: list[LogFile] = []
            failed: list[FileProblem] = []
            vanished = False
            for path in live_files(directory, fresh=attempt > 0):
                try:
                    file = open_log_file(path, partition, self.read_from_ns, self._stop_ns)
                except FileNotFoundError:
                    vanished = True  # compacted away between listing and opening
                    break
                except Exception as exc:  # any unreadable file is reported
                    failed.append(problem_of(path, partition, exc))
                    continue
                if file.row_groups:
                    opened.append(file)
            if not vanished or attempt == 2:
                return opened, failed
        raise AssertionError("unreachable")

    @property
    def symbol_filter(self) -> frozenset[str] | None:
        """The symbols whose rows this read keeps (with those without a symbol), or None
        for every row: what ``filter_batch(..., symbols=False)`` leaves to the caller."""
        return frozenset(self._prune) if self._prune is not None else None

    def filter_batch(self, batch: pa.RecordBatch, symbols: bool = True) -> pa.RecordBatch | None:
        """The rows of ``batch`` this read wants: its time range and, unless ``symbols``
        is False, its symbols."""
        if batch.num_rows == 0:
            return None
        recv = batch.column(0)
        mask = None
        # Bounds go in as Arrow scalars: with a Python int, every pyarrow.compute call
        # tries to import dateutil first (costly when it is not installed; see
        # benchmarks/README.md), and ``pa.scalar`` imports pandas (``arrow_values``).
        start, stop = self.read_from_ns, self._stop_ns
        if start is not None and recv[0].as_py() < start:
            mask = pc.greater_equal(recv, int_scalar(start, pa.int64()))
        if stop is not None and recv[-1].as_py() >= stop:
            below = pc.less(recv, int_scalar(stop, pa.int64()))
            mask = below if mask is None else pc.and_(mask, below)
        if symbols and self._symbol_set is not None:
            symbol = batch.column(6)
            keep = pc.or_(pc.is_in(symbol, value_set=self._symbol_set), pc.is_null(symbol))
            mask = keep if mask is None else pc.and_(mask, keep)
        if mask is not None:
            batch = batch.filter(mask)
        return batch if batch.num_rows else None


def check_files(
    data_root: Path,
    *,
    exchanges: Sequence[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    deep: bool = False,
) -> list[FileProblem]:
    """Problems of the files a read of ``[start_ns, end_ns]`` (inclusive, without warm-up)
    would meet: footers only, or every page with ``deep``.

    For a CLI that prefers a one-line error (``problem.message()``) to a replay that
    carries on past a bad file.
    """
    read = LogRead(data_root, start_ns, end_ns, exchanges=exchanges, warm_up=False, recover=True)
    stop = read._stop_ns
    problems: list[FileProblem] = []
    for partition, directory in read.partitions():
        for path in live_files(directory):
            try:
                file = open_log_file(path, partition, start_ns, stop)
                if deep:
                    for _ in file.pf.iter_batches(65_536, use_threads=False):
                        pass
                file.pf.close()
            except Exception as exc:  # reporting is the point
                problems.append(problem_of(path, partition, exc))
    return problems


def read_merged(
    files: Sequence[Path], partition: Partition, *, batch_size: int = 65_536
) -> Iterator[pa.Table]:
    """Every row of exactly ``files`` (all of ``partition``) in replay order, as tables.

    For compaction, which must account for each input file: no time or symbol filter,
    no pruning, and an unreadable file raises ``DataError`` instead of being skipped.
    """
    opened = []
    for path in files:
        try:
            opened.append(open_log_file(path, partition, None, None))
        except Exception as exc:
            raise DataError(problem_of(path, partition, exc).message()) from exc
    streams = [
        Stream(partition.exchange, chained, batches=file_batches(chained, batch_size))
        for chained in chain_files([f for f in opened if f.row_groups])
    ]
    for problems, parts in merge_streams(streams):
        if problems:
            raise DataError(problems[0].message())
        if not parts:
            continue
        if len(parts) == 1:
            yield parts[0][1].select(COLUMNS).cast(RAW_SCHEMA)
        else:
            yield concat_parts(parts).take(sort_permutation(parts)).select(COLUMNS)


def _last_record_ns(rows: list[RawRecord]) -> int:
    return rows[-1].recv_ns
