"""Scrubbing a replay in headless Chromium: every panel shows what a replay that played
to the scrubbed-to time shows (charts with their history, episodes up to it, the clock).

No derived store here, so the episode table holds only what the session's engine saw.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from xle.dashboard import DashboardServer, EpisodeHistory, ReplaySession, create_app
from xle.dashboard.panels import clock_text, day_time

from .conftest import GOLDEN, T0_NS, T1_NS, eventually, make_replay, new_page, played_state
from .pages import figure, grid_rows, text

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def scrubbed(browser, tmp_path_factory) -> Iterator[tuple[ReplaySession, Any]]:
    root = tmp_path_factory.mktemp("scrub") / "golden"
    shutil.copytree(GOLDEN, root)
    session = make_replay(root)
    history = EpisodeHistory(root, T0_NS, T1_NS, refresh_s=0.5)
    server = DashboardServer(create_app(session, history=history), "127.0.0.1", 0).start()
    page = new_page(browser)
    page.goto(server.url)
    page.wait_for_selector("#replay-time")
    eventually(lambda: text(page, "#replay-time").startswith(day_time(T0_NS)))
    eventually(lambda: figure(page, "mid-chart") and figure(page, "imb-chart"))
    yield session, page
    page.context.close()
    server.stop()
    session.stop()


def _click_scrubber(page: Any, fraction: float) -> None:
    """Click the track where ``fraction`` of the range lies (Playwright first waits for the
    track to be visible, stable and hit by the pointer: the page may still be laying out)."""
    track = page.locator("#replay-scrub .dash-slider-track")
    box = track.bounding_box()
    track.click(position={"x": box["width"] * fraction, "y": box["height"] / 2})


def _points(page: Any, graph_id: str) -> list[int]:
    fig = figure(page, graph_id) or {"data": []}
    return [len(trace["x"]) for trace in fig["data"]]


def _last_x(page: Any, graph_id: str) -> float | None:
    fig = figure(page, graph_id) or {"data": []}
    xs = fig["data"][0]["x"] if fig["data"] else []
    return xs[-1] if xs else None


@pytest.mark.parametrize("fraction", [0.8, 0.35], ids=["forward", "back"])
def test_after_a_scrub_every_panel_shows_the_replay_played_to_that_time(scrubbed, fraction):
    session, page = scrubbed
    generation, before = session.state.generation, session.position_ns
    _click_scrubber(page, fraction)
    eventually(
        lambda: abs(session.position_ns - before) > 10**9 and not session.loading, timeout=20
    )
    assert session.wait_idle()
    position = session.position_ns
    want = played_state(GOLDEN, position)
    frames, episodes = list(want.frames), want.episodes()
    assert len(frames) > 5 and (fraction < 0.5 or episodes)
    if fraction < 0.5:
        assert session.state.generation > generation, "going back starts over"

    for graph in ("mid-chart", "gap-chart", "imb-chart"):
        eventually(lambda g=graph: set(_points(page, g)) == {len(frames)})
        assert _last_x(page, graph) == frames[-1].t_ns / 1e6
    eventually(lambda: text(page, "#clock") == clock_text(position).removesuffix(" UTC"))
    eventually(lambda: text(page, "#replay-time").startswith(day_time(position)))
    eventually(lambda: len(grid_rows(page)) == len(episodes))
    assert {r["source"] for r in grid_rows(page)} <= {"engine"}
    assert text(page, "#arb-note").startswith(f"{len(episodes)} episodes")


def test_a_replay_held_for_a_viewer_plays_once_the_page_is_open(golden_copy, serve, page):
    session = make_replay(golden_copy, speed=None, playing=True, wait_for_viewer=True)
    try:
        server = serve(session, EpisodeHistory(golden_copy, T0_NS, T1_NS))
        page.wait_for_timeout(500)
        assert session.position_ns == T0_NS and not session.finished
        page.goto(server.url)
        eventually(lambda: session.finished)
        eventually(lambda: text(page, "#replay-time").endswith("· end"))
    finally:
        session.stop()
