"""``xle audit``: the integrity report of a recording, per exchange and symbol.

Computed by replaying the raw log through the engine, so it needs no prior ``xle
replay`` and always reflects the log as it is now. Each row counts what the engine
reported about one book -- gaps, resyncs, crossed and stale books, malformed records,
disconnects, other errors -- next to the records and time span it saw, and ends with
the book's final status. Records and events that belong to no symbol (connection
events, Coinbase heartbeats, unreadable files) form one row per exchange with
``symbol = None``.

Each book row also carries what only the venue can vouch for: its feed latency (receipt
time minus the venue's own time of each book update, as percentiles, with the clock
anomalies flagged: negative latencies, which mean the recording clock is behind the
venue's, and jumps of more than a second between consecutive updates) and the tally of
the venue's tops of book checked against the rebuilt book (``xle.analytics.crosscheck``).

With ``--from T0`` the books are warmed up from their latest snapshot before ``T0``
(exactly as ``xle replay`` does) and only records from ``T0`` on are counted.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from xle.analytics.engine import Engine
from xle.config import EngineConfig
from xle.errors import DataError
from xle.records import BookUpdate, IntegrityEvent, IntegrityKind, RawRecord
from xle.replay.session import (
    check_data_root,
    check_range,
    raw_exchanges,
)
from xle.store.paths import raw_dir
from xle.store.reader import read_records
from xle.timeutil import format_ns

__all__ = [
    "AUDIT_COLUMNS",
    "CLOCK_JUMP_NS",
    "AuditReport",
    "BookAudit",
    "latency_summary",
    "run_audit",
]

#: A change of feed latency between two consecutive updates of a book larger than this is
#: a clock jump (one of the two clocks was stepped), not network weather.
CLOCK_JUMP_NS = 1_000_000_000

#: Latency percentiles reported, by name.
_PERCENTILES = (("p50", 50), ("p90", 90), ("p99", 99))

#: Integrity kinds with their own column; the rest are summed into ``errors``.
AUDIT_COLUMNS: dict[str, str] = {
    IntegrityKind.GAP: "gaps",
    IntegrityKind.RESYNC: "resyncs",
    IntegrityKind.CROSSED: "crossed",
    IntegrityKind.STALE: "stale",
    IntegrityKind.MALFORMED: "malformed",
    IntegrityKind.DISCONNECT: "disconnects",
}


@dataclass
class BookAudit:
    exchange: str
    symbol: str | None
    records: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    events: Counter[str] = field(default_factory=Counter)
    status: str = ""  # synced | unsynced | no book ("" for the connection row)
    latencies: array[int] = field(default_factory=lambda: array("q"))  # recv - exch, ns
    cross_check: dict[str, int] | None = None  # ``CrossCheck.to_dict`` of the book

    def see(self, recv_ns: int) -> None:
        self.records += 1
        if self.first_ns is None:
            self.first_ns = recv_ns
        self.last_ns = recv_ns

    @property
    def errors(self) -> int:
        return sum(n for kind, n in self.events.items() if kind not in AUDIT_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "records": self.records,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "first": format_ns(self.first_ns) if self.first_ns is not None else None,
            "last": format_ns(self.last_ns) if self.last_ns is not None else None,
        }
        for kind, column in AUDIT_COLUMNS.items():
            row[column] = self.events.get(kind, 0)
        row["errors"] = self.errors
        row["events"] = dict(sorted(self.events.items()))
        row["status"] = self.status
        row["feed_latency"] = latency_summary(self.latencies)
        row["top_of_book"] = self.cross_check
        return row


@dataclass
class AuditReport:
    start_ns: int | None
    end_ns: int | None
    rows: list[BookAudit]
    skipped_exchanges: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(row.records for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_ns": self.start_ns,
            "to_ns": self.end_ns,
            "records": self.records,
            "skipped_exchanges": self.skipped_exchanges,
            "books": [row.to_dict() for row in self.rows],
        }


def latency_summary(latencies: array[int] | list[int]) -> dict[str, Any] | None:
    """Percentiles (nearest rank, in ns) and clock anomalies of one book's feed latencies
    in arrival order; None when the venue gave no times."""
    n = len(latencies)
    if n == 0:
        return None
    ordered = sorted(latencies)
    summary: dict[str, Any] = {"count": n, "min_ns": ordered[0]}
    for name, pct in _PERCENTILES:
        summary[f"{name}_ns"] = ordered[max(0, -(-pct * n // 100) - 1)]
    summary["max_ns"] = ordered[-1]
    summary["negative"] = sum(1 for v in latencies if v < 0)
    summary["jumps"] = sum(1 for a, b in pairwise(latencies) if abs(b - a) > CLOCK_JUMP_NS)
    anomalies = []
    if summary["negative"]:
        anomalies.append(
            f"{summary['negative']:,} negative (recording clock behind by up to "
            f"{_seconds(-ordered[0])})"
        )
    if summary["jumps"]:
        anomalies.append(f"{summary['jumps']} jumps of more than {_seconds(CLOCK_JUMP_NS)}")
    summary["clock_anomalies"] = anomalies
    return summary


def _seconds(ns: int) -> str:
    """``1274761454`` -> "1.275 s", ``4_600_000`` -> "4.6 ms": for a person, no noise."""
    if abs(ns) >= 1_000_000_000:
        return f"{ns / 1e9:.3f} s"
    if abs(ns) >= 1_000_000:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e3:.1f} µs"


def run_audit(
    root: Path,
    config: EngineConfig,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    exchanges: tuple[str, ...] | None = None,
) -> AuditReport:
    """Replay ``[start_ns, end_ns]`` of the raw log (default: all of it) and tally it.

    Raises ``DataError`` when the range holds no record.
    """
    check_data_root(root)
    if start_ns is not None and end_ns is not None:
        check_range(start_ns, end_ns)
    known, unknown = raw_exchanges(root)
    skipped: list[str] = []
    if exchanges is None:
        exchanges = tuple(known)
        skipped = unknown
    engine = Engine(config)
    rows: dict[tuple[str, str | None], BookAudit] = {}
    counting = [False]  # the record being fed is inside the range (not warm-up)

    def observe(rec: RawRecord, events: list[object]) -> None:
        if not counting[0]:
            return
        for event in events:
            if type(event) is BookUpdate and event.exch_ns is not None:
                row(event.exchange, event.symbol).latencies.append(rec.recv_ns - event.exch_ns)

    engine.observer = observe

    def row(exchange: str, symbol: str | None) -> BookAudit:
        key = (exchange, symbol)
        found = rows.get(key)
        if found is None:
            found = rows[key] = BookAudit(exchange, symbol)
        return found

    for rec, warm in read_records(root, start_ns, end_ns, exchanges=exchanges):
        counting[0] = not warm
        outputs = engine.on_record(rec)
        if warm:
            continue
        row(rec.exchange, rec.symbol).see(rec.recv_ns)
        for out in outputs:
            if isinstance(out, IntegrityEvent):
                row(out.exchange, out.symbol).events[out.kind] += 1
    for out in engine.finish():
        if isinstance(out, IntegrityEvent):
            row(out.exchange, out.symbol).events[out.kind] += 1
    checks = engine.cross_checks()
    if not rows:
        raise DataError(f"no records{_span(start_ns, end_ns)} in {raw_dir(root)}")
    for (exchange, symbol), audit in rows.items():
        if symbol is None:
            continue
        view = engine.book_view(exchange, symbol, 0)
        audit.status = view.status if view is not None else "no book"
        check = checks.get((exchange, symbol))
        audit.cross_check = check.to_dict() if check is not None else None
    ordered = sorted(rows.values(), key=lambda r: (r.exchange, r.symbol is not None, r.symbol))
    return AuditReport(start_ns, end_ns, ordered, skipped)


def _span(start_ns: int | None, end_ns: int | None) -> str:
    if start_ns is None and end_ns is None:
        return ""
    first = format_ns(start_ns) if start_ns is not None else "the start"
    last = format_ns(end_ns) if end_ns is not None else "the end"
    return f" between {first} and {last}"
