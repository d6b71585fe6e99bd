"""The dashboard in headless Chromium over a replay of the golden Binance + Coinbase log.

One page is loaded for the whole module (loading Dash, plotly.js and AG Grid costs a few
seconds); every test first puts the replay where it needs it (seek, pause, speed), so
the tests do not depend on each other's order.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from xle import numfmt
from xle.dashboard import DashboardServer, EpisodeHistory, ReplaySession, create_app
from xle.dashboard.figures import THEMES
from xle.dashboard.panels import day_time, format_computed

from .conftest import GOLDEN, T0_NS, T1_NS, eventually, make_replay, new_page, replay_derived
from .pages import book_places, expected_ladder, figure, grid_rows, ladder_rows, text

pytestmark = pytest.mark.browser

BOOKS = ["binance:BTCUSDT", "coinbase:BTC-USD"]


@dataclass
class Dash:
    session: ReplaySession
    page: Any

    def at(self, offset_s: float) -> None:
        """Pause the replay at T0 + ``offset_s`` and wait until the page shows it."""
        self.session.pause()
        self.session.set_speed(1.0)
        target = T0_NS + int(offset_s * 1e9)
        self.session.seek(target)
        assert self.session.wait_idle()
        eventually(lambda: text(self.page, "#replay-time").startswith(day_time(target)))

    def engine(self):
        return self.session.state.engine


@pytest.fixture(scope="module")
def dash(browser, tmp_path_factory) -> Iterator[Dash]:
    root = tmp_path_factory.mktemp("dash") / "golden"
    shutil.copytree(GOLDEN, root)
    replay_derived(root)  # the episode table reads these through DuckDB
    session = make_replay(root)
    history = EpisodeHistory(root, T0_NS, T1_NS, refresh_s=0.5)
    server = DashboardServer(create_app(session, history=history), "127.0.0.1", 0).start()
    page = new_page(browser)
    page.goto(server.url)
    page.wait_for_selector("#replay-time")
    yield Dash(session, page)
    page.context.close()
    server.stop()
    session.stop()


def test_ladders_show_the_engines_books_as_exact_decimals(dash):
    dash.at(5.0)
    for label in BOOKS:
        exchange, _, symbol = label.partition(":")
        with dash.session.state.lock:
            view = dash.engine().book_view(exchange, symbol)
        want = expected_ladder(view, 15)
        assert any(row[1] for row in want)
        eventually(lambda label=label, want=want: ladder_rows(dash.page, label) == want)


def test_vwap_calculator_shows_what_the_engine_computes(dash):
    dash.at(4.0)
    page = dash.page
    page.fill("#vwap-size", "1.5")
    page.press("#vwap-size", "Enter")
    page.locator("#vwap-side label", has_text="sell").click()
    for label in BOOKS:
        exchange, _, symbol = label.partition(":")
        with dash.session.state.lock:
            result = dash.engine().vwap(exchange, symbol, "sell", 1.5)
            tick, lot = book_places(dash.engine(), exchange, symbol)
        row = f"#vwap-out tr[data-book='{label}']"
        shown = (format_computed(result.price, tick), numfmt.trimmed(result.filled, lot))
        # Price and filled size together: a 1.5 sell can cost what the default 1 did, so
        # the price alone may match before the new size is applied.
        eventually(
            lambda row=row, shown=shown: (
                (text(page, f"{row} .vwap-price"), text(page, f"{row} .vwap-filled")) == shown
            )
        )
        warned = page.locator(f"{row} .vwap-warn").count() == 1
        assert warned == result.insufficient


def test_vwap_calculator_flags_a_size_the_book_cannot_fill(dash):
    dash.at(4.0)
    page = dash.page
    page.locator("#vwap-side label", has_text="buy").click()
    page.fill("#vwap-size", "1000")
    page.press("#vwap-size", "Enter")
    row = "#vwap-out tr[data-book='binance:BTCUSDT']"
    eventually(lambda: "insufficient depth" in text(page, f"{row} .vwap-warn"))
    with dash.session.state.lock:
        result = dash.engine().vwap("binance", "BTCUSDT", "buy", 1000.0)
        tick, lot = book_places(dash.engine(), "binance", "BTCUSDT")
    assert result.insufficient
    assert text(page, f"{row} .vwap-filled") == numfmt.trimmed(result.filled, lot)
    assert text(page, f"{row} .vwap-price") == format_computed(result.price, tick)


def test_play_moves_the_shown_time_and_pause_stops_it(dash):
    dash.at(0.0)
    page = dash.page
    page.click("#replay-play")
    eventually(lambda: text(page, "#replay-time") > "03:00:01")
    page.click("#replay-play")
    eventually(lambda: not dash.session.playing)
    stopped = day_time(dash.session.position_ns)
    eventually(lambda: text(page, "#replay-time").startswith(stopped))
    page.wait_for_timeout(1000)
    assert text(page, "#replay-time").startswith(stopped)
    assert "play" in text(page, "#replay-play")


def test_scrubbing_moves_the_shown_time_and_rebuilds_the_books(dash):
    dash.at(0.0)
    page = dash.page
    track = page.locator("#replay-scrub .dash-slider-track").bounding_box()
    page.mouse.click(track["x"] + track["width"] * 0.75, track["y"] + track["height"] / 2)
    eventually(
        lambda: dash.session.position_ns > T0_NS + 10**9 and not dash.session.loading, timeout=20
    )
    position = dash.session.position_ns
    assert T0_NS + 7 * 10**9 < position < T0_NS + 11 * 10**9
    eventually(lambda: text(page, "#replay-time").startswith(day_time(position)))
    with dash.session.state.lock:
        view = dash.engine().book_view("binance", "BTCUSDT")
    eventually(lambda: ladder_rows(page, "binance:BTCUSDT") == expected_ladder(view, 15))


def test_the_episode_table_reads_the_derived_store_through_duckdb(dash):
    dash.at(0.0)

    def from_the_log() -> list[dict] | None:
        # The table first shows the session's own (possibly still open) episodes; read
        # the rows only once all three come from the derived store.
        rows = grid_rows(dash.page)
        return rows if len(rows) == 3 and {r["source"] for r in rows} == {"log"} else None

    rows = eventually(from_the_log)
    assert "open" not in {r["state"] for r in rows}
    assert "3 episodes" in text(dash.page, "#arb-note")


def test_an_arbitrage_episode_shows_in_the_gap_chart_the_toasts_and_the_table(dash):
    dash.at(0.0)
    page = dash.page
    page.click("#replay-speed")
    page.get_by_role("option", name="max").click()
    page.click("#replay-play")
    eventually(lambda: dash.session.finished)
    eventually(lambda: page.locator("#toasts .toast").count() >= 1)
    assert "ARB OPEN" in text(page, "#toasts .toast >> nth=0")
    assert "binance:BTCUSDT" in text(page, "#toasts .toast >> nth=0")

    def highlighted() -> int:
        fig = figure(page, "gap-chart") or {"data": []}
        marks = [t for t in fig["data"] if t["name"].endswith("opportunity")]
        return sum(1 for t in marks for y in t["y"] if y is not None)

    eventually(highlighted)
    # The table follows on its 1 s poll: wait for the end of data to close the last one.
    rows = eventually(
        lambda: (
            (rows := grid_rows(page))
            and {r["source"] for r in rows} == {"engine"}
            and "open" not in {r["state"] for r in rows}
            and rows
        )
    )
    assert len(rows) == 3
    assert {r["buy"] for r in rows} == {"binance"}
    assert {r["sell"] for r in rows} == {"coinbase"}
    assert sorted(r["state"] for r in rows) == ["book unsynced", "edge gone", "end of data"]
    page.click("#replay-speed")
    page.get_by_role("option", name="1×").click()


def test_theme_toggle_switches_the_page_and_charts_and_survives_a_reload(dash):
    page = dash.page

    def theme() -> str:
        return page.evaluate("document.documentElement.getAttribute('data-theme')")

    def chart_font() -> str | None:
        return (figure(page, "mid-chart") or {}).get("font")

    assert theme() == "dark"
    dark_background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.click("#theme-toggle")
    eventually(lambda: theme() == "light")
    eventually(lambda: chart_font() == THEMES["light"].text)
    light_background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light_background != dark_background
    page.reload()
    page.wait_for_selector("#replay-time")
    assert theme() == "light"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == light_background
    eventually(lambda: chart_font() == THEMES["light"].text)
    page.click("#theme-toggle")
    eventually(lambda: theme() == "dark")
    eventually(lambda: chart_font() == THEMES["dark"].text)
