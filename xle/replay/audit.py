"""``xle audit``: the integrity report of a recording, per exchange and symbol.

Computed by replaying the raw log through the engine, so it needs no prior ``xle
replay`` and always reflects the log as it is now. Each row counts what the engine
reported about one book -- gaps, resyncs, crossed and stale books, malformed records,
disconnects, other errors -- next to the records and time span it saw, and ends with
the book's final status. Records and events that belong to no symbol (connection
events, Coinbase heartbeats, unreadable files) form one row per exchange with
``symbol = None``.

With ``--from T0`` the books are warmed up from their latest snapshot before ``T0``
(exactly as ``xle replay`` does) and only records from ``T0`` on are counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xle.analytics.engine import Engine
from xle.config import EngineConfig
from xle.errors import DataError
from xle.records import IntegrityEvent, IntegrityKind
from xle.replay.session import (
    check_data_root,
    check_range,
    raw_exchanges,
)
from xle.store.paths import raw_dir
from xle.store.reader import read_records
from xle.timeutil import format_ns

__all__ = ["AUDIT_COLUMNS", "AuditReport", "BookAudit", "run_audit"]

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

    def row(exchange: str, symbol: str | None) -> BookAudit:
        key = (exchange, symbol)
        found = rows.get(key)
        if found is None:
            found = rows[key] = BookAudit(exchange, symbol)
        return found

    for rec, warm in read_records(root, start_ns, end_ns, exchanges=exchanges):
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
    if not rows:
        raise DataError(f"no records{_span(start_ns, end_ns)} in {raw_dir(root)}")
    for (exchange, symbol), audit in rows.items():
        if symbol is None:
            continue
        view = engine.book_view(exchange, symbol, 0)
        audit.status = view.status if view is not None else "no book"
    ordered = sorted(rows.values(), key=lambda r: (r.exchange, r.symbol is not None, r.symbol))
    return AuditReport(start_ns, end_ns, ordered, skipped)


def _span(start_ns: int | None, end_ns: int | None) -> str:
    if start_ns is None and end_ns is None:
        return ""
    first = format_ns(start_ns) if start_ns is not None else "the start"
    last = format_ns(end_ns) if end_ns is not None else "the end"
    return f" between {first} and {last}"
