"""The episode table: DuckDB over the derived store, merged with the session's episodes."""

from __future__ import annotations

from xle.dashboard.history import EpisodeHistory

from .conftest import T0_NS, T1_NS, make_replay, replay_derived


def test_stored_episodes_are_read_once_each_in_their_latest_state(golden_copy):
    replay_derived(golden_copy)
    rows = EpisodeHistory(golden_copy, T0_NS, T1_NS).stored()
    assert len(rows) == 3
    assert {r["status"] for r in rows} == {"closed"}
    assert sorted(r["close_reason"] for r in rows) == ["book_unsynced", "edge", "end_of_data"]
    assert [r["start_ns"] for r in rows] == sorted((r["start_ns"] for r in rows), reverse=True)


def test_the_time_window_filters_stored_episodes(golden_copy):
    replay_derived(golden_copy)
    rows = EpisodeHistory(golden_copy, T0_NS, T0_NS + 5 * 10**9).stored()
    assert len(rows) == 1
    assert rows[0]["buy_venue"] == "binance:BTCUSDT"


def test_session_episodes_replace_stored_rows_of_the_same_episode(golden_copy):
    replay_derived(golden_copy)
    session = make_replay(golden_copy, speed=None, playing=True)
    try:
        while not session.finished:
            session.wait_idle()
        rows = EpisodeHistory(golden_copy, T0_NS, T1_NS).rows(session.state.episodes())
    finally:
        session.stop()
    assert len(rows) == 3
    assert {r["source"] for r in rows} == {"engine"}


def test_no_derived_store_means_no_stored_rows(golden_copy):
    history = EpisodeHistory(golden_copy)
    assert history.stored() == []
    assert history.error is None
    assert EpisodeHistory(None).rows([]) == []
