"""Append-only writer of the raw event log: a fsynced Arrow IPC journal rolled into Parquet.

Why a journal: Parquet files cannot be appended to, and writing one small file per second
would bury the log in tiny files. So records first go to an Arrow IPC *stream* under
``raw/_journal/<run>-<segment>.arrow`` that a background thread flushes and fsyncs every
``flush_seconds``; every ``roll_seconds`` (and on ``close``) the segment is closed, a new
one is started, and a converter thread turns the closed one into one zstd Parquet file
per partition it touched::

    raw/exchange=<ex>/date=YYYY-MM-DD/hour=HH/<run>-<segment>.parquet

Crash safety, in the order things happen:

1. A Parquet file is written to a hidden ``.tmp`` name, fsynced, ``os.replace``d, and
   its directory fsynced: readers never see a half-written file.
2. Only when every partition file of a segment is in place is the journal unlinked.
3. The Parquet name is a pure function of (run, segment), and a journal always converts
   to the same rows. So converting a journal twice (a crash between 1 and 2, or a
   recovery that was itself interrupted) just replaces files with identical ones:
   no duplicates, whatever the order of failures.
4. ``recover_journals`` reads a leftover journal up to its last complete batch (a
   ``kill -9`` can leave a torn tail) and converts it the same way. A live writer holds
   an exclusive ``flock`` on ``_journal/<run>.lock``, so recovery never touches the
   journal of a writer that is still running (another recorder on the same data root).
   The recorder runs it on start (``LogWriter.recover``) and so do the readers (the
   replay reader, the DuckDB views), so a crashed run's records are never invisible.
5. Every journal batch carries a CRC32 of its buffers in its IPC custom metadata. A batch
   whose bytes changed on disk fails it and is dropped, never replayed; a ``corrupt_file``
   control record takes its place in the Parquet output so that an audit shows the hole.
6. A journal that cannot be converted (full disk, read-only directory) is kept as it is;
   temp files of a writer killed mid-roll are deleted once their process is gone.

A ``kill -9`` therefore loses at most the records appended since the last flush.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from xle.errors import DataError
from xle.records import RawRecord
from xle.store.arrow_values import int_scalar
from xle.store.journal import (
    batch_crc,
    journal_batches,
    new_journal,
    read_journal,
    records_to_batches,
    write_batch,
)
from xle.store.layout import (
    HOUR_NS,
    RAW_SCHEMA,
    Notice,
    Partition,
    fsync_dir,
    journal_path,
    parse_journal_name,
    partition_from_hour_index,
    stale_temp_files,
    temp_path,
    to_raw_table,
    validate_run,
)
from xle.store.paths import journal_dir, raw_dir

__all__ = [
    "ConvertResult",
    "LogWriter",
    "Recovery",
    "RunLock",
    "WriterStats",
    "batch_crc",
    "convert_journal",
    "read_journal",
    "recover_journals",
    "remove_stale_temps",
]

#: Rows per Parquet row group: big enough for fast zstd reads, small enough to stream.
ROW_GROUP_ROWS = 65_536
#: Bytes of payload per row group before it is written even if ROW_GROUP_ROWS is not met.
ROW_GROUP_BYTES = 64 << 20


@dataclass
class WriterStats:
    """Counters of one LogWriter (a snapshot copy is returned by ``LogWriter.stats``)."""

    records: int = 0  # appended so far
    journaled: int = 0  # flushed and fsynced to the journal
    rolled: int = 0  # written to Parquet
    files: int = 0  # Parquet files written
    bytes: int = 0  # bytes of those Parquet files
    journal_bytes: int = 0  # bytes written to journal segments
    flushes: int = 0  # fsyncs of the journal
    rolls: int = 0  # journal segments handed to conversion


@dataclass
class ConvertResult:
    """What converting one journal segment produced."""

    records: int = 0
    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    notices: list[Notice] = field(default_factory=list)  # dropped batches, stale temps


# --------------------------------------------------------------------------- journal -> Parquet


def _split_by_partition(batch: pa.RecordBatch) -> Iterator[tuple[Partition, pa.RecordBatch]]:
    """Rows of a journal batch grouped by (exchange, UTC hour) of ``recv_ns``."""
    if batch.num_rows == 0:
        return
    hours = pc.divide(batch.column("recv_ns"), int_scalar(HOUR_NS, pa.int64()))
    exchanges = batch.column("exchange")
    unique_ex = pc.unique(exchanges).to_pylist()
    lo, hi = pc.min_max(hours).values()
    if len(unique_ex) == 1 and lo.as_py() == hi.as_py():
        yield partition_from_hour_index(unique_ex[0], lo.as_py()), batch
        return
    for exchange in sorted(unique_ex):
        ex_mask = pc.equal(exchanges, exchange)
        for hour in sorted(pc.unique(pc.filter(hours, ex_mask)).to_pylist()):
            mask = pc.and_(ex_mask, pc.equal(hours, hour))
            yield partition_from_hour_index(exchange, hour), batch.filter(mask)


class _PartitionFile:
    """One Parquet file being built for one partition, buffered into full row groups."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.temp = temp_path(final)
        self._buffer: list[pa.RecordBatch] = []
        self._rows = 0
        self._bytes = 0
        self.records = 0
        self._sink = None
        self._writer: pq.ParquetWriter | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        self._buffer.append(batch)
        self._rows += batch.num_rows
        self._bytes += batch.column("payload").nbytes
        if self._rows >= ROW_GROUP_ROWS or self._bytes >= ROW_GROUP_BYTES:
            self._write_buffer()

    def _write_buffer(self) -> None:
        if not self._buffer:
            return
        table = to_raw_table(pa.Table.from_batches(self._buffer))
        if self._writer is None:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._sink = open(self.temp, "wb")  # noqa: SIM115 - closed in finish()
            self._writer = pq.ParquetWriter(self._sink, RAW_SCHEMA, compression="zstd")
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.records += table.num_rows
        self._buffer, self._rows, self._bytes = [], 0, 0

    def finish(self) -> int:
        """Close, fsync and atomically rename into place; returns the file size."""
        self._write_buffer()
        assert self._writer is not None and self._sink is not None
        self._writer.close()
        self._sink.flush()
        os.fsync(self._sink.fileno())
        self._sink.close()
        size = self.temp.stat().st_size
        os.replace(self.temp, self.final)
        fsync_dir(self.final.parent)
        return size

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
        with contextlib.suppress(Exception):
            if self._sink is not None:
                self._sink.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


