"""Quote files written before the venue-time columns existed stay readable in the views."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from tests.replay.conftest import Cli
from xle.store.views import open_views


def _replay(root: Path) -> list[Path]:
    result = Cli()(
        "replay", "--data", root, "--from", "2024-01-02T03:00:00Z", "--to", "2024-01-02T04:00:00Z"
    )
    assert result.exit_code == 0, result.stderr
    return sorted((root / "derived" / "quotes").rglob("*.parquet"))


def _drop_venue_time(path: Path) -> None:
    """Rewrite ``path`` as an older xle wrote it: no ``exch_ns``, no ``feed_latency_ns``."""
    table = pq.read_table(path).drop_columns(["exch_ns", "feed_latency_ns"])
    pq.write_table(table, path)


def _quotes(root: Path) -> tuple[list, list]:
    views = open_views(root)
    rows = views.con.execute(
        "SELECT exchange, exch_ns, feed_latency_ns FROM quotes ORDER BY exchange, recv_ns, seq"
    ).fetchall()
    return rows, views.notices


def test_quote_files_without_the_venue_time_columns_read_as_null(golden_root: Path) -> None:
    files = _replay(golden_root)
    assert len(files) == 2  # one per exchange
    before, _ = _quotes(golden_root)
    _drop_venue_time(files[0])  # binance's file, as an older xle wrote it
    rows, notices = _quotes(golden_root)
    assert notices == []
    assert len(rows) == len(before)
    assert {r[1:] for r in rows if r[0] == "binance"} == {(None, None)}
    assert [r for r in rows if r[0] == "coinbase"] == [r for r in before if r[0] == "coinbase"]


def test_only_old_quote_files_still_give_the_full_view(golden_root: Path) -> None:
    files = _replay(golden_root)
    for path in files:
        _drop_venue_time(path)
    rows, notices = _quotes(golden_root)
    assert notices == []
    assert rows and {r[1:] for r in rows} == {(None, None)}
