"""The raw event log on disk: its Arrow schema and its partition paths.

See docs/design.md, "The raw event log".

Shared by the writer (``xle.store.writer``), compaction (``xle.store.compact``)
and the reader (``xle.store.reader``) so that the three can never disagree on a column
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from xle.store.paths import journal_dir, raw_dir

__all__ = [
    "COMPACTED_FROM_KEY",
    "HOUR_NS",
    "JOURNAL_SCHEMA",
    "RAW_SCHEMA",
    "Notice",
    "Partition",
    "fsync_dir",
    "is_log_file",
    "new_run_id",
    "parse_partition",
    "partition_dir",
    "partition_of",
    "partition_value_problem",
    "schema_mismatch",
    "stale_temp_files",
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

#: A writer's temporary file is stale (safe to delete) once its owner process is gone,
#: or, whoever the owner is, once nobody has written to it for this long: the writer
#: and compaction write a temp file in one go, never pausing for minutes.
STALE_TEMP_SECONDS = 600.0


@dataclass(frozen=True)
class Notice:
    """Something a reader, the views or a recovery did or skipped that a person should hear.

    Library code never prints: readers (``LogRead.notices``), the DuckDB views
    (``xle.store.views.open_views``) and journal recovery (``Recovery.notices``) collect
    these, and the CLI prints ``message()`` as a warning. ``kind`` is one of:

    ``recovered``      records of a crashed run converted from its journal to Parquet
    ``journal_kept``   a dead run's journal that could not be converted (kept as it is)
    ``damaged_batch``  a journal batch that failed its checksum or could not be decoded:
                       dropped, never replayed
    ``unverified_journal`` a journal of an older xle, without checksums: read unverified
    ``stale_temp``     a temporary file left by a killed writer, deleted
    ``unreadable``     a log file that cannot be read (skipped)
    ``wrong_schema``   a Parquet file whose columns are not the table's (skipped)
    ``bad_partition``  a partition directory with an impossible name (skipped)
    """

    kind: str
    path: Path
    detail: str

    def message(self) -> str:
        """One line for the terminal."""
        return f"{self.path}: {self.detail}"


_PARTITION_EXPECTED = {"date": "YYYY-MM-DD", "hour": "00 to 23", "exchange": "a name"}


def partition_value_problem(name: str) -> str | None:
    """Why a ``key=value`` directory name cannot be a partition, or None if it can."""
    key, sep, value = name.partition("=")
    if not sep or key not in _PARTITION_EXPECTED:
        return None
    if key == "exchange":
        ok = bool(value)
    elif key == "hour":
        ok = bool(_PART_RE["hour"].match(name)) and int(value) <= 23
    else:
        ok = bool(_PART_RE["date"].match(name))
        if ok:
            try:
                datetime.strptime(value, "%Y-%m-%d")
            except ValueError:
                ok = False
    if ok:
        return None
    expected = _PARTITION_EXPECTED[key]
    return f"impossible partition name {name!r} (expected {key}={expected}): skipped"


def schema_mismatch(actual: pa.Schema, expected: pa.Schema) -> str | None:
    """Why a file with ``actual`` columns cannot stand for ``expected`` ones, or None.

    Dictionary encoding is a storage detail (the writer dictionary-encodes some string
    columns, other tools may not), so a dictionary column matches its value type. Extra
    columns are allowed: no view or reader selects them.
    """
    problems = []
    for want in expected:
        index = actual.get_field_index(want.name)
        if index < 0:
            problems.append(f"no column {want.name}")
            continue
        have = actual.field(index).type
        if pa.types.is_dictionary(have):
            have = have.value_type
        target = want.type.value_type if pa.types.is_dictionary(want.type) else want.type
        if have != target:
            problems.append(f"column {want.name} is {have}, expected {target}")
    if not problems:
        return None
    return "not a file of this table (" + "; ".join(problems) + ")"


_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.tmp$")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def stale_temp_files(directory: Path, now: float | None = None) -> list[Path]:
    """Temporary files in ``directory`` that no live writer can still be writing.

    Temp names end in ``.<pid>.tmp`` (``temp_path``): a file whose process is gone is
    stale; one whose process id is alive (perhaps a reused id) only once it has not been
    touched for ``STALE_TEMP_SECONDS``.
    """
    now = time.time() if now is None else now
    stale = []
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return stale
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None:
            continue
        try:
            age = now - entry.stat().st_mtime
        except FileNotFoundError:
            continue
        if not _process_alive(int(match.group(1))) or age > STALE_TEMP_SECONDS:
            stale.append(entry)
    return stale


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
        from xle.store.fs import as_root

        return raw_dir(as_root(data_root)) / self.relpath()


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
    parts = path.parts if hasattr(path, "parts") else Path(path).parts  # ObjectPath too
    for part in parts:
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