def convert_journal(data_root: Path, path: Path) -> ConvertResult:
    """Write a journal segment's rows as Parquet, one file per partition, then unlink it.

    Idempotent: the file name ``<run>-<segment>.parquet`` comes from the journal's name
    and the rows from its complete batches, so running it again after a crash at any
    point replaces files with identical ones instead of duplicating rows.
    """
    parsed = parse_journal_name(path)
    if parsed is None:
        raise DataError(f"not a journal segment name: {path}")
    run, segment = parsed
    name = f"{run}-{segment}.parquet"
    files: dict[Partition, _PartitionFile] = {}
    result = ConvertResult()
    try:
        for batch in journal_batches(data_root, path, result.notices):
            for partition, rows in _split_by_partition(batch):
                target = files.get(partition)
                if target is None:
                    target = files[partition] = _PartitionFile(
                        partition.directory(data_root) / name
                    )
                target.add(rows)
        for partition in sorted(files):
            target = files[partition]
            result.bytes += target.finish()
            result.records += target.records
            result.files.append(target.final)
    except BaseException:
        for target in files.values():
            target.abandon()
        raise
    # Every partition file is durable under its final name: only now drop the journal.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fsync_dir(path.parent)
    # A writer killed while rolling this segment left its temp files next to ours.
    for directory in sorted({final.parent for final in result.files}):
        result.notices.extend(remove_stale_temps(directory))
    return result


def remove_stale_temps(directory: Path) -> list[Notice]:
    """Delete temp files of dead writers in ``directory`` (see ``stale_temp_files``)."""
    notices = []
    for stale in stale_temp_files(directory):
        try:
            stale.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            notices.append(Notice("stale_temp", stale, f"stale temp file not deleted: {exc}"))
            continue
        notices.append(Notice("stale_temp", stale, "stale temp file of a killed writer deleted"))
    return notices


# --------------------------------------------------------------------------- run lock


