"""Guards that keep a book from freezing while it says synced (Binance update ids)."""

from __future__ import annotations

import msgspec
import pytest

from tests.engine.wire import depth, raw_frame, snapshot
from xle.config import load_config
from xle.errors import ConfigError
from xle.exchanges import binance

BIDS = [(100.0, 1.0), (99.0, 2.0)]
ASKS = [(101.0, 1.0), (102.0, 3.0)]
T0 = 1_800_000_000_000_000_000
SECOND = 1_000_000_000


@pytest.fixture(params=["compiled", "pure"])
def path(request, monkeypatch):
    if request.param == "pure":
        monkeypatch.setattr(binance, "fast_binance_depth", None)
    elif binance.fast_binance_depth is None:
        pytest.skip("compiled parsers not built")
    return request.param


def _frame(U, u):
    payload = (
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT",'
        b'"U":%d,"u":%d,"b":[["100.0","9.0"]],"a":[]}}' % (U, u)
    )
    return raw_frame(payload, stream="btcusdt@depth@100ms")


@pytest.mark.parametrize("u", [99999999999999999999, 2**63])
def test_update_id_beyond_int64_is_malformed_and_the_book_goes_on(path, harness, u):
    harness.feed(snapshot(10, BIDS, ASKS), _frame(11, u), depth(11, 12, bids=[(100.0, 5.0)]))
    assert [e.kind for e in harness.integrity()] == ["malformed"]
    assert harness.status() == "synced"
    assert harness.book().bids[0] == (100.0, 5.0)


def test_update_id_far_ahead_of_its_first_id_is_malformed(path, harness):
    harness.feed(snapshot(10, BIDS, ASKS), _frame(11, 2**63 - 1))
    [problem] = harness.integrity()
    assert problem.kind == "malformed"
    assert "U=11 u=9223372036854775807 cannot be real" in problem.detail
    assert harness.book().bids[0] == (100.0, 1.0)  # untouched
    harness.feed(depth(11, 12, bids=[(100.0, 5.0)]))
    assert harness.book().bids[0] == (100.0, 5.0)


def test_final_id_below_the_first_id_is_malformed(path, harness):
    harness.feed(snapshot(10, BIDS, ASKS), _frame(12, 11))
    assert [e.kind for e in harness.integrity()] == ["malformed"]
    assert harness.book().bids[0] == (100.0, 1.0)


def test_span_bound_comes_from_the_config(path, make_harness, tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text("max_update_span = 5\n")
    harness = make_harness(max_update_span=load_config(conf).max_update_span)
    harness.feed(snapshot(10, BIDS, ASKS), _frame(11, 17))
    assert [e.kind for e in harness.integrity()] == ["malformed"]
    harness.feed(_frame(11, 16))
    assert harness.integrity("malformed")[1:] == []


def test_snapshot_id_beyond_int64_is_malformed(harness):
    payload = b'{"lastUpdateId":99999999999999999999,"bids":[],"asks":[]}'
    harness.feed(msgspec.structs.replace(snapshot(10), payload=payload))
    assert [e.kind for e in harness.integrity()] == ["malformed"]
    assert harness.status() is None


def test_book_ignoring_updates_for_too_long_is_reported_reset_and_resynced(path, harness):
    """A snapshot id from the far future makes every real update stale: 1 per second."""
    harness.feed(snapshot(2**63 - 2, BIDS, ASKS, t=T0))
    for i in range(11):
        harness.feed(depth(11 + i, 11 + i, bids=[(100.0, 5.0)], t=T0 + (i + 1) * SECOND))
    [event] = harness.integrity()
    assert event.kind == "stale_stream"
    assert "11 updates in a row over 10.0 s ignored as stale" in event.detail
    assert [r.reason for r in harness.resyncs()] == ["stale_stream"]
    assert harness.status() == "unsynced"


def test_many_stale_updates_in_a_row_are_reported_before_the_time_bound(path, harness):
    harness.feed(snapshot(2**63 - 2, BIDS, ASKS, t=T0))
    for i in range(50):
        harness.feed(depth(11 + i, 11 + i, t=T0 + (i + 1) * 10_000_000))
    assert [e.kind for e in harness.integrity()] == ["stale_stream"]
    assert harness.engine.stats["reset_stale_stream"] == 1


def test_a_few_stale_updates_after_a_newer_snapshot_are_no_alarm(path, harness):
    harness.feed(snapshot(10, BIDS, ASKS), depth(11, 11), snapshot(40, BIDS, ASKS))
    for i in range(12, 41):  # the stream catches up with the snapshot: 29 stale updates
        harness.feed(depth(i, i))
    harness.feed(depth(41, 41, bids=[(100.0, 7.0)]))
    assert harness.integrity() == []
    assert harness.book().bids[0] == (100.0, 7.0)


def test_applied_update_ends_a_run_of_stale_ones(path, make_harness):
    harness = make_harness(stale_stream_updates=3)
    harness.feed(snapshot(10, BIDS, ASKS), depth(9, 9), depth(10, 10), depth(11, 11))
    harness.feed(depth(5, 5), depth(6, 6))
    assert harness.integrity() == []


def test_stale_stream_reset_syncs_again_on_the_next_snapshot(path, harness):
    harness.feed(snapshot(2**63 - 2, BIDS, ASKS, t=T0))
    for i in range(50):
        harness.feed(depth(11 + i, 11 + i, t=T0 + (i + 1) * 10_000_000))
    harness.feed(depth(61, 61), snapshot(60, BIDS, ASKS), depth(62, 62, bids=[(100.0, 8.0)]))
    assert harness.status() == "synced"
    assert harness.book().bids[0] == (100.0, 8.0)
    assert [e.kind for e in harness.integrity()] == ["stale_stream", "resync"]


def test_default_config_holds_the_guard_bounds():
    config = load_config()
    assert config.max_update_span == 1_000_000
    assert config.stale_stream_updates == 50
    assert config.stale_stream_ns == 10 * SECOND


@pytest.mark.parametrize("line", ["stale_stream_updates = 0", "max_update_span = -1",
                                  'stale_stream_s = "ten"'])  # fmt: skip
def test_guard_bounds_must_be_positive_numbers(tmp_path, line):
    conf = tmp_path / "c.toml"
    conf.write_text(line + "\n")
    with pytest.raises(ConfigError, match="must be a positive number"):
        load_config(conf)


@pytest.mark.parametrize("kind", ["ws", "rest", "event"])
def test_a_record_without_a_payload_is_malformed_and_the_book_goes_on(harness, kind):
    """Not a record the recorder writes (a log made elsewhere): one integrity event that
    names it, then the next frames apply as before."""
    empty = msgspec.structs.replace(_frame(11, 11), kind=kind, payload=None)
    harness.feed(snapshot(10, BIDS, ASKS), empty, depth(11, 12, bids=[(100.0, 5.0)]))
    (event,) = harness.integrity()
    assert event.kind == "malformed"
    assert event.detail == f"{kind} record of btcusdt@depth@100ms without a payload"
    assert harness.status() == "synced"
    assert harness.book().bids[0] == (100.0, 5.0)
