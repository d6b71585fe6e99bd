"""ReplaySession over the golden log: seek, play, pause, speed, end of data."""

from __future__ import annotations

import time

import pytest

from xle.analytics.engine import Engine
from xle.config import load_config
from xle.dashboard.state import DashboardState
from xle.store.reader import read_records

from .conftest import GOLDEN, T0_NS, T1_NS, eventually, make_replay, played_state


def _reference_engine(before_ns: int) -> Engine:
    """A full replay from the start of the log up to (not including) ``before_ns``."""
    engine = Engine(load_config())
    for rec, _ in read_records(GOLDEN, T0_NS - 10**9, T1_NS):
        if rec.recv_ns >= before_ns:
            break
        engine.on_record(rec)
    return engine


def _views(engine: Engine):
    return {key: engine.book_view(*key) for key in engine.book_keys()}


@pytest.mark.parametrize("offset_s", [3.5, 5.0, 9.2])
def test_seek_gives_the_state_a_full_replay_has_at_that_time(replay_session, offset_s):
    target = T0_NS + int(offset_s * 1e9)
    replay_session.seek(target)
    assert replay_session.wait_idle()
    with replay_session.state.lock:
        shown = _views(replay_session.state.engine)
    assert shown == _views(_reference_engine(target))
    assert replay_session.position_ns == target


def test_seek_is_clamped_to_the_replay_range(replay_session):
    replay_session.seek(T0_NS - 10**12)
    assert replay_session.wait_idle()
    assert replay_session.position_ns == T0_NS
    replay_session.seek(T1_NS + 10**12)
    assert replay_session.wait_idle()
    assert replay_session.position_ns == T1_NS


def test_a_paused_replay_does_not_move(replay_session):
    records = replay_session.state.counters.records
    time.sleep(0.3)
    assert replay_session.position_ns == T0_NS
    assert replay_session.state.counters.records == records


def test_play_moves_the_position_and_pause_freezes_it(replay_session):
    replay_session.set_speed(10.0)
    replay_session.play()
    eventually(lambda: replay_session.position_ns > T0_NS + 10**9)
    replay_session.pause()
    frozen = replay_session.position_ns
    time.sleep(0.3)
    assert replay_session.position_ns == frozen
    assert not replay_session.playing


def test_max_speed_runs_to_the_end_and_closes_open_episodes(golden_copy):
    session = make_replay(golden_copy, speed=None, playing=True)
    try:
        eventually(lambda: session.finished)
        state = session.state
        assert session.position_ns == T1_NS
        assert not session.playing
        assert not state.open_episodes
        reasons = sorted(e.close_reason for e in state.episodes())
        assert reasons == ["book_unsynced", "edge", "end_of_data"]
    finally:
        session.stop()


def test_play_after_the_end_starts_over(golden_copy):
    session = make_replay(golden_copy, speed=None, playing=True)
    try:
        eventually(lambda: session.finished)
        generation = session.state.generation
        session.pause()
        session.set_speed(1.0)
        session.play()
        eventually(lambda: session.state.generation > generation and not session.loading)
        assert session.position_ns < T0_NS + 5 * 10**9
    finally:
        session.stop()


def test_speed_must_be_positive(replay_session):
    with pytest.raises(ValueError):
        replay_session.set_speed(0.0)
    with pytest.raises(ValueError):
        replay_session.set_speed(float("nan"))


def _played_state(until_ns: int) -> DashboardState:
    return played_state(GOLDEN, until_ns)


def _shown(state: DashboardState) -> dict:
    """Everything the page draws from the state (frame ids aside: they only grow)."""
    with state.lock:
        engine = state.engine
        return {
            "books": {key: engine.book_view(*key) for key in engine.book_keys()},
            "frames": [(f.t_ns, f.books, f.edges) for f in state.frames],
            "episodes": state.episodes(),
            "integrity": state.integrity_events(),
            "records": state.counters.records,
            "first": state.counters.first_recv_ns,
            "last": state.counters.last_recv_ns,
        }


@pytest.mark.parametrize("offsets_s", [[9.2], [9.2, 3.5], [3.5, 9.2], [9.2, 0.0]])
def test_a_scrub_shows_what_a_replay_played_to_that_time_shows(replay_session, offsets_s):
    for offset_s in offsets_s:  # forward (fast-forward) and back (start over)
        target = T0_NS + int(offset_s * 1e9)
        replay_session.seek(target)
        assert replay_session.wait_idle()
    shown = _shown(replay_session.state)
    assert shown == _shown(_played_state(target))
    if offsets_s[-1] > 5:
        assert len(shown["frames"]) > 10 and shown["episodes"], "history up to T is there"
        assert shown["last"] is not None and target - shown["last"] < 10**9


def test_pausing_shows_everything_up_to_the_paused_time(replay_session):
    replay_session.set_speed(4.0)
    replay_session.play()
    eventually(lambda: replay_session.position_ns > T0_NS + 6 * 10**9)
    replay_session.pause()
    paused = replay_session.position_ns
    eventually(lambda: _shown(replay_session.state) == _shown(_played_state(paused)))


def test_a_scrub_raises_no_toasts_for_the_episodes_it_skips(replay_session):
    replay_session.seek(T1_NS)
    assert replay_session.wait_idle()
    assert replay_session.state.episodes()
    assert replay_session.state.alerts_after(0) == []


def test_a_replay_waiting_for_a_viewer_stays_at_its_start_until_one_connects(golden_copy):
    session = make_replay(golden_copy, speed=None, playing=True, wait_for_viewer=True)
    try:
        records = session.state.counters.records
        time.sleep(0.5)
        assert session.position_ns == T0_NS
        assert session.state.counters.records == records
        assert not session.finished
        session.viewer_connected()
        eventually(lambda: session.finished)
    finally:
        session.stop()
