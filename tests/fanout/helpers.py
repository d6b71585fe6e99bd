"""Comparing derived outputs: every row of every table, sorted."""

from __future__ import annotations

from pathlib import Path

from xle.store.views import connect


def derived_rows(root: Path) -> dict[str, list[tuple]]:
    con = connect(root)
    tables: dict[str, list[tuple]] = {}
    for table in ("quotes", "arbitrage", "integrity"):
        try:
            rows = con.execute(f"SELECT * FROM {table}").fetchall()
        except Exception:  # no replay wrote this table
            rows = []
        tables[table] = sorted(rows, key=repr)
    return tables


def episodes_across(rows: list[tuple], midnight_ns: int) -> list[tuple]:
    """Closed episodes (arbitrage rows) that started before ``midnight_ns`` and ended
    after it; column 5 is ``status``, 6 ``start_ns``, 7 ``end_ns``."""
    return [r for r in rows if r[5] == "closed" and r[6] < midnight_ns < r[7]]