class RunLock:
    """An exclusive ``flock`` on ``<folder>/<run>.lock``: held by the live writer of a run
    (``_journal/``) or by its uploader (the staging directory's ``uploads/``)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def try_acquire(cls, jdir: Path, run: str) -> RunLock | None:
        path = jdir / f"{run}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(path, fd)

    def release(self, *, remove: bool) -> None:
        if self._fd < 0:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)
        self._fd = -1


def _segments_of(jdir: Path, run: str | None = None) -> list[tuple[str, int, Path]]:
    found = []
    if not jdir.is_dir():
        return found
    for entry in jdir.iterdir():
        parsed = parse_journal_name(entry)
        if parsed is not None and (run is None or parsed[0] == run):
            found.append((parsed[0], parsed[1], entry))
    return sorted(found)


# --------------------------------------------------------------------------- recovery


@dataclass
class Recovery:
    """What ``recover_journals`` did: records converted and everything worth a warning."""

    records: int = 0
    notices: list[Notice] = field(default_factory=list)


def recover_journals(data_root: Path, *, sweep: bool = True) -> Recovery:
    """Convert the journals of dead runs to Parquet, the way the recorder does on start.

    Readers call this too (with ``sweep=False``), so a run killed before it rolled is not
    invisible until the next recording. Safe against live writers: a run's journal is
    only touched under its lock, which a live writer holds. Never raises for a journal
    it cannot convert: the journal is kept and a ``journal_kept`` notice says why. With
    ``sweep`` (the recorder's start), stale temp files of killed writers are deleted in
    every partition and lock files of dead runs without a journal are removed; the
    directories a recovered journal was converted into are swept either way.
    """
    root = Path(data_root)
    jdir = journal_dir(root)
    recovery = Recovery()
    if sweep and jdir.is_dir():
        # Lock files of dead runs that never wrote a segment. Only at a recorder's start:
        # a reader deleting lock files could race a writer that is just opening its own.
        with contextlib.suppress(OSError):
            for lock_path in jdir.glob("*.lock"):
                run = lock_path.stem
                if not _segments_of(jdir, run) and (lock := RunLock.try_acquire(jdir, run)):
                    lock.release(remove=not _segments_of(jdir, run))
    for run in sorted({run for run, _, _ in _segments_of(jdir)}):
        try:
            lock = RunLock.try_acquire(jdir, run)
        except OSError as exc:
            for _, _, path in _segments_of(jdir, run):
                recovery.notices.append(
                    Notice("journal_kept", path, f"journal of a dead run not recovered: {exc}")
                )
            continue
        if lock is None:
            continue  # a live writer's journal
        records = 0
        try:
            for _, _, path in _segments_of(jdir, run):
                try:
                    result = convert_journal(root, path)
                except (OSError, DataError, pa.ArrowException) as exc:
                    recovery.notices.append(
                        Notice(
                            "journal_kept",
                            path,
                            f"journal of a dead run not recovered, kept for a later try: {exc}",
                        )
                    )
                    break  # later segments wait: a run is converted in order
                records += result.records
                recovery.notices.extend(result.notices)
        finally:
            lock.release(remove=not _segments_of(jdir, run))
        if records:
            recovery.records += records
            recovery.notices.append(
                Notice("recovered", jdir, f"recovered {records:,} records of crashed run {run}")
            )
    if sweep:
        raw = raw_dir(root)
        for directory in sorted(raw.glob("exchange=*/date=*/hour=*")) if raw.is_dir() else []:
            if directory.is_dir():
                recovery.notices.extend(remove_stale_temps(directory))
    return recovery


# --------------------------------------------------------------------------- writer


class LogWriter:
    """Append-only raw-log writer of one recorder run (thread-safe).

    ``append`` only puts the record on a list under a lock, so it is cheap enough for the
    asyncio loop at full feed rate; a background thread does all I/O. Records of a run
    must be appended in ``seq`` order with non-decreasing ``recv_ns`` (the recorder's
    clock guarantees it); the reader relies on each file being in replay order.
    """

    def __init__(
        self,
        data_root: Path,
        run: str,
        roll_seconds: float = 60.0,
        flush_seconds: float = 1.0,
    ) -> None:
        if roll_seconds <= 0 or flush_seconds <= 0:
            raise ValueError("roll_seconds and flush_seconds must be positive")
        self.data_root = Path(data_root)
        self.run = validate_run(run)
        self.roll_seconds = float(roll_seconds)
        self.flush_seconds = float(flush_seconds)
        self._jdir = journal_dir(self.data_root)
        self._jdir.mkdir(parents=True, exist_ok=True)
        lock = RunLock.try_acquire(self._jdir, run)
        if lock is None:
            raise DataError(f"run {run!r} is already being written by another LogWriter")
        if _segments_of(self._jdir, run):
            lock.release(remove=False)
            raise DataError(
                f"leftover journal of run {run!r} in {self._jdir}: "
                "call LogWriter.recover(data_root) first"
            )
        self._lock_file = lock
        self._pending: list[RawRecord] = []
        self._pending_lock = threading.Lock()
        self._io_lock = threading.RLock()
        self._stats_lock = threading.Lock()
        self._stats = WriterStats()
        self._segment = 0
        self._sink = None
        self._ipc: ipc.RecordBatchStreamWriter | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._stop = threading.Event()
        self._segments: queue.Queue[Path | None] = queue.Queue()
        self._flusher = threading.Thread(
            target=self._flush_loop, name=f"xle-journal-{run}", daemon=True
        )
        self._converter = threading.Thread(
            target=self._convert_loop, name=f"xle-roll-{run}", daemon=True
        )
        self._flusher.start()
        self._converter.start()

    # ----------------------------------------------------------------- public API

    def append(self, rec: RawRecord) -> None:
        """Queue one record; it is durable after the next flush (``flush_seconds``)."""
        if self._closed or self._error is not None:
            self._raise_state()
        with self._pending_lock:
            self._pending.append(rec)

    def flush(self) -> None:
        """Write queued records to the journal and fsync it now."""
        self._raise_error()
        try:
            self._flush()
        except BaseException as exc:
            self._fail(exc)
            raise

    def roll(self) -> None:
        """Flush, close the journal segment and hand it to Parquet conversion now."""
        self._raise_error()
        try:
            self._roll()
        except BaseException as exc:
            self._fail(exc)
            raise

    def close(self) -> None:
        """Flush and roll everything to Parquet, stop the threads, release the run."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._flusher.join()
        try:
            if self._error is None:
                self._roll()
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._segments.put(None)
            self._converter.join()
        if self._error is None:
            self._lock_file.release(remove=True)
        else:
            # Keep the journal for LogWriter.recover; the lock dies with our fd.
            self._lock_file.release(remove=False)
            self._raise_error()

    @property
    def stats(self) -> WriterStats:
        with self._stats_lock, self._pending_lock:
            return replace(self._stats, records=self._stats.journaled + len(self._pending))

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def recover(data_root: Path) -> int:
        """Convert every leftover journal of a dead run to Parquet; returns records recovered.

        Journals of a run whose writer is alive (its lock is held) are left alone. A
        journal that cannot be converted (full disk, read-only directory) is kept as it
        is and ``DataError`` says which and why: the recorder must not start over it.
        """
        recovery = recover_journals(data_root)
        kept = [n for n in recovery.notices if n.kind == "journal_kept"]
        if kept:
            raise DataError("; ".join(n.message() for n in kept))
        return recovery.records

    # ----------------------------------------------------------------- internals

    def _raise_error(self) -> None:
        if self._error is not None:
            raise DataError(f"raw log writer failed: {self._error}") from self._error

    def _raise_state(self) -> None:
        self._raise_error()
        raise DataError("LogWriter is closed")

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc

    def _flush(self) -> None:
        with self._io_lock:
            with self._pending_lock:
                pending, self._pending = self._pending, []
            if pending:
                if self._ipc is None or self._sink is None:
                    self._open_segment()
                assert self._ipc is not None and self._sink is not None
                before = self._sink.tell()
                for batch in records_to_batches(pending):
                    write_batch(self._ipc, batch)
                self._sink.flush()
                os.fsync(self._sink.fileno())
                with self._stats_lock:
                    self._stats.journaled += len(pending)
                    self._stats.journal_bytes += self._sink.tell() - before
                    self._stats.flushes += 1

    def _open_segment(self) -> None:
        path = journal_path(self.data_root, self.run, self._segment)
        self._sink = open(path, "xb", buffering=0)  # noqa: SIM115 - closed in _roll()
        fsync_dir(self._jdir)
        self._ipc = new_journal(self._sink)

    def _roll(self) -> None:
        with self._io_lock:
            self._flush()
            if self._ipc is None or self._sink is None:
                return
            self._ipc.close()
            self._sink.flush()
            os.fsync(self._sink.fileno())
            self._sink.close()
            path = journal_path(self.data_root, self.run, self._segment)
            self._ipc, self._sink = None, None
            self._segment += 1
            with self._stats_lock:
                self._stats.rolls += 1
        self._segments.put(path)

    def _flush_loop(self) -> None:
        now = time.monotonic()
        next_flush, next_roll = now + self.flush_seconds, now + self.roll_seconds
        while not self._stop.wait(max(0.0, min(next_flush, next_roll) - time.monotonic())):
            now = time.monotonic()
            try:
                if now >= next_roll:
                    self._roll()
                    next_roll = now + self.roll_seconds
                    next_flush = now + self.flush_seconds
                elif now >= next_flush:
                    self._flush()
                    next_flush = now + self.flush_seconds
            except BaseException as exc:
                self._fail(exc)
                return

    def _convert_loop(self) -> None:
        while True:
            path = self._segments.get()
            if path is None:
                return
            if self._error is not None:
                continue  # leave it for LogWriter.recover
            try:
                result = convert_journal(self.data_root, path)
            except BaseException as exc:
                self._fail(exc)
                continue
            with self._stats_lock:
                self._stats.rolled += result.records
                self._stats.files += len(result.files)
                self._stats.bytes += result.bytes
