"""The raw event log on disk (DESIGN section 3): its Arrow schema and its partition paths.

Shared by the writer (``xle.recorder.logwriter``), compaction (``xle.recorder.compact``)
and the reader (``xle.replay.reader``) so that the three can never disagree on a column
type or a directory name.

Layout under a data root::

    raw/exchange=<ex>/date=YYYY-MM-DD/hour=HH/<run>-<n>.parquet     (zstd, RAW_SCHEMA)
    raw/_journal/<run>-<segment>.arrow                              (Arrow IPC, JOURNAL_SCHEMA)

``exchange``, ``date`` and ``hour`` (UTC, of ``recv_ns``) live only in the path, the way
pyarrow datasets and DuckDB's ``hive_partitioning`` expect. Files are always written to
a temporary name starting with ``.`` and ending in ``.tmp`` and then ``os.replace``d:
pyarrow datasets skip names starting with ``.`` or ``_`` and DuckDB's ``*.parquet`` glob
does not match ``.tmp``, so no reader ever sees a half-written file.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from xle.paths import journal_dir, raw_dir

__all__ = [
    "COMPACTED_FROM_KEY",
    "HOUR_NS",
    "JOURNAL_SCHEMA",
    "RAW_SCHEMA",
    "Partition",
    "fsync_dir",
    "is_log_file",
    "new_run_id",
    "parse_partition",
    "partition_dir",
    "partition_of",
    "temp_path",
    "to_raw_table",
    "validate_run",
]

HOUR_NS = 3_600_000_000_000

_DICT = pa.dictionary(pa.int32(), pa.string())

#: The columns of every raw-log Parquet file, exactly as in the real captures.
RAW_SCHEMA = pa.schema(
    [
        ("recv_ns", pa.int64()),
        ("run", _DICT),
        ("conn", pa.int32()),
        ("seq", pa.int64()),
        ("kind", _DICT),
        ("stream", pa.string()),
        ("symbol", _DICT),
        ("payload", pa.binary()),
    ]
)

#: The journal spans exchanges, so it carries ``exchange`` as a column. Plain strings
#: instead of dictionaries: an IPC stream with a changing dictionary per batch needs
#: delta/replacement dictionaries, and the journal is short-lived anyway.
JOURNAL_SCHEMA = pa.schema(
    [
        ("exchange", pa.string()),
        ("recv_ns", pa.int64()),
        ("run", pa.string()),
        ("conn", pa.int32()),
        ("seq", pa.int64()),
        ("kind", pa.string()),
        ("stream", pa.string()),
        ("symbol", pa.string()),
        ("payload", pa.binary()),
    ]
)

#: Parquet key-value metadata of a compacted file: JSON list of the file names (same
#: directory) whose rows it holds. Readers skip those names if they are still present
#: (a compaction interrupted between its rename and its deletes, or a journal recovered
#: again after its files were compacted), so a row is never read twice.
COMPACTED_FROM_KEY = b"xle.compacted_from"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Partition(NamedTuple):
    """One hive partition of the raw log: an exchange and a UTC hour."""

    exchange: str
    date: str  # YYYY-MM-DD
    hour: int  # 0..23

    @property
    def hour_index(self) -> int:
        """Hours since the epoch; consecutive hours differ by one across dates."""
        return self.start_ns // HOUR_NS

    @property
    def start_ns(self) -> int:
        day = datetime.strptime(self.date, "%Y-%m-%d").replace(tzinfo=UTC)
        return (int(day.timestamp()) + self.hour * 3600) * 1_000_000_000

    @property
    def end_ns(self) -> int:
        return self.start_ns + HOUR_NS

    def relpath(self) -> str:
        return f"exchange={self.exchange}/date={self.date}/hour={self.hour:02d}"

    def directory(self, data_root: Path) -> Path:
        return raw_dir(Path(data_root)) / self.relpath()


def partition_of(exchange: str, recv_ns: int) -> Partition:
    """The partition a record of ``exchange`` received at ``recv_ns`` belongs to."""
    seconds = recv_ns // 1_000_000_000
    moment = datetime.fromtimestamp(seconds - seconds % 3600, tz=UTC)
    return Partition(exchange, moment.strftime("%Y-%m-%d"), moment.hour)


def partition_from_hour_index(exchange: str, hour_index: int) -> Partition:
    return partition_of(exchange, hour_index * HOUR_NS)


def partition_dir(data_root: Path, exchange: str, recv_ns: int) -> Path:
    """``<root>/raw/exchange=<ex>/date=YYYY-MM-DD/hour=HH`` for a record."""
    return partition_of(exchange, recv_ns).directory(data_root)


_PART_RE = {
    "exchange": re.compile(r"^exchange=(.+)$"),
    "date": re.compile(r"^date=(\d{4}-\d{2}-\d{2})$"),
    "hour": re.compile(r"^hour=(\d{1,2})$"),
}


def parse_partition(path: Path | str) -> Partition | None:
    """Exchange, date and hour from the ``key=value`` components of a path, or None.

    Works on a partition directory or on a file inside one.
    """
    found: dict[str, str] = {}
    for part in Path(path).parts:
        for key, pattern in _PART_RE.items():
            match = pattern.match(part)
            if match:
                found[key] = match.group(1)
    if len(found) != 3:
        return None
    hour = int(found["hour"])
    if hour > 23:
        return None
    try:
        datetime.strptime(found["date"], "%Y-%m-%d")
    except ValueError:
        return None
    return Partition(found["exchange"], found["date"], hour)


def is_log_file(path: Path) -> bool:
    """True for a finished raw-log Parquet file (not a temporary, hidden or journal file)."""
    name = path.name
    return (
        name.endswith(".parquet")
        and not name.startswith((".", "_"))
        and "_journal" not in path.parts
    )


def temp_path(final: Path) -> Path:
    """Where to write ``final`` before renaming it: hidden, ``.tmp``, unique per process."""
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def validate_run(run: str) -> str:
    """A run id becomes part of file names; refuse anything that is not a plain token."""
    if not _SAFE_NAME.match(run):
        raise ValueError(f"run id {run!r} must be letters, digits, '_', '.' or '-'")
    return run


def new_run_id() -> str:
    """A unique, time-sortable run id, e.g. ``20211012T002832Z-3f9a1c2b``."""
    stamp = datetime.fromtimestamp(time.time(), tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


def to_raw_table(table: pa.Table | pa.RecordBatch) -> pa.Table:
    """Journal-shaped rows (plain strings, ``exchange`` column) -> RAW_SCHEMA table."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    columns = []
    for field in RAW_SCHEMA:
        column = table.column(field.name)
        if pa.types.is_dictionary(field.type) and not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=RAW_SCHEMA)


def journal_path(data_root: Path, run: str, segment: int) -> Path:
    return journal_dir(Path(data_root)) / f"{run}-{segment:06d}.arrow"


def parse_journal_name(path: Path) -> tuple[str, int] | None:
    """``<run>-<segment>.arrow`` -> (run, segment), or None for other names."""
    if path.suffix != ".arrow" or path.name.startswith("."):
        return None
    run, sep, number = path.stem.rpartition("-")
    if not sep or not run or not number.isdigit():
        return None
    return run, int(number)
