"""The page as a person reads it, in headless Chromium at common laptop sizes: numbers
without float noise, ladders that line up, a VWAP box that answers as you type, alerts
that cover nothing, an episode table that fits, controls that show the replay's state.

One replay of the golden log (with its derived store, so the episode table has rows) is
served for the module; each test opens its own page at the size it needs.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from xle import numfmt
from xle.dashboard import DashboardServer, EpisodeHistory, ReplaySession, create_app

from .conftest import GOLDEN, T0_NS, T1_NS, eventually, make_replay, replay_derived
from .pages import grid_rows, ladder_rows, text

pytestmark = pytest.mark.browser

LAPTOP = (1366, 768)
DESKTOP = (1600, 900)


class Served:
    def __init__(self, session: ReplaySession, url: str) -> None:
        self.session = session
        self.url = url

    def at(self, offset_s: float) -> None:
        """Paused at T0 + ``offset_s``, at 1x."""
        self.session.pause()
        self.session.set_speed(1.0)
        self.session.seek(T0_NS + int(offset_s * 1e9))
        assert self.session.wait_idle()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("layout") / "golden"
    shutil.copytree(GOLDEN, root)
    replay_derived(root)
    session = make_replay(root)
    history = EpisodeHistory(root, T0_NS, T1_NS, refresh_s=0.5)
    server = DashboardServer(create_app(session, history=history), "127.0.0.1", 0).start()
    yield Served(session, server.url)
    server.stop()
    session.stop()


def _open(browser: Any, served: Served, size: tuple[int, int], theme: str = "dark") -> Any:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    if theme != "dark":
        context.add_init_script(f"localStorage.setItem('theme', JSON.stringify('{theme}'))")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(served.url)
    page.wait_for_selector("#replay-time")
    return page


@pytest.fixture
def opened(browser, served) -> Iterator[Any]:
    pages: list[Any] = []

    def open_page(size: tuple[int, int] = DESKTOP, theme: str = "dark") -> Any:
        page = _open(browser, served, size, theme)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.context.close()


def _box(page: Any, selector: str) -> dict[str, float]:
    return page.locator(selector).first.bounding_box()


def _overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


# --------------------------------------------------------------------------- 12.10 numbers

#: A decimal with more than six places: what float noise looks like on the page.
_NOISE = re.compile(r"\d\.\d{7,}")
_PAGE_TEXT = """() => document.body.innerText + '\\n' + Array.from(
    document.querySelectorAll('[title]')).map(e => e.getAttribute('title')).join('\\n')"""


def test_no_float_noise_anywhere_on_the_page_or_in_its_tooltips(opened, served):
    served.at(11.0)
    page = opened(DESKTOP)
    page.fill("#vwap-size", "1000")
    page.press("#vwap-size", "Enter")
    row = "#vwap-out tr[data-book='binance:BTCUSDT']"
    eventually(lambda: page.locator(f"{row} .vwap-warn").count() == 1)
    eventually(lambda: len(grid_rows(page)) == 3)
    noise = _NOISE.findall(page.evaluate(_PAGE_TEXT))
    assert noise == []


def test_the_vwap_price_is_rounded_to_the_books_tick(opened, served):
    served.at(11.0)
    page = opened(DESKTOP)
    page.fill("#vwap-size", "1000")
    page.press("#vwap-size", "Enter")
    row = "#vwap-out tr[data-book='binance:BTCUSDT']"
    eventually(lambda: page.locator(f"{row} .vwap-warn").count() == 1)
    prices = [r[1] for r in ladder_rows(page, "binance:BTCUSDT") if r[1]]
    tick = numfmt.max_decimals(prices)
    with served.session.state.lock:
        result = served.session.state.engine.vwap("binance", "BTCUSDT", "buy", 1000.0)
    assert text(page, f"{row} .vwap-price") == numfmt.fixed(result.price, tick)


def test_chart_hover_labels_round_what_they_show(opened, served):
    served.at(11.0)
    page = opened(DESKTOP)
    templates = {}
    for graph in ("mid-chart", "gap-chart", "depth-chart", "imb-chart"):

        def read(graph=graph):
            return page.evaluate(
                """(id) => { const p = document.querySelector(`#${id} .js-plotly-plot`);
                   return p && p.data && p.data.length ? p.data.map(t => t.hovertemplate)
                   : null; }""",
                graph,
            )

        templates[graph] = eventually(read)
    for graph, found in templates.items():
        for template in found:
            assert re.search(r"%\{[xy]:[^}]+\}", template), (graph, template)
            assert "%{y}" not in template and "%{x}" not in template, (graph, template)


# --------------------------------------------------------------------------- 12.11 ladders


def test_ladder_prices_are_padded_to_one_tick_so_the_columns_line_up(opened, served):
    served.at(11.0)
    page = opened(DESKTOP)
    rows = eventually(lambda: ladder_rows(page, "binance:BTCUSDT"))
    prices = [r[1] for r in rows if r[1]] + [r[2] for r in rows if r[2]]
    assert len(prices) > 2
    assert len({numfmt.decimals(p + "1") - 1 for p in prices}) == 1, prices


# --------------------------------------------------------------------------- 12.12 VWAP


def test_the_vwap_size_applies_as_you_type_without_enter(opened, served):
    served.at(11.0)
    page = opened(DESKTOP)
    eventually(lambda: page.locator("#vwap-out .vwap-table").count() == 1)
    page.click("#vwap-size")
    page.keyboard.press("Control+A")
    page.keyboard.type("2.5", delay=30)
    eventually(lambda: "buy 2.5 walks" in text(page, "#vwap-out"), timeout=5)


def test_an_unusable_vwap_size_says_what_is_expected(opened, served):
    served.at(11.0)
    page = opened(DESKTOP)
    page.click("#vwap-size")
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    eventually(lambda: "enter a size above 0" in text(page, "#vwap-out"), timeout=5)


@pytest.mark.parametrize("size", [LAPTOP, DESKTOP])
def test_the_insufficient_depth_warning_leaves_every_vwap_column_visible(opened, served, size):
    served.at(11.0)
    page = opened(size)
    page.fill("#vwap-size", "1000")
    page.press("#vwap-size", "Enter")
    eventually(lambda: page.locator("#vwap-out .vwap-warn").count() == 2)
    outside = page.evaluate(
        """() => {
            const edge = document.querySelector('.area-vwap .panel-body')
                .getBoundingClientRect().right;
            return Array.from(document.querySelectorAll('#vwap-out td, #vwap-out th'))
                .filter(c => c.getBoundingClientRect().right > edge + 0.5)
                .map(c => c.textContent);
        }"""
    )
    assert outside == []
    heights = page.evaluate(
        """() => Array.from(document.querySelectorAll('#vwap-out .vwap-warn'))
            .map(e => [e.getBoundingClientRect().height,
                       parseFloat(getComputedStyle(e).lineHeight) || 14])"""
    )
    assert all(height < 2 * line for height, line in heights)  # one line, not wrapped


# --------------------------------------------------------------------------- 12.13 alerts


@pytest.mark.parametrize("size", [LAPTOP, DESKTOP])
def test_arbitrage_alerts_cover_no_panel(opened, served, size):
    page = opened(size)
    served.at(0.0)
    served.session.set_speed(None)
    served.session.play()
    eventually(lambda: page.locator("#toasts .toast").count() >= 1, timeout=15)
    assert "ARB OPEN" in text(page, "#toasts")
    # One read of every box: the toasts re-render as alerts come and go.
    boxes = page.evaluate(
        """() => Object.fromEntries(['.panel', '#toasts .toast'].map(sel => [sel,
            Array.from(document.querySelectorAll(sel)).map(e => {
                const r = e.getBoundingClientRect();
                return {x: r.x, y: r.y, width: r.width, height: r.height};
            })]))"""
    )
    assert boxes["#toasts .toast"]
    for box in boxes["#toasts .toast"]:
        assert not any(_overlaps(box, panel) for panel in boxes[".panel"])
    served.at(0.0)


# --------------------------------------------------------------------------- 12.14 episodes

_CUT_CELLS = """() => Array.from(document.querySelectorAll(
    '#arb-table .ag-header-cell-text, #arb-table .ag-cell'))
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""
_HIDDEN_COLUMNS = """() => {
    const view = document.querySelector('#arb-table .ag-center-cols-viewport')
        || document.querySelector('#arb-table .ag-body-viewport');
    const edge = view.getBoundingClientRect().right;
    return Array.from(document.querySelectorAll('#arb-table .ag-header-cell'))
        .filter(e => e.getBoundingClientRect().right > edge + 1)
        .map(e => e.getAttribute('col-id'));
}"""


