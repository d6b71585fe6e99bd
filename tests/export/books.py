"""Rebuilding books from exported files the way the other tools read them, and the
sample times at which they are compared with ``xle.open(root).book_at``."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import xle
from xle.errors import DataError

Ladder = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        return header, list(reader)


def ladder(bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal]) -> Ladder:
    return (
        sorted(bids.items(), key=lambda level: -level[0]),
        sorted(asks.items(), key=lambda level: level[0]),
    )


def tardis_books_at(paths: Iterable[Path], times_us: list[int]) -> dict[int, Ladder]:
    """The book an ``incremental_book_L2`` reader holds after every row with
    ``local_timestamp <= t``: a run of snapshot rows after other rows replaces the book,
    amount 0 removes a level."""
    rows = [row for path in paths for row in read_csv(path)[1]]
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    books: dict[int, Ladder] = {}
    pending = sorted(times_us)
    in_snapshot = False
    i = 0
    for t in pending:
        while i < len(rows) and int(rows[i][3]) <= t:
            _ex, _sym, _ts, _local, is_snapshot, side, price, amount = rows[i]
            snapshot = is_snapshot == "true"
            if snapshot and not in_snapshot:
                bids.clear()
                asks.clear()
            in_snapshot = snapshot
            levels = bids if side == "bid" else asks
            if Decimal(amount) == 0:
                levels.pop(Decimal(price), None)
            else:
                levels[Decimal(price)] = Decimal(amount)
            i += 1
        books[t] = ladder(bids, asks)
    return books


def xle_book(log: xle.Log, exchange: str, symbol: str, at_ns: int) -> Ladder | None:
    """xle's own book at ``at_ns``; None while it is unsynced (no reader of a tardis file
    can know a book is void until its next snapshot), or before its first record."""
    try:
        snap = log.book_at(exchange, symbol, at_ns, vwap=[])
    except DataError as exc:  # no record of the book yet
        if "no book for" in str(exc):
            return None
        raise
    if snap.status != "synced":
        return None
    return (
        [(Decimal(p), Decimal(q)) for p, q in snap.bids],
        [(Decimal(p), Decimal(q)) for p, q in snap.asks],
    )


def sample_times(log: xle.Log, exchange: str, symbol: str, count: int) -> list[int]:
    """``count`` receive times spread over the book's records, each moved to the last
    nanosecond of its microsecond: exported times are whole microseconds, so every record
    of that microsecond is then on both sides of the comparison."""
    table = log.raw(exchanges=exchange, symbols=symbol, columns=["recv_ns"])
    times = table.column("recv_ns").to_pylist()
    step = max(len(times) // count, 1)
    picks = [*times[step // 2 :: step][:count], times[-1]]
    return sorted({t // 1000 * 1000 + 999 for t in picks})
