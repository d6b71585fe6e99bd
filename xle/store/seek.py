"""Where a replay that starts at T0 has to begin reading (docs/design.md, "Seek").

A book is a pure function of the records since its last snapshot, so replaying from T0
only needs, for every book (exchange, symbol) seen before T0, its latest snapshot at or
before T0 -- minus a margin, because diff events received just *before* a snapshot
(buffered while the REST request was in flight) are part of the sync. Reading starts at
the earliest of those points; a book seen before T0 without any snapshot forces the
start of the log.

The scan walks the hours backwards from T0 and reads only the small columns
(``recv_ns``, ``kind``, ``symbol``); payloads are read only for candidate rows, and
``xle.exchanges.snapshot_symbols`` has the final word on each candidate:

* ``kind == "rest"`` rows (e.g. Binance depth snapshots),
* WebSocket rows of venues whose registry entry says snapshots come in the stream
  (``VenueSpec.snapshots == "stream"``, e.g. Coinbase ``l2_data``) whose payload
  contains ``"snapshot"`` (a vectorised substring test in Arrow).

Once every book seen so far has its snapshot, older hours are read for their ``symbol``
column only, to find books that went quiet long before T0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xle.records import RawRecord
from xle.store.arrow_values import int_scalar, string_scalar
from xle.store.fs import arrow_source
from xle.store.layout import Partition
from xle.store.listing import hour_dirs, live_files
from xle.store.merge import COLUMNS, records_from_table

__all__ = ["DEFAULT_MARGIN_NS", "SeekPlan", "plan_seek"]

DEFAULT_MARGIN_NS = 5_000_000_000


def _ws_snapshots(exchange: str) -> bool:
    """Do this venue's full books arrive on the WebSocket rather than from REST?"""
    from xle.exchanges import find_venue  # lazily: the engine side is optional here

    spec = find_venue(exchange)
    return spec is not None and spec.snapshots == "stream"


Book = tuple[str, str]
T = TypeVar("T")


@dataclass
class SeekPlan:
    """The outcome of a snapshot scan for a replay starting at ``start_ns``."""

    start_ns: int
    read_from_ns: int | None  # None: from the beginning of the log
    snapshots: dict[Book, int] = field(default_factory=dict)  # latest snapshot <= start_ns
    without_snapshot: set[Book] = field(default_factory=set)  # seen before, never snapshotted

    @property
    def books(self) -> set[Book]:
        return set(self.snapshots) | self.without_snapshot


def plan_seek(
    data_root: Path,
    start_ns: int,
    *,
    exchanges: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    margin_ns: int = DEFAULT_MARGIN_NS,
    max_lookback_ns: int | None = None,
) -> SeekPlan:
    """Find the earliest point a replay must read from to rebuild every book at ``start_ns``.

    ``max_lookback_ns`` bounds the scan (books only seen earlier are ignored and a book
    without snapshot in the window starts at the window); by default it is exact.
    """
    from xle.exchanges import snapshot_symbols  # lazily: the engine side is optional here

    wanted = set(symbols) if symbols is not None else None
    floor = start_ns - max_lookback_ns if max_lookback_ns is not None else None
    hours = hour_dirs(data_root, exchanges, floor, start_ns + 1)
    seen: set[Book] = set()
    found: dict[Book, int] = {}
    for entries in reversed(hours.values()):
        files = [(partition, path) for partition, d in entries for path in live_files(d)]
        books: set[Book] = set()
        for partition, path in files:
            books |= _read(path, lambda pf, p=partition: _books_in(pf, p, start_ns, wanted), set())
        # Snapshots in this hour matter only for a book without a later one.
        if not (books - seen) and seen <= found.keys():
            continue
        seen |= books
        for partition, path in files:
            _read(
                path,
                lambda pf, p=partition: _scan_snapshots(
                    pf, p, start_ns, wanted, floor, found, snapshot_symbols
                ),
                None,
            )
    without = {book for book in seen if book not in found}
    if without:
        read_from = floor
    elif found:
        read_from = min(found.values()) - margin_ns
        if floor is not None:
            read_from = max(read_from, floor)
    else:
        read_from = start_ns
    return SeekPlan(start_ns, read_from, found, without)


