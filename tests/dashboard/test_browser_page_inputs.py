"""Crafted callback requests: every input the server receives is checked against what the
page could have sent. Each test POSTs to ``/_dash-update-component`` of a real server on
127.0.0.1 the way a script would, bypassing the page and its widgets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from xle.dashboard import DashboardServer, EpisodeHistory, ReplaySession, create_app

from .conftest import T0_NS, make_replay
from .pages import dash_post

OK = (200, 204)  # 204: the callback answered "no update"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[ReplaySession, str]]:
    import shutil

    from .conftest import GOLDEN

    root = tmp_path_factory.mktemp("inputs") / "golden"
    shutil.copytree(GOLDEN, root)
    session = make_replay(root)
    session.seek(T0_NS + 5 * 10**9)
    assert session.wait_idle()
    server = DashboardServer(create_app(session, history=EpisodeHistory(None)), "127.0.0.1", 0)
    server.start()
    yield session, server.url
    server.stop()
    session.stop()


def _books(url: str, **values: Any) -> tuple[int, Any]:
    base = {"market.value": "BTC/USD", "theme.data": "dark", "ladder-depth.value": 15}
    base.update(values)
    return dash_post(url, "ladders.children", base)


def _ladder_rows(answer: Any) -> list[int]:
    """Rows per ladder in a books answer."""
    ladders = answer["response"]["ladders"]["children"]
    return [json.dumps(ladder).count('"lad-row"') for ladder in ladders]


@pytest.mark.parametrize("depth", [5000, 21, -3, 15.5, "20", True, None])
def test_a_ladder_depth_the_page_does_not_offer_gets_the_default_depth(served, depth):
    _, url = served
    status, answer = _books(url, **{"ladder-depth.value": depth})
    assert status == 200
    assert _ladder_rows(answer) == [15, 15]


def test_an_offered_ladder_depth_is_used(served):
    _, url = served
    status, answer = _books(url, **{"ladder-depth.value": 20})
    assert status == 200
    assert _ladder_rows(answer) == [20, 20]


@pytest.mark.parametrize("cursor", [[1, 2], "x", 7])
def test_a_malformed_poll_cursor_is_treated_as_a_fresh_one(served, cursor):
    _, url = served
    status, answer = _books(url, **{"books-cursor.data": cursor, "theme.data": "<script>"})
    assert status == 200
    assert _ladder_rows(answer) == [15, 15]


@pytest.mark.parametrize("size", ["nan", "inf", "-inf", 1e300, -1, 0, "abc", [1], True])
def test_a_vwap_size_outside_what_the_box_allows_is_refused_with_the_reason(served, size):
    _, url = served
    status, answer = dash_post(
        url, "vwap-out.children", {"vwap-size.value": size, "vwap-side.value": "buy",
                                   "market.value": "BTC/USD"}
    )  # fmt: skip
    assert status == 200
    text = json.dumps(answer["response"]["vwap-out"]["children"])
    assert "enter a size above 0" in text
    assert "vwap-table" not in text


def test_a_vwap_side_other_than_buy_or_sell_is_read_as_buy(served):
    _, url = served
    status, answer = dash_post(
        url, "vwap-out.children", {"vwap-size.value": 1, "vwap-side.value": "short",
                                   "market.value": "BTC/USD"}
    )  # fmt: skip
    assert status == 200
    assert "buy 1 walks the asks" in json.dumps(answer["response"]["vwap-out"]["children"])


@pytest.mark.parametrize("speed", ["0.000001", "-5", "abc", 1e9, None, ["max"]])
def test_a_replay_speed_the_page_does_not_offer_is_ignored(served, speed):
    session, url = served
    before = session.speed
    status, _ = dash_post(url, "replay-ack.data", {"replay-speed.value": speed})
    assert status in OK
    assert session.speed == before


def test_an_offered_replay_speed_is_applied(served):
    session, url = served
    try:
        status, _ = dash_post(url, "replay-ack.data", {"replay-speed.value": "60"})
        assert status in OK
        assert session.speed == 60.0
    finally:
        session.set_speed(1.0)


@pytest.mark.parametrize("value", ["nan", "inf", {"a": 1}, [3], "ten"])
def test_a_scrub_position_that_is_not_a_number_is_ignored(served, value):
    session, url = served
    assert session.wait_idle()
    before = session.position_ns
    status, _ = dash_post(
        url, "replay-ack.data@", {"replay-scrub.value": value, "scrub-shadow.data": 0.0}
    )
    assert status in OK
    assert session.wait_idle()
    assert session.position_ns == before


@pytest.mark.parametrize(("value", "where"), [(1e12, "end"), (-1e12, "start")])
def test_a_scrub_position_outside_the_replay_is_clamped_to_it(served, value, where):
    session, url = served
    status, answer = dash_post(
        url, "replay-ack.data@", {"replay-scrub.value": value, "scrub-shadow.data": 5.0}
    )
    assert status in OK
    assert session.wait_idle()
    span_s = (session.end_ns - session.start_ns) / 1e9
    acked = answer["response"]["replay-ack"]["data"]
    assert acked == (span_s if where == "end" else 0.0)
    assert session.position_ns == (session.end_ns if where == "end" else session.start_ns)
