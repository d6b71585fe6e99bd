"""``xle compact``: merge a closed hour's small Parquet files into one, never changing a row.

The writer rolls a file per partition every minute, so an hour holds about sixty small
files per run. Compaction rewrites them as one file sorted in replay order:

1. finish any compaction that was interrupted (see below), drop its stale temp file and
   those of writers killed while rolling into the hour (``xle.store.layout.stale_temp_files``);
2. merge exactly the listed input files (``xle.store.reader.read_merged``) into a
   hidden temp file and check the row count against the inputs' footers;
3. fsync, ``os.replace`` it to ``compacted-<k>.parquet`` and fsync the directory;
4. only then delete the inputs.

The merged file names its inputs in its Parquet metadata (``xle.compacted_from``,
transitively through earlier compacted files). A crash between 3 and 4, or a journal
recovered again after its files were compacted, leaves files whose rows the merged file
already holds: readers skip them by that list, and the next compaction deletes them.
The current hour (and a grace period after it, while the writer may still roll into it)
is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from xle.errors import DataError, UsageError
from xle.store.fs import ObjectPath, StorePath, arrow_source, as_root, is_remote
from xle.store.layout import (
    COMPACTED_FROM_KEY,
    RAW_SCHEMA,
    Notice,
    Partition,
    fsync_dir,
    is_log_file,
)
from xle.store.listing import hour_dirs
from xle.store.paths import raw_dir
from xle.store.reader import read_merged
from xle.store.writer import remove_stale_temps

__all__ = ["DEFAULT_GRACE_NS", "CompactResult", "CompactSummary", "compact", "compact_hour"]

#: An hour counts as closed this long after its end: the writer rolls every minute by
#: default, so the last records of an hour may reach Parquet a little after it ends.
DEFAULT_GRACE_NS = 300_000_000_000

_ROW_GROUP_ROWS = 131_072
_COMPACTED = re.compile(r"^compacted-(\d+)\.parquet$")


@dataclass(frozen=True)
class CompactResult:
    """What compacting one partition did (``output`` is None when there was nothing to do)."""

    partition: Partition
    inputs: tuple[Path, ...]
    output: Path | None
    rows: int
    removed_leftovers: int = 0  # inputs of an interrupted compaction deleted now
    notices: tuple[Notice, ...] = ()  # stale temp files of killed writers deleted

    def __str__(self) -> str:
        where = self.partition.relpath()
        if self.output is None:
            return f"{where}: nothing to merge"
        return f"{where}: {len(self.inputs)} files -> {self.output.name} ({self.rows:,} rows)"


@dataclass
class CompactSummary:
    """Every partition ``compact`` looked at."""

    results: list[CompactResult] = field(default_factory=list)
    skipped: list[tuple[Partition, str]] = field(default_factory=list)

    @property
    def compacted(self) -> list[CompactResult]:
        return [r for r in self.results if r.output is not None]

    def __str__(self) -> str:
        done = self.compacted
        files = sum(len(r.inputs) for r in done)
        rows = sum(r.rows for r in done)
        text = f"{len(done)} hours compacted ({files} files, {rows:,} rows)"
        if self.skipped:
            reasons = "; ".join(f"{p.relpath()}: {why}" for p, why in self.skipped)
            text += f", {len(self.skipped)} skipped ({reasons})"
        return text


@contextlib.contextmanager
def _compaction_lock(data_root: StorePath) -> Iterator[None]:
    """One compaction at a time per data root (two would race on the same hour).

    Object storage has no ``flock``: there, one compactor per root is assumed (run
    ``xle compact`` from one place, e.g. one cron job), and nothing is locked.
    """
    if is_remote(data_root):
        yield
        return
    root = raw_dir(Path(data_root))
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / "_compact.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(f"another compaction is running on {data_root}") from None
        yield
    finally:
        os.close(fd)


def _num_rows(path: StorePath) -> int:
    where, filesystem = arrow_source(path)
    return pq.read_metadata(where, filesystem=filesystem).num_rows


def _sources(path: StorePath) -> set[str]:
    where, filesystem = arrow_source(path)
    meta = pq.read_metadata(where, filesystem=filesystem).metadata or {}
    raw = meta.get(COMPACTED_FROM_KEY)
    return set(json.loads(raw)) if raw else set()


def _finish_interrupted(directory: Path) -> tuple[int, list[Notice]]:
    """Delete files a compacted file already holds, and stale temp files: any of a
    compaction (we hold the compaction lock), and those of writers that are gone."""
    removed = 0
    for entry in directory.iterdir():
        if entry.name.startswith(".compacted-") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)
    notices = [] if is_remote(directory) else remove_stale_temps(directory)
    names = {p.name for p in directory.iterdir() if is_log_file(p)}
    for name in sorted(names):
        if not _COMPACTED.match(name):
            continue
        try:
            covered = _sources(directory / name)
        except Exception:  # an unreadable compacted file is reported by the merge
            continue
        for leftover in sorted(covered & names):
            (directory / leftover).unlink(missing_ok=True)
            removed += 1
    if (removed or notices) and not is_remote(directory):
        fsync_dir(directory)
    return removed, notices


def _is_open(partition: Partition, now_ns: int | None, grace_ns: int) -> bool:
    now = time.time_ns() if now_ns is None else now_ns
    return partition.end_ns + grace_ns > now


def compact_hour(
    data_root: Path,
    exchange: str,
    date: str,
    hour: int | str,
    *,
    now_ns: int | None = None,
    grace_ns: int = DEFAULT_GRACE_NS,
) -> CompactResult:
    """Merge the files of one closed hour into one file in replay order.

    Raises ``UsageError`` for an hour that is still open (it ends less than ``grace_ns``
    before ``now_ns``, default: the wall clock) and ``DataError`` when the partition is
    missing or one of its files is unreadable (nothing is changed then).
    """
    data_root = as_root(data_root)
    partition = Partition(exchange, date, int(hour))
    directory = partition.directory(data_root)
    if _is_open(partition, now_ns, grace_ns):
        raise UsageError(f"{partition.relpath()} is still open; only closed hours are compacted")
    if not directory.is_dir():
        raise DataError(f"no such partition: {directory}")
    with _compaction_lock(data_root):
        return _compact_locked(partition, directory)


def _compact_locked(partition: Partition, directory: Path) -> CompactResult:
    removed, notices = _finish_interrupted(directory)
    inputs = sorted(p for p in directory.iterdir() if is_log_file(p))
    if len(inputs) <= 1:
        rows = _num_rows(inputs[0]) if inputs else 0
        return CompactResult(partition, tuple(inputs), None, rows, removed, tuple(notices))
    expected = 0
    covered: set[str] = set()
    for path in inputs:
        try:
            expected += _num_rows(path)
            if _COMPACTED.match(path.name):
                covered |= _sources(path)
        except Exception as exc:
            raise DataError(f"unreadable log file {path}: {exc}") from exc
    covered |= {p.name for p in inputs}
    numbers = [int(m.group(1)) for p in inputs if (m := _COMPACTED.match(p.name))]
    final = directory / f"compacted-{max(numbers, default=0) + 1}.parquet"
    temp = directory / f".{final.name}.{os.getpid()}.tmp"
    schema = RAW_SCHEMA.with_metadata({COMPACTED_FROM_KEY: json.dumps(sorted(covered))})
    if is_remote(directory):
        return _compact_remote(partition, inputs, final, schema, expected, removed, notices)
    rows = 0
    try:
        with open(temp, "wb") as sink:
            writer = pq.ParquetWriter(sink, schema, compression="zstd")
            try:
                for table in _row_groups(read_merged(inputs, partition)):
                    writer.write_table(table.replace_schema_metadata(schema.metadata))
                    rows += table.num_rows
            finally:
                writer.close()
            sink.flush()
            os.fsync(sink.fileno())
        if rows != expected:
            raise DataError(
                f"compaction of {partition.relpath()} read {rows} rows, footers say {expected}"
            )
        os.replace(temp, final)
        fsync_dir(directory)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    for path in inputs:
        path.unlink(missing_ok=True)
    fsync_dir(directory)
    return CompactResult(partition, tuple(inputs), final, rows, removed, tuple(notices))


def _compact_remote(
    partition: Partition,
    inputs: list[ObjectPath],
    final: ObjectPath,
    schema: pa.Schema,
    expected: int,
    removed: int,
    notices: list[Notice],
) -> CompactResult:
    """Compaction on object storage: upload the merged object under its final key, then
    delete the inputs.

    The upload is one object that appears whole when the stream closes (no temp name, no
    rename: S3 has none). From then on readers skip the inputs by the merged file's
    ``xle.compacted_from`` list, so no reader counts a row twice, before, during or after
    the deletes. If the row count is wrong, the merged object is deleted again and
    nothing else changed.
    """
    rows = 0
    sink = final.fs.open_output_stream(final.key)
    try:
        with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
            for table in _row_groups(read_merged(inputs, partition)):
                writer.write_table(table.replace_schema_metadata(schema.metadata))
                rows += table.num_rows
        sink.close()
    except BaseException:
        # An S3 upload cannot be abandoned through pyarrow (closing completes it): close
        # it and delete the partial object at once. Its inputs are all still there.
        with contextlib.suppress(Exception):
            sink.close()
        final.unlink(missing_ok=True)
        raise
    if rows != expected:
        final.unlink(missing_ok=True)
        raise DataError(
            f"compaction of {partition.relpath()} read {rows} rows, footers say {expected}"
        )
    for path in inputs:
        path.unlink(missing_ok=True)
    return CompactResult(partition, tuple(inputs), final, rows, removed, tuple(notices))


def _row_groups(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """Re-chunk merged tables into row groups of about ``_ROW_GROUP_ROWS`` rows."""
    buffer: list[pa.Table] = []
    size = 0
    for table in tables:
        buffer.append(table)
        size += table.num_rows
        if size >= _ROW_GROUP_ROWS:
            yield pa.concat_tables(buffer).combine_chunks()
            buffer, size = [], 0
    if buffer:
        yield pa.concat_tables(buffer).combine_chunks()


def compact(
    data_root: Path,
    *,
    exchange: str | None = None,
    before_ns: int | None = None,
    now_ns: int | None = None,
    grace_ns: int = DEFAULT_GRACE_NS,
) -> CompactSummary:
    """Compact every closed hour (of ``exchange``, ending at or before ``before_ns``).

    Partitions with a single file are left alone; an hour with an unreadable file is
    skipped with its reason rather than stopping the whole run.
    """
    summary = CompactSummary()
    exchanges = [exchange] if exchange is not None else None
    data_root = as_root(data_root)
    hours = hour_dirs(data_root, exchanges, None, before_ns)
    with _compaction_lock(data_root):
        for entries in hours.values():
            for partition, directory in entries:
                if before_ns is not None and partition.end_ns > before_ns:
                    continue
                if _is_open(partition, now_ns, grace_ns):
                    summary.skipped.append((partition, "hour still open"))
                    continue
                try:
                    summary.results.append(_compact_locked(partition, directory))
                except DataError as exc:
                    summary.skipped.append((partition, str(exc)))
    return summary
