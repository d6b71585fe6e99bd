"""A new connection, and a fortiori a new recorder run, starts its books' sync afresh."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.engine.wire import depth, l2, snapshot
from xle.cli import app
from xle.records import Quote, RawRecord
from xle.store.writer import LogWriter

BIDS = [(100.0, 1.0), (99.0, 2.0)]
ASKS = [(101.0, 1.0), (102.0, 3.0)]
T1 = 1_704_164_400_000_000_000  # 2024-01-02T03:00:00Z: the first run
T2 = T1 + 120_000_000_000  # two minutes later: the second run, ids restarted lower
MS = 1_000_000


def _first_run():
    return [
        snapshot(1000, BIDS, ASKS, run="one", t=T1),
        depth(1001, 1001, run="one", t=T1 + 100 * MS),
        depth(1002, 1002, bids=[(100.0, 4.0)], run="one", t=T1 + 200 * MS),
    ]


def test_second_run_snapshot_before_its_frames_syncs_despite_lower_ids(harness):
    harness.feed(
        *_first_run(),
        snapshot(10, [(90.0, 1.0)], [(91.0, 1.0)], run="two", t=T2),
        depth(11, 11, bids=[(90.0, 3.0)], run="two", t=T2 + 100 * MS),
    )
    assert harness.status() == "synced"
    assert harness.book().bids == [(90.0, 3.0)]
    assert harness.engine.ignored_streams() == {}
    # "stale" first: the first run's book had no update for the two minutes between runs
    assert [e.kind for e in harness.integrity()] == ["stale", "new_connection", "resync"]


def test_second_run_frames_before_its_snapshot_sync_on_that_snapshot(harness):
    harness.feed(
        *_first_run(),
        depth(11, 11, bids=[(90.0, 3.0)], run="two", t=T2),
        snapshot(10, [(90.0, 1.0)], [(91.0, 1.0)], run="two", t=T2 + 100 * MS),
        depth(12, 12, asks=[(91.0, 2.0)], run="two", t=T2 + 200 * MS),
    )
    assert harness.status() == "synced"
    assert harness.book().bids == [(90.0, 3.0)]
    assert harness.book().asks == [(91.0, 2.0)]


def test_second_run_books_are_quoted(harness):
    harness.feed(
        *_first_run(),
        snapshot(10, [(90.0, 1.0)], [(91.0, 1.0)], run="two", t=T2),
        *[depth(10 + i, 10 + i, run="two", t=T2 + i * 500 * MS) for i in range(1, 6)],
    )
    quotes = [o for o in harness.outputs if isinstance(o, Quote) and o.recv_ns >= T2]
    assert quotes
    assert {(q.bid, q.ask) for q in quotes} == {(90.0, 91.0)}


def test_new_connection_snapshot_is_not_compared_with_the_old_connection_ids(harness):
    harness.feed(
        snapshot(1000, BIDS, ASKS, conn=0),
        depth(1001, 1001, conn=0),
        snapshot(10, [(90.0, 1.0)], [(91.0, 1.0)], conn=1),  # lower: the old book is newer
        depth(11, 11, bids=[(90.0, 3.0)], conn=1),
    )
    assert harness.status() == "synced"
    assert harness.book().bids == [(90.0, 3.0)]
    assert "binance:old_snapshot" in harness.engine.ignored_streams()  # when it arrived


def test_new_connection_frames_are_not_compared_with_the_old_connection_buffer(harness):
    harness.feed(
        depth(5000, 5000, conn=0),  # buffered, never synced
        depth(11, 11, bids=[(90.0, 3.0)], conn=1),
        snapshot(10, [(90.0, 1.0)], [(91.0, 1.0)], conn=1),
    )
    assert harness.integrity() == []
    assert harness.book().bids == [(90.0, 3.0)]


def test_coinbase_update_from_another_connection_resets_a_live_book(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS, conn=0), l2(0, bids=[(42.0, 1.0)], conn=1))
    assert [e.kind for e in harness.integrity()] == ["new_connection"]
    assert [r.reason for r in harness.resyncs()] == ["new_connection"]
    assert harness.status("coinbase", "BTC-USD") == "unsynced"
    harness.feed(l2(1, "snapshot", BIDS, ASKS, conn=1), l2(2, bids=[(42.0, 1.0)], conn=1))
    assert harness.status("coinbase", "BTC-USD") == "synced"
    assert (42.0, 1.0) in harness.book("coinbase", "BTC-USD").bids


def _write_two_runs(root: Path) -> None:
    def dump(body: object) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()

    def frame(U: int, bid: str) -> bytes:
        data = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": U, "u": U,
                "b": [[bid, "2.0"]], "a": []}  # fmt: skip
        return dump({"stream": "btcusdt@depth@100ms", "data": data})

    path = "/api/v3/depth?symbol=BTCUSDT&limit=1000"
    for run, t0, first, bid in (("one", T1, 1000, "100.0"), ("two", T2, 10, "90.0")):
        snap = dump({"lastUpdateId": first, "bids": [[bid, "1.0"]], "asks": [["101.0", "1"]]})
        rows = [("rest", path, snap)]
        rows += [("ws", "btcusdt@depth@100ms", frame(first + i, bid)) for i in range(1, 60)]
        writer = LogWriter(root, run, roll_seconds=3600.0)
        try:
            for seq, (kind, stream, payload) in enumerate(rows):
                writer.append(
                    RawRecord(
                        t0 + seq * 1000 * MS, "binance", run, 1, seq, kind, stream, "BTCUSDT",
                        payload,
                    )
                )  # fmt: skip
        finally:
            writer.close()


def test_replay_of_two_runs_in_one_root_quotes_the_second_run(tmp_path):
    _write_two_runs(tmp_path)
    args = ["replay", "--from", "2024-01-02T02:00:00Z", "--to", "2024-01-02T04:00:00Z"]
    result = CliRunner().invoke(
        app, [*args, "--data", str(tmp_path), "--dry-run"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "1 synced, 0 unsynced" in result.stdout
    assert "old_snapshot" not in result.stdout


def test_book_at_the_end_of_the_second_run_holds_its_levels(tmp_path):
    _write_two_runs(tmp_path)
    result = CliRunner().invoke(
        app,
        ["book", "-e", "binance", "-s", "BTCUSDT", "--at", "2024-01-02T04:00:00Z",
         "--data", str(tmp_path), "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["status"] == "synced"
    assert view["bids"][0] == ["90", "2"]
