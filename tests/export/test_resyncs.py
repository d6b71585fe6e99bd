"""Resyncs on a hand-written Binance log: a snapshot right after a snapshot, and a book
the engine resets because it crossed, exported so that readers rebuild xle's books."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xle
from tests.engine.wire import depth, snapshot
from tests.export.books import read_csv, tardis_books_at, xle_book
from tests.export.test_hftbacktest import (
    DEPTH_CLEAR_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    KIND_MASK,
    _local_books_at,
)
from tests.log.conftest import write_log_file
from xle.replay.export import export

T = 1_704_164_400_000_000_000  # 2024-01-02T03:00:00Z
TIMES = [T + i * 1_000_000 for i in range(1, 7)]  # one record a millisecond


@pytest.fixture
def resync_log(tmp_path: Path) -> Path:
    root = tmp_path / "log"
    records = [
        snapshot(10, [(100, 1), (99, 2)], [(101, 1), (102, 2)], t=TIMES[0]),
        snapshot(30, [(90, 1)], [(91, 1)], t=TIMES[1]),  # newer snapshot: rebases the book
        depth(31, 31, bids=[(89, 1)], t=TIMES[2]),
        depth(32, 32, bids=[(95, 1)], t=TIMES[3]),  # bid above the ask: crossed, reset
        snapshot(40, [(80, 1)], [(81, 1)], t=TIMES[4]),
        depth(41, 41, asks=[(82, 3)], t=TIMES[5]),
    ]
    write_log_file(root, records, "resync-0.parquet")
    return root


def test_snapshot_right_after_a_snapshot_is_written_as_level_changes(resync_log, tmp_path):
    """Readers take consecutive snapshot rows as one snapshot: the second is said as the
    changes that turn the first into it."""
    export(resync_log, "tardis", tmp_path, kinds=["incremental_book_L2"])
    [path] = tmp_path.glob("*incremental_book_L2*")
    _header, rows = read_csv(path)
    second = [r for r in rows if int(r[3]) == TIMES[1] // 1000]
    assert {r[4] for r in second} == {"false"}
    assert sorted((r[5], r[6], r[7]) for r in second) == [
        ("ask", "101", "0"),
        ("ask", "102", "0"),
        ("ask", "91", "1"),
        ("bid", "100", "0"),
        ("bid", "90", "1"),
        ("bid", "99", "0"),
    ]
    after_reset = [r for r in rows if int(r[3]) >= TIMES[4] // 1000]
    assert after_reset[0][4] == "true"


def test_tardis_rows_rebuild_every_synced_book_of_the_resync_log(resync_log, tmp_path):
    export(resync_log, "tardis", tmp_path, kinds=["incremental_book_L2"])
    log = xle.open(resync_log)
    paths = sorted(tmp_path.glob("*incremental_book_L2*"))
    books = tardis_books_at(paths, [t // 1000 for t in TIMES])
    synced = 0
    for t in TIMES:
        expected = xle_book(log, "binance", "BTCUSDT", t)
        if expected is not None:
            assert books[t // 1000] == expected, t
            synced += 1
    assert synced == 5  # all but the crossed moment


def test_hftbacktest_clears_a_reset_book_and_rebuilds_every_moment(resync_log, tmp_path):
    export(resync_log, "hftbacktest", tmp_path)
    [path] = tmp_path.glob("*.npz")
    data = np.load(path)["data"]
    kinds = [int(e) & KIND_MASK for e in data["ev"]]
    crossed_at = data["local_ts"] == TIMES[3]
    assert [int(e) & KIND_MASK for e in data["ev"][crossed_at]][-1] == DEPTH_CLEAR_EVENT
    assert kinds.count(DEPTH_CLEAR_EVENT) == 4  # start, rebase, crossed, resync
    assert DEPTH_SNAPSHOT_EVENT in kinds
    log = xle.open(resync_log)
    books = _local_books_at(data, TIMES)
    for t in TIMES:
        snap = log.book_at("binance", "BTCUSDT", t, vwap=[])
        assert books[t] == (snap.bids, snap.asks), t
