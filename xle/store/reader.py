"""Read the raw event log back in replay order (DESIGN sections 3 and 5).

``LogReader`` prunes partitions by path (exchange, date, hour), so a one-hour query never
opens another hour's files, then merges the files of each hour in replay order
``(recv_ns, exchange, run, seq)`` (see ``xle.store.merge``). Hours never overlap in
``recv_ns``, so they are read one after the other; only the files of the current hour
are open, each stream holding about one batch of records, and batches are small enough
for Arrow's allocator to recycle their buffers at once (``_BATCH_ROWS``): memory does not
grow with the length of the log.

A file that cannot be read becomes a control record (``kind="event"``,
``stream="corrupt_file"``, payload ``{"file", "error"}``) and the replay goes on;
``check_files`` reports the same problems up front for a CLI that prefers to stop.

Before listing anything, the reader converts the journals of crashed recorder runs to
Parquet (``xle.store.writer.recover_journals``; never a live writer's), and it
keeps in ``LogReader.notices`` what a person should hear: what was recovered, damaged
journal batches dropped, impossible partition names and files it skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xle.errors import DataError
from xle.records import RawRecord
from xle.store.layout import (
    COMPACTED_FROM_KEY,
    HOUR_NS,
    RAW_SCHEMA,
    Notice,
    Partition,
    is_log_file,
    parse_partition,
    partition_value_problem,
)
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
from xle.store.paths import raw_dir

if TYPE_CHECKING:
    from xle.store.seek import SeekPlan

__all__ = [
    "FileProblem",
    "LogReader",
    "check_files",
    "corrupt_record",
    "hour_dirs",
    "live_files",
    "read_merged",
    "replay_chunks_from",
    "replay_from",
]

#: Most records handed out in one chunk (a round larger than this, from a large
#: ``batch_size``, is split).
_CHUNK = 4096

#: Rows per Parquet batch and stream. Why not more: Parquet grows a batch's payload buffer
#: by doubling (a 4,096-row batch of 2 kB Coinbase frames reallocates up to 16 MB), and
#: blocks that large go back to Arrow's allocator (mimalloc) as whole pages that it only
#: returns to the OS a second later; with sizes that differ batch to batch they are not
#: all reused, so the retained memory wandered and peak RSS rose with the length of the
#: log (4,096 rows: 214 / 234 / 234 MB for 250 k / 1 M / 2 M messages). At 1,024 rows the
#: blocks stay small enough to be recycled at once: 141 MB for all three, same CPU. A
#: batch is also what becomes RawRecords in one go, and that is fastest while the rows
#: stay in the CPU cache (about 380 vs 700 ns/record at 64k rows).
_BATCH_ROWS = 1024

#: Sort key of replay order (DESIGN section 5).
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


# --------------------------------------------------------------------------- listing


def hour_dirs(
    data_root: Path,
    exchanges: Sequence[str] | None,
    start_ns: int | None,
    end_ns: int | None,
    bad: list[Notice] | None = None,
) -> dict[int, list[tuple[Partition, Path]]]:
    """Partition directories inside the time range, by hour index, from the paths alone.

    Directories named like a partition but impossible (``date=garbage``, ``hour=25``) are
    skipped and, with ``bad``, reported there as ``bad_partition`` notices.
    """
    root = raw_dir(Path(data_root))
    lo = (start_ns // HOUR_NS) if start_ns is not None else None
    hi = ((end_ns - 1) // HOUR_NS) if end_ns is not None else None
    wanted = set(exchanges) if exchanges is not None else None
    found: dict[int, list[tuple[Partition, Path]]] = {}
    if not root.is_dir():
        return found
    for ex_dir in sorted(root.iterdir()):
        if not ex_dir.name.startswith("exchange=") or not ex_dir.is_dir():
            continue
        if wanted is not None and ex_dir.name.removeprefix("exchange=") not in wanted:
            continue
        for date_dir in sorted(ex_dir.iterdir()):
            day = parse_partition(date_dir / "hour=00")
            if day is None or not date_dir.is_dir():
                if bad is not None and date_dir.name.startswith("date=") and date_dir.is_dir():
                    bad.append(_bad_partition(date_dir))
                continue
            first = day.hour_index
            if (hi is not None and first > hi) or (lo is not None and first + 23 < lo):
                continue
            for hour_dir in sorted(date_dir.iterdir()):
                partition = parse_partition(hour_dir)
                if partition is None or not hour_dir.is_dir():
                    if bad is not None and hour_dir.name.startswith("hour=") and hour_dir.is_dir():
                        bad.append(_bad_partition(hour_dir))
                    continue
                index = partition.hour_index
                if (lo is None or index >= lo) and (hi is None or index <= hi):
                    found.setdefault(index, []).append((partition, hour_dir))
    return dict(sorted(found.items()))


def _bad_partition(directory: Path) -> Notice:
    detail = partition_value_problem(directory.name) or "impossible partition name: skipped"
    return Notice("bad_partition", directory, detail)


def _compacted_sources(path: Path) -> set[str]:
    meta = pq.read_metadata(path).metadata or {}
    raw = meta.get(COMPACTED_FROM_KEY)
    return set(json.loads(raw)) if raw else set()


def live_files(directory: Path) -> list[Path]:
    """Finished files of a partition, minus those a compacted file already holds."""
    try:
        names = sorted(p for p in directory.iterdir() if is_log_file(p))
    except FileNotFoundError:
        return []
    covered: set[str] = set()
    for path in names:
        if path.name.startswith("compacted-"):
            try:
                covered |= _compacted_sources(path)
            except Exception:  # reported when the file itself is read
                continue
    return [p for p in names if p.name not in covered]


# --------------------------------------------------------------------------- reader


class LogReader:
    """The raw log of ``data_root`` as RawRecords in replay order, streamed.

    ``start_ns`` is inclusive, ``end_ns`` exclusive. With ``symbols``, records without a
    symbol (control events) are kept. Unreadable files yield a ``corrupt_file`` control
    record at ``max(start of the file's hour, start_ns)`` if they fail to open, or at
    the current position of the replay if they fail part-way (so ``recv_ns`` never goes
    back); they are also collected in ``problems``.

    ``notices`` lists, for the caller to show, what the reader did or skipped besides
    reading (``xle.store.layout.Notice``): journals of crashed runs it recovered (unless
    ``recover=False``), damaged journal batches dropped, impossible partition names,
    unreadable and wrong-schema files (as they are met).

    Memory: one hour's files are open at a time, each stream holding about
    ``batch_size`` rows, whatever the length of the log.
    """

    def __init__(
        self,
        data_root: Path,
        *,
        exchanges: Sequence[str] | None = None,
        symbols: Sequence[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        batch_size: int = _BATCH_ROWS,
        recover: bool = True,
    ) -> None:
        self.data_root = Path(data_root)
        self.exchanges = tuple(exchanges) if exchanges is not None else None
        self.symbols = tuple(symbols) if symbols is not None else None
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.batch_size = batch_size
        self.problems: list[FileProblem] = []
        self.notices: list[Notice] = []
        self._symbol_set = pa.array(self.symbols, pa.string()) if self.symbols is not None else None
        if recover:
            # A run killed before it rolled has its records only in the journal.
            from xle.store.writer import recover_journals

            self._note(recover_journals(self.data_root, sweep=False).notices)

    def _note(self, notices: Sequence[Notice]) -> None:
        for notice in notices:
            if notice not in self.notices:
                self.notices.append(notice)

    def _hours(self) -> dict[int, list[tuple[Partition, Path]]]:
        bad: list[Notice] = []
        hours = hour_dirs(self.data_root, self.exchanges, self.start_ns, self.end_ns, bad)
        self._note(bad)
        return hours

    def _problem(self, problem: FileProblem) -> None:
        self.problems.append(problem)
        self._note([problem.notice()])

    # ----------------------------------------------------------------- listing

    def partitions(self) -> list[tuple[Partition, Path]]:
        """Partition directories the query touches, in (hour, exchange) order."""
        return [entry for entries in self._hours().values() for entry in entries]

    def files(self) -> list[Path]:
        """The files the query would read (after partition pruning), in hour order."""
        return [path for _, directory in self.partitions() for path in live_files(directory)]

    # ----------------------------------------------------------------- reading

    def __iter__(self) -> Iterator[RawRecord]:
        return chain.from_iterable(self.chunks())

    def chunks(self) -> Iterator[list[RawRecord]]:
        """The records in replay order, a few thousand at a time (cheaper to loop over).

        A ``corrupt_file`` record always comes alone in its chunk (``run_replay`` relies
        on it to look for one only in one-record chunks)."""
        watermark = self.start_ns if self.start_ns is not None else -INF
        for entries in self._hours().values():
            streams, problems = self._open_hour(entries)
            first = max(entries[0][0].start_ns, watermark)
            for problem in problems:
                self._problem(problem)
                yield [corrupt_record(self.data_root, problem, first)]
            for problems, parts in merge_streams(streams):
                for problem in problems:
                    self._problem(problem)
                    at = max(watermark, problem.partition.start_ns)
                    yield [corrupt_record(self.data_root, problem, at)]
                if not parts:
                    continue
                for records in self._records(parts):
                    if records:
                        watermark = records[-1].recv_ns
                        yield records

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
        self, entries: list[tuple[Partition, Path]]
    ) -> tuple[list[Stream], list[FileProblem]]:
        """Open every file of one hour (holding them open survives a concurrent
        compaction deleting them) and group them into streams."""
        streams: list[Stream] = []
        problems: list[FileProblem] = []
        for partition, directory in entries:
            opened, failed = self._open_partition(partition, directory)
            problems.extend(failed)
            for files in chain_files(opened):
                stream = RecordStream(partition.exchange, files)
                stream.batches = file_batches(files, self.batch_size, self._filter)
                streams.append(stream)
        return streams, problems

    def _open_partition(
        self, partition: Partition, directory: Path
    ) -> tuple[list[LogFile], list[FileProblem]]:
        for attempt in range(3):
            opened: list[LogFile] = []
            failed: list[FileProblem] = []
            vanished = False
            for path in live_files(directory):
                try:
                    file = open_log_file(path, partition, self.start_ns, self.end_ns)
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

    def _filter(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        if batch.num_rows == 0:
            return None
        recv = batch.column(0)
        mask = None
        # Bounds go in as Arrow scalars: with a Python int, every pyarrow.compute call
        # tries to import dateutil first (about 120 µs when it is not installed).
        if self.start_ns is not None and recv[0].as_py() < self.start_ns:
            mask = pc.greater_equal(recv, pa.scalar(self.start_ns, pa.int64()))
        if self.end_ns is not None and recv[-1].as_py() >= self.end_ns:
            below = pc.less(recv, pa.scalar(self.end_ns, pa.int64()))
            mask = below if mask is None else pc.and_(mask, below)
        if self._symbol_set is not None:
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
    """Problems of the files a query would read: footers only, or every page with ``deep``.

    For a CLI that prefers a one-line error (``problem.message()``) to a replay that
    carries on past a bad file.
    """
    reader = LogReader(data_root, exchanges=exchanges, start_ns=start_ns, end_ns=end_ns)
    problems: list[FileProblem] = []
    for partition, directory in reader.partitions():
        for path in live_files(directory):
            try:
                file = open_log_file(path, partition, start_ns, end_ns)
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
            opened.append(open_log_file(Path(path), partition, None, None))
        except Exception as exc:
            raise DataError(problem_of(Path(path), partition, exc).message()) from exc
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


def replay_from(
    data_root: Path,
    start_ns: int,
    end_ns: int | None,
    *,
    exchanges: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    margin_ns: int = 5_000_000_000,
    max_lookback_ns: int | None = None,
    plan: SeekPlan | None = None,
) -> Iterator[tuple[RawRecord, bool]]:
    """``(record, warm_up)`` from the point that rebuilds every book as of ``start_ns``.

    Warm-up records (``recv_ns < start_ns``) must be fed to the engine but their outputs
    dropped. Where reading starts is ``xle.store.seek.plan_seek``: the earliest latest
    snapshot at or before ``start_ns`` over all books, minus ``margin_ns``. Records of
    every book are fed from that one point on (never a per-book cut: Coinbase counts
    ``sequence_num`` per connection across products, so a cut would look like a gap).
    """
    chunks = replay_chunks_from(
        data_root,
        start_ns,
        end_ns,
        exchanges=exchanges,
        symbols=symbols,
        margin_ns=margin_ns,
        max_lookback_ns=max_lookback_ns,
        plan=plan,
    )
    for chunk in chunks:
        for rec in chunk:
            yield rec, rec.recv_ns < start_ns


def replay_chunks_from(
    data_root: Path,
    start_ns: int,
    end_ns: int | None,
    *,
    exchanges: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    margin_ns: int = 5_000_000_000,
    max_lookback_ns: int | None = None,
    plan: SeekPlan | None = None,
) -> Iterator[list[RawRecord]]:
    """The records of ``replay_from``, a few thousand at a time (cheaper to loop over).

    The warm-up records are exactly those with ``recv_ns < start_ns``: a prefix, since
    ``recv_ns`` never goes back in replay order.
    """
    from xle.store.seek import plan_seek
    from xle.store.writer import recover_journals

    # Before the seek lists partitions: a crashed run may have none yet. (The notices are
    # for a caller that opened the log with ``check_data_root`` or a ``LogReader``.)
    recover_journals(Path(data_root), sweep=False)
    if plan is None:
        plan = plan_seek(
            data_root,
            start_ns,
            exchanges=exchanges,
            symbols=symbols,
            margin_ns=margin_ns,
            max_lookback_ns=max_lookback_ns,
        )
    reader = LogReader(
        data_root,
        exchanges=exchanges,
        symbols=symbols,
        start_ns=plan.read_from_ns,
        end_ns=end_ns,
        recover=False,
    )
    yield from reader.chunks()
