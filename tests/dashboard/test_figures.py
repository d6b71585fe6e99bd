"""Figure builders: traces in the order extendData relies on, themed colours, the threshold."""

from __future__ import annotations

import xle.dashboard
from xle.dashboard import figures
from xle.dashboard.state import BookSample, Frame

BOOKS = [("binance", "BTCUSDT"), ("coinbase", "BTC-USD")]
PAIRS = [
    ("BTC/USD", "binance:BTCUSDT", "coinbase:BTC-USD"),
    ("BTC/USD", "coinbase:BTC-USD", "binance:BTCUSDT"),
]


def _frames() -> list[Frame]:
    return [
        Frame(
            i + 1,
            1_700_000_000_000_000_000 + i * 250_000_000,
            {BOOKS[0]: BookSample(100.0 + i, 1.0, 0.5), BOOKS[1]: BookSample(None, None, None)},
            {PAIRS[0]: -5.0 + 4 * i, PAIRS[1]: -20.0},
        )
        for i in range(3)
    ]


def test_the_facade_exports_are_pinned():
    assert set(xle.dashboard.__all__) == {
        "DashboardServer", "DashboardState", "EpisodeHistory", "LiveSession",
        "ReplaySession", "create_app", "log_source",
    }  # fmt: skip


def test_mid_spread_traces_are_mids_then_spreads_with_rows_in_the_same_order():
    frames = _frames()
    fig = figures.mid_spread_figure("dark", BOOKS, frames)
    xs, ys = figures.mid_spread_rows(BOOKS, frames)
    assert [t["y"] for t in fig["data"]] == ys
    assert ys[0] == [100.0, 101.0, 102.0]
    assert ys[1] == [None, None, None]  # an unsynced book leaves a gap, not a zero
    assert ys[2] == [1.0, 1.0, 1.0]
    assert xs[0] == [f.t_ns / 1e6 for f in frames]


def test_gap_chart_highlights_only_points_above_the_threshold():
    frames = _frames()
    fig = figures.gap_figure("dark", PAIRS, frames, 0.0)
    lines, above = fig["data"][:2], fig["data"][2:]
    assert lines[0]["y"] == [-5.0, -1.0, 3.0]
    assert above[0]["y"] == [None, None, 3.0]
    assert above[1]["y"] == [None, None, None]
    threshold = fig["layout"]["shapes"][0]
    assert threshold["y0"] == threshold["y1"] == 0.0


def test_figures_take_their_colours_from_the_theme():
    for name, theme in figures.THEMES.items():
        fig = figures.imbalance_history(name, BOOKS, _frames())
        assert fig["layout"]["font"]["color"] == theme.text
        assert fig["layout"]["xaxis"]["gridcolor"] == theme.grid
        assert fig["data"][0]["line"]["color"] == theme.venues["binance"]


def test_depth_is_cumulative_from_the_best_level():
    fig = figures.depth_figure("light", BOOKS[:1], [([(10.0, 1.0), (9.0, 2.0)], [(11.0, 0.5)])])
    bids, asks = fig["data"]
    assert (bids["x"], bids["y"]) == ([10.0, 9.0], [1.0, 3.0])
    assert (asks["x"], asks["y"]) == ([11.0], [0.5])
