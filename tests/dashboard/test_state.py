"""DashboardState: record-time histories, alerts and resets, fed by a real engine."""

from __future__ import annotations

import gc
import tracemalloc

from msgspec.structs import replace

from xle.analytics.engine import Engine
from xle.config import load_config
from xle.dashboard.state import DashboardState
from xle.records import ArbitrageEpisode
from xle.store.reader import read_records

from .conftest import GOLDEN, T0_NS, T1_NS


def _golden_records():
    return [rec for rec, _ in read_records(GOLDEN, T0_NS, T1_NS)]


def _fed_state(sample_ns: int = 250_000_000) -> tuple[DashboardState, list]:
    state = DashboardState(Engine(load_config()), sample_ns=sample_ns)
    outputs = []
    for rec in _golden_records():
        outs = state.engine.on_record(rec)
        outputs.extend(outs)
        state.ingest(rec, outs)
    return state, outputs


def test_history_frames_are_one_per_record_time_interval():
    state, _ = _fed_state()
    buckets = [frame.t_ns // state.sample_ns for frame in state.frames]
    assert len(buckets) > 5
    assert buckets == sorted(set(buckets))


def test_a_frame_holds_the_engine_state_after_its_record():
    state = DashboardState(Engine(load_config()))
    checked = 0
    for rec in _golden_records():
        before = state.last_frame_id()
        state.ingest(rec, state.engine.on_record(rec))
        if state.last_frame_id() == before:
            continue
        frame = state.frames[-1]
        for exchange, symbol in state.engine.book_keys():
            view = state.engine.book_view(exchange, symbol)
            sample = frame.books[(exchange, symbol)]
            if view.status == "synced" and view.bids and view.asks:
                assert sample.mid == (view.bids[0][0] + view.asks[0][0]) / 2
                assert sample.imbalance == state.engine.imbalance(exchange, symbol)[0]
                checked += 1
            else:
                assert sample.mid is None
        assert frame.edges == state.engine.arbitrage.last_edge
    assert checked > 0


def test_warmup_records_move_the_engine_but_leave_no_history():
    state = DashboardState(Engine(load_config()))
    for rec in _golden_records():
        state.ingest(rec, state.engine.on_record(rec), warmup=True)
    assert state.engine.book_keys()
    assert not state.frames
    assert not state.integrity
    assert not state.alerts_after(0)
    assert state.counters.records > 0


def test_each_opened_episode_raises_one_alert_and_closing_files_it():
    state, outputs = _fed_state()
    opened = [o for o in outputs if isinstance(o, ArbitrageEpisode) and o.status == "open"]
    closed = [o for o in outputs if isinstance(o, ArbitrageEpisode) and o.status == "closed"]
    assert [a.episode for a in state.alerts_after(0)] == opened
    assert len(opened) == 3
    assert len(state.episodes()) == len(opened)  # open ones plus closed ones, once each
    assert {e.start_ns for e in state.closed_episodes} == {e.start_ns for e in closed}


def test_finish_outputs_close_the_episodes_still_open():
    state, _ = _fed_state()
    assert state.open_episodes
    state.ingest_outputs(state.engine.finish())
    assert not state.open_episodes
    assert state.episodes()[0].close_reason == "end_of_data"


def test_integrity_events_are_kept_newest_first():
    state, _ = _fed_state()
    kinds = [e.kind for e in state.integrity_events()]
    assert "gap" in kinds and "resync" in kinds and "malformed" in kinds
    times = [e.recv_ns for e in state.integrity_events()]
    assert times == sorted(times, reverse=True)


def test_frames_after_returns_only_the_newer_frames():
    state, _ = _fed_state()
    ids = [f.frame_id for f in state.frames]
    middle = ids[len(ids) // 2]
    assert [f.frame_id for f in state.frames_after(middle)] == [i for i in ids if i > middle]
    assert state.frames_after(ids[-1]) == []
    assert [f.frame_id for f in state.frames_after(0)] == ids


def test_reset_drops_every_history_and_bumps_the_generation():
    state, _ = _fed_state()
    generation = state.generation
    state.reset(Engine(load_config()))
    assert state.generation == generation + 1
    assert not state.frames and not state.integrity and not state.episodes()
    assert state.engine.book_keys() == []


def test_markets_and_pairs_come_from_the_books_seen():
    state, _ = _fed_state()
    assert state.markets() == ["BTC/USD"]
    assert state.books_of("BTC/USD") == [("binance", "BTCUSDT"), ("coinbase", "BTC-USD")]
    assert state.pairs_of("BTC/USD") == [
        ("BTC/USD", "binance:BTCUSDT", "coinbase:BTC-USD"),
        ("BTC/USD", "coinbase:BTC-USD", "binance:BTCUSDT"),
    ]
    assert state.books_of(None) == []


def test_every_history_stays_bounded_however_long_the_feed_runs():
    """The golden log fed 60 times over (a new run each time, so books resync, episodes
    open and close, integrity events pile up): past the bounds, memory stays flat."""
    records = _golden_records()
    span = T1_NS - T0_NS
    state = DashboardState(Engine(load_config()), history=40, max_events=8)

    def feed(first: int, last: int) -> None:
        for k in range(first, last):
            for rec in records:
                shifted = replace(rec, recv_ns=rec.recv_ns + k * span, run=f"{rec.run}-{k}")
                state.ingest(shifted, state.engine.on_record(shifted))
            state.records_per_second()

    feed(0, 10)  # fill every buffer to its bound
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        feed(10, 60)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(state.frames) == 40
    assert len(state.integrity) == len(state.closed_episodes) == 8
    assert len(state.alerts) == 32
    assert len(state.open_episodes) <= len(state.pairs_of("BTC/USD"))
    assert len(state.counters.rate_window) <= 64
    assert state.closed_total > 8 and state.counters.records == 60 * len(records)
    assert grown < 100_000, f"{grown:,} bytes more after 50 more passes"
