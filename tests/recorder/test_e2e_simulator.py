"""End to end: simulator -> Recorder -> raw log -> read_records -> Engine == ground truth.

Real WebSockets and REST on 127.0.0.1 against ``xle.simulator``, both protocols, a clean
run and one run per fault kind. See e2e.py for what "the true book" is at the end.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from tests.recorder.e2e import Scenario, expected_book, record_scenario, replayed_book
from xle.recorder.live import DEFAULT_SYMBOLS
from xle.simulator import FaultConfig, final_truth

pytestmark = pytest.mark.e2e

BOOKS = [(ex, sym) for ex, syms in DEFAULT_SYMBOLS.items() for sym in syms]


def _assert_books_match_truth(scenario: Scenario) -> None:
    for exchange, symbol in BOOKS:
        status, bids, asks = replayed_book(scenario, exchange, symbol)
        want_bids, want_asks = expected_book(scenario, exchange, symbol)
        assert status == "synced", f"{exchange} {symbol}"
        assert bids == want_bids, f"{exchange} {symbol} bids"
        assert asks == want_asks, f"{exchange} {symbol} asks"


def _assert_log_is_complete(scenario: Scenario) -> None:
    """Every frame and REST response that reached the recorder is in the log, once."""
    records = scenario.records
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert len({r.run for r in records}) == 1
    assert all(a.recv_ns <= b.recv_ns for a, b in itertools.pairwise(records))
    for venue, stats in scenario.recorder.stats.items():
        assert len(scenario.frames(venue)) == stats.frames, venue
        rest = [r for r in records if r.kind == "rest" and r.exchange == venue]
        assert len(rest) == stats.rest_responses, venue


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Scenario:
    return record_scenario(tmp_path_factory.mktemp("clean"), min_seconds=2.5)


def test_clean_run_rebuilds_every_true_book_exactly(clean):
    _assert_books_match_truth(clean)
    for exchange, symbol in BOOKS:  # nothing lost at all: the final truth itself
        truth = final_truth(clean.truth_dir, exchange, symbol)
        _, bids, _ = replayed_book(clean, exchange, symbol)
        assert len(bids) == len(truth.bids)


def test_clean_run_logs_everything_that_reached_the_recorder(clean):
    _assert_log_is_complete(clean)
    assert not clean.integrity("gap") and not clean.integrity("malformed")
    assert all(s.reconnects == 0 for s in clean.recorder.stats.values())


def test_clean_run_records_streams_symbols_and_snapshots(clean):
    streams = Counter((r.exchange, r.stream, r.symbol) for r in clean.records if r.kind == "ws")
    assert streams[("binance", "btcusdt@depth@100ms", "BTCUSDT")] > 20
    assert streams[("binanceus", "ethusd@depth@100ms", "ETHUSD")] > 20
    assert streams[("coinbase", "l2_data", "BTC-USD")] > 20
    assert streams[("coinbase", "heartbeats", None)] >= 2
    rest = {(r.exchange, r.stream) for r in clean.records if r.kind == "rest"}
    assert ("binance", "/api/v3/depth?symbol=BTCUSDT&limit=1000") in rest
    events = Counter((r.exchange, r.stream) for r in clean.records if r.kind == "event")
    assert events[("coinbase", "subscribed")] == 3
    assert events[("binance", "connected")] == 1


def test_gap_is_resynced_and_books_match_truth(tmp_path):
    scenario = record_scenario(
        tmp_path,
        faults=FaultConfig(drop=0.01),
        until=lambda rec, live: (
            {"binance", "binanceus", "coinbase"}
            <= {o.exchange for o in live if getattr(o, "kind", None) == "resync"}
        ),
    )
    gaps = scenario.integrity("gap")
    assert {g.exchange for g in gaps} == {"binance", "binanceus", "coinbase"}
    assert scenario.integrity("resync")
    events = Counter((r.exchange, r.stream) for r in scenario.records if r.kind == "event")
    assert events[("binance", "resync")] >= 1 and events[("coinbase", "resync")] >= 1
    assert scenario.recorder.stats["binance"].resyncs >= 1
    _assert_log_is_complete(scenario)
    _assert_books_match_truth(scenario)


def test_disconnect_reconnects_with_a_new_conn_and_books_match_truth(tmp_path):
    scenario = record_scenario(
        tmp_path,
        faults=FaultConfig(disconnect_after=150),
        until=lambda rec, live: all(s.reconnects >= 1 for s in rec.stats.values()),
    )
    for venue in DEFAULT_SYMBOLS:
        frames = scenario.frames(venue)
        assert len({r.conn for r in frames}) >= 2, venue
    assert scenario.integrity("disconnect")
    disconnected = [r for r in scenario.records if r.stream == "disconnected"]
    assert {r.exchange for r in disconnected} == set(DEFAULT_SYMBOLS)
    _assert_log_is_complete(scenario)
    _assert_books_match_truth(scenario)


def test_malformed_frame_becomes_an_integrity_event_and_books_recover(tmp_path):
    scenario = record_scenario(
        tmp_path,
        faults=FaultConfig(malformed=0.01),
        until=lambda rec, live: (
            {"binance", "binanceus", "coinbase"}
            <= {o.exchange for o in live if getattr(o, "kind", None) == "malformed"}
        ),
    )
    malformed = scenario.integrity("malformed")
    assert {m.exchange for m in malformed} == {"binance", "binanceus", "coinbase"}
    _assert_log_is_complete(scenario)
    _assert_books_match_truth(scenario)


def test_failing_snapshots_are_retried_until_the_books_sync(tmp_path):
    scenario = record_scenario(
        tmp_path,
        faults=FaultConfig(snapshot_fail=0.5, drop=0.005),
        symbols={"binance": ["BTCUSDT", "ETHUSDT"]},
        until=lambda rec, live: rec.stats["binance"].rest_errors >= 2,
    )
    errors = [r for r in scenario.records if r.stream == "error"]
    assert errors and all(r.symbol in ("BTCUSDT", "ETHUSDT") for r in errors)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        status, bids, asks = replayed_book(scenario, "binance", symbol)
        assert status == "synced"
        assert (bids, asks) == expected_book(scenario, "binance", symbol)
    _assert_log_is_complete(scenario)
