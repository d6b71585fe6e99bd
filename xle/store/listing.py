"""Which files of the raw log a read touches, from the paths alone.

The partition directories (``exchange=/date=/hour=``) prune a time range before any file
is opened, and a compacted file stands in for the run files it was made from. Both the
reader (``xle.store.reader``) and the seek scan (``xle.store.seek``) list files this way,
so the listing sits below both of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xle.store.fs import ObjectPath, StorePath, arrow_source, as_root
from xle.store.layout import (
    COMPACTED_FROM_KEY,
    HOUR_NS,
    Notice,
    Partition,
    is_log_file,
    parse_partition,
    partition_value_problem,
)
from xle.store.paths import raw_dir

__all__ = ["hour_dirs", "live_files", "log_exchanges", "log_files"]

DIRECTORY = pafs.FileType.Directory

#: A read of a window shorter than this lists object storage day by day; a longer one
#: lists each exchange's prefix at once (fewer requests than one per day).
_PER_DAY_HOURS = 48


def hour_dirs(
    data_root: StorePath | str,
    exchanges: Sequence[str] | None,
    start_ns: int | None,
    end_ns: int | None,
    bad: list[Notice] | None = None,
) -> dict[int, list[tuple[Partition, StorePath]]]:
    """Partition directories holding ``[start_ns, end_ns)`` (end exclusive), by hour index.

    Directories named like a partition but impossible (``date=garbage``, ``hour=25``) are
    skipped and, with ``bad``, reported there as ``bad_partition`` notices.
    """
    root = raw_dir(as_root(data_root))
    lo = (start_ns // HOUR_NS) if start_ns is not None else None
    hi = ((end_ns - 1) // HOUR_NS) if end_ns is not None else None
    wanted = set(exchanges) if exchanges is not None else None
    found: dict[int, list[tuple[Partition, StorePath]]] = {}
    remote = isinstance(root, ObjectPath)
    # On object storage, one recursive listing per day of a narrow window, else one per
    # exchange: never a request per partition folder (section "Object storage").
    per_day = remote and lo is not None and hi is not None and hi - lo < _PER_DAY_HOURS
    try:
        if not remote and not root.is_dir():
            return found
        exchange_dirs = sorted(root.iterdir())
    except FileNotFoundError:
        return found
    for ex_dir in exchange_dirs:
        if not ex_dir.name.startswith("exchange=") or not ex_dir.is_dir():
            continue
        if wanted is not None and ex_dir.name.removeprefix("exchange=") not in wanted:
            continue
        if remote and not per_day:
            ex_dir = ex_dir.listed()
        for date_dir in sorted(ex_dir.iterdir()):
            day = parse_partition(date_dir / "hour=00")
            if day is None or not date_dir.is_dir():
                if bad is not None and date_dir.name.startswith("date=") and date_dir.is_dir():
                    bad.append(_bad_partition(date_dir))
                continue
            first = day.hour_index
            if (hi is not None and first > hi) or (lo is not None and first + 23 < lo):
                continue
            if per_day:
                date_dir = date_dir.listed()
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


def _bad_partition(directory: StorePath) -> Notice:
    detail = partition_value_problem(directory.name) or "impossible partition name: skipped"
    return Notice("bad_partition", directory, detail)


def _compacted_sources(path: StorePath) -> set[str]:
    where, filesystem = arrow_source(path)
    meta = pq.read_metadata(where, filesystem=filesystem).metadata or {}
    raw = meta.get(COMPACTED_FROM_KEY)
    return set(json.loads(raw)) if raw else set()


def live_files(directory: StorePath, *, fresh: bool = False) -> list[StorePath]:
    """Finished files of a partition, minus those a compacted file already holds.

    ``fresh`` lists the folder again even when ``hour_dirs`` attached a listing to it (on
    object storage), for a caller that found a listed file gone.
    """
    if fresh and isinstance(directory, ObjectPath):
        directory = directory.fresh()
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


def log_files(
    data_root: StorePath | str,
    exchanges: Sequence[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> list[StorePath]:
    """The live files of the raw log holding ``[start_ns, end_ns)`` (end exclusive, as
    ``hour_dirs``), in hour order; every exchange partition with ``exchanges=None``,
    known to the replay or not (a query of the raw table sees them all)."""
    hours = hour_dirs(data_root, exchanges, start_ns, end_ns)
    return [path for entries in hours.values() for _, d in entries for path in live_files(d)]


def log_exchanges(data_root: StorePath | str) -> list[str]:
    """The ``exchange=`` partitions of the raw log, sorted (known to the replay or not)."""
    directory = raw_dir(as_root(data_root))
    if isinstance(directory, ObjectPath):
        directory = directory.fresh()
        prefixes = directory.fs.get_file_info(
            pafs.FileSelector(directory.key, allow_not_found=True)
        )
        children = [directory / info.base_name for info in prefixes if info.type == DIRECTORY]
        return sorted(c.name.partition("=")[2] for c in children if c.name.startswith("exchange="))
    if not directory.is_dir():
        return []
    names = []
    for child in sorted(directory.iterdir()):
        key, sep, value = child.name.partition("=")
        if sep and key == "exchange" and child.is_dir():
            names.append(value)
    return names
