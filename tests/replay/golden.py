"""Canonical text of the derived tables, and the compare-or-regenerate step of golden tests."""

from __future__ import annotations

import json
from pathlib import Path

from xle.cli.output import jsonable
from xle.store.views import connect

TABLES = ("quotes", "arbitrage", "integrity")

#: A total order per table, so the export does not depend on file or row-group order.
ORDER = {
    "quotes": "exchange, symbol, recv_ns, seq",
    "arbitrage": "recv_ns, seq, market, buy_venue, sell_venue, status",
    "integrity": "recv_ns, seq, exchange, symbol NULLS FIRST, kind, detail",
}


def export(root: Path, table: str) -> str:
    """One JSON object per row (view columns in order), sorted, newline-terminated."""
    con = connect(root)
    cursor = con.execute(f"SELECT * FROM {table} ORDER BY {ORDER[table]}")
    columns = [d[0] for d in cursor.description]
    return "".join(
        json.dumps(dict(zip(columns, map(jsonable, row), strict=True))) + "\n"
        for row in cursor.fetchall()
    )


def check(expected: Path, actual: str, regen: bool) -> None:
    """Compare with the committed file byte for byte, or rewrite it under --regen-golden."""
    if regen:
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(actual, encoding="utf-8")
        return
    assert expected.exists(), f"{expected} is missing: run pytest tests/replay --regen-golden"
    assert actual == expected.read_text(encoding="utf-8"), f"differs from {expected}"


def tree_bytes(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path (hidden temp files included)."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def count_rows(root: Path, table: str) -> int:
    return connect(root).execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