@pytest.mark.parametrize("size", [LAPTOP, DESKTOP])
def test_every_episode_column_shows_uncut(opened, served, size):
    served.at(0.0)
    page = opened(size)
    eventually(lambda: len(grid_rows(page)) == 3)
    page.locator("#arb-table").scroll_into_view_if_needed()
    assert page.evaluate(_HIDDEN_COLUMNS) == []
    assert page.evaluate(_CUT_CELLS) == []


def test_the_episode_table_shows_at_least_ten_rows_at_1366x768(opened, served):
    served.at(0.0)
    page = opened(LAPTOP)
    eventually(lambda: len(grid_rows(page)) == 3)
    viewport = _box(page, "#arb-table .ag-body-viewport")
    row = _box(page, "#arb-table .ag-center-cols-container .ag-row")
    assert viewport["height"] / row["height"] >= 10


def test_a_number_filter_keeps_rows_at_least_the_typed_value(opened, served):
    served.at(0.0)
    page = opened(DESKTOP)
    eventually(lambda: len(grid_rows(page)) == 3)
    page.locator("#arb-table .ag-floating-filter[aria-colindex] input").nth(
        _column_index(page, "peak_bps")
    ).fill("40")
    eventually(lambda: [r["peak_bps"] for r in grid_rows(page)] == ["46.26"])