def _read(path: Path, use: Callable[[pq.ParquetFile], T], default: T) -> T:
    """``use(file)``, or ``default`` when the file is unreadable (the replay reports it)."""
    where, filesystem = arrow_source(path)
    try:
        with pq.ParquetFile(where, filesystem=filesystem) as pf:
            return use(pf)
    except (OSError, pa.ArrowException):
        return default


def _row_groups(pf: pq.ParquetFile, start_ns: int, floor: int | None) -> list[int]:
    """Row groups holding rows in ``[floor, start_ns]`` (by recv_ns statistics)."""
    meta = pf.metadata
    column = pf.schema_arrow.get_field_index("recv_ns")
    groups = []
    for index in range(meta.num_row_groups):
        stats = meta.row_group(index).column(column).statistics
        known = stats is not None and stats.has_min_max
        if known and (stats.min > start_ns or (floor is not None and stats.max < floor)):
            continue
        groups.append(index)
    return groups


def _books_in(
    pf: pq.ParquetFile, partition: Partition, start_ns: int, wanted: set[str] | None
) -> set[Book]:
    """Books with a record at or before ``start_ns`` in this file (two small columns)."""
    groups = _row_groups(pf, start_ns, None)
    if not groups:
        return set()
    table = pf.read_row_groups(groups, columns=["recv_ns", "symbol"], use_threads=False)
    before = pc.less_equal(table.column("recv_ns"), int_scalar(start_ns, pa.int64()))
    symbols = pc.filter(table.column("symbol"), before)
    names = pc.unique(symbols.cast(pa.string())).to_pylist()
    return {
        (partition.exchange, name)
        for name in names
        if name is not None and (wanted is None or name in wanted)
    }


def _scan_snapshots(
    pf: pq.ParquetFile,
    partition: Partition,
    start_ns: int,
    wanted: set[str] | None,
    floor: int | None,
    found: dict[Book, int],
    snapshot_symbols: Callable[[RawRecord], tuple[str, ...]],
) -> None:
    """Record in ``found`` the latest snapshot per book of this file (at/before start_ns),
    for books that do not have a later one yet."""
    ws_snapshots = _ws_snapshots(partition.exchange)
    for group in _row_groups(pf, start_ns, floor):
        small = pf.read_row_group(group, columns=["recv_ns", "kind"], use_threads=False)
        recv = small.column("recv_ns")
        kind = small.column("kind").cast(pa.string())
        in_range = pc.less_equal(recv, int_scalar(start_ns, pa.int64()))
        if floor is not None:
            in_range = pc.and_(in_range, pc.greater_equal(recv, int_scalar(floor, pa.int64())))
        candidates = pc.equal(kind, string_scalar("rest"))
        if ws_snapshots:
            candidates = pc.or_(candidates, pc.equal(kind, string_scalar("ws")))
        candidates = pc.and_(candidates, in_range)
        if not pc.any(candidates).as_py():
            continue
        rows = pf.read_row_group(group, columns=COLUMNS, use_threads=False).filter(candidates)
        if ws_snapshots:
            rows = rows.filter(
                pc.or_(
                    pc.equal(rows.column("kind").cast(pa.string()), string_scalar("rest")),
                    pc.match_substring(rows.column("payload"), '"snapshot"'),
                )
            )
        for rec in records_from_table(rows, partition.exchange):
            for symbol in snapshot_symbols(rec):
                if wanted is not None and symbol not in wanted:
                    continue
                book = (partition.exchange, symbol)
                if rec.recv_ns > found.get(book, -1):
                    found[book] = rec.recv_ns