def _column_index(page: Any, col_id: str) -> int:
    ids = page.evaluate(
        """() => Array.from(document.querySelectorAll('#arb-table .ag-header-cell[col-id]'))
            .map(e => e.getAttribute('col-id'))"""
    )
    inputs_before = ids.index(col_id)
    return inputs_before


def test_episode_numbers_have_one_precision_per_column_and_profit_a_currency(opened, served):
    served.at(0.0)
    page = opened(DESKTOP)
    rows = eventually(lambda: len(grid_rows(page)) == 3 and grid_rows(page))
    for column in ("peak_bps", "duration_s", "size"):
        assert len({numfmt.decimals(r[column] + "1") for r in rows}) == 1, column
    assert all(re.fullmatch(r"\d+\.\d\d USD", r["profit"]) for r in rows), rows
    assert sorted(r["state"] for r in rows) == ["book unsynced", "edge gone", "end of data"]


# --------------------------------------------------------------------------- 12.15 space


def test_the_scrub_bar_takes_the_room_the_top_bar_has(opened, served):
    served.at(0.0)
    page = opened(DESKTOP)
    scrub = _box(page, "#replay-scrub")
    assert scrub["width"] >= 0.3 * DESKTOP[0]
    time_end = _box(page, "#replay-time")
    clock = _box(page, "#clock")
    assert clock["x"] - (time_end["x"] + time_end["width"]) < 40  # no idle gap in the bar


def test_the_order_book_panel_is_as_tall_as_its_ladders(opened, served):
    served.at(11.0)
    page = opened((1600, 1080))
    eventually(lambda: ladder_rows(page, "binance:BTCUSDT"))
    body = _box(page, ".area-ladders .panel-body")
    ladders = _box(page, "#ladders")
    assert body["height"] - ladders["height"] <= 0.1 * body["height"]


# --------------------------------------------------------------------------- 12.7 reload


def test_a_reloaded_page_shows_the_replays_speed(opened, served):
    served.at(0.0)
    served.session.set_speed(600.0)
    try:
        page = opened(DESKTOP)
        assert text(page, "#replay-speed") == "600×"
    finally:
        served.at(0.0)


def test_a_reloaded_page_shows_that_the_replay_is_playing(opened, served):
    served.at(0.0)
    served.session.play()
    try:
        page = opened(DESKTOP)
        assert "pause" in text(page, "#replay-play")
    finally:
        served.at(0.0)


def test_a_reloaded_page_shows_the_replays_position(opened, served):
    served.at(6.0)
    page = opened(DESKTOP)
    slider = page.locator("#replay-scrub [role=slider]")
    assert abs(float(slider.get_attribute("aria-valuenow")) - 6.0) < 0.01


def test_a_reloaded_page_keeps_the_chosen_ladder_depth(opened, served):
    served.at(11.0)
    page = opened(DESKTOP)
    page.locator("#ladder-depth label", has_text="20").click()
    eventually(lambda: len(ladder_rows(page, "binance:BTCUSDT") or []) == 20)
    page.reload()
    page.wait_for_selector("#replay-time")
    eventually(lambda: len(ladder_rows(page, "binance:BTCUSDT") or []) == 20)
