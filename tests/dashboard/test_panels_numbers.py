"""What the panels print for numbers: exchange prices padded to the book's tick, computed
figures rounded (prices to the tick, sizes to the lot, bps to two decimals), never noise."""

from __future__ import annotations

import json
import re

from dash import html

from xle.analytics.engine import BookView
from xle.dashboard import panels
from xle.records import ArbitrageEpisode, VwapResult

NOISE = re.compile(r"\d\.\d{9,}")


def _text(component: html.Div) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda c: c.to_plotly_json())


def _cells(component: html.Div, class_name: str) -> list[str]:
    found: list[str] = []

    def walk(node):
        if isinstance(node, list | tuple):
            for child in node:
                walk(child)
        elif hasattr(node, "children"):
            if class_name in (getattr(node, "className", None) or "").split():
                found.append(node.children)
            walk(node.children)

    walk(component)
    return found


BOOK = BookView(
    "binance",
    "BTCUSDT",
    "synced",
    bids=[(60028.6, 0.5), (60028.32, 1.25), (60003.0, 2.0)],
    asks=[(60028.61, 0.3), (60030.0, 1.0)],
    last_recv_ns=None,
)


def test_ladder_prices_are_padded_to_the_books_tick():
    ladder = panels.ladder(BOOK, "binance:BTCUSDT", 3, None)
    assert [c for c in _cells(ladder, "bid-px") if c] == ["60028.60", "60028.32", "60003.00"]
    assert [c for c in _cells(ladder, "ask-px") if c] == ["60028.61", "60030.00"]


def test_padding_never_rounds_an_exchange_price():
    assert panels.pad_price(60028.125, 2) == "60028.125"
    assert panels.pad_price(60003.0, 2) == "60003.00"
    assert panels.pad_price(0.00001, 0) == "0.00001"


def test_a_spread_below_half_a_hundredth_of_a_bps_is_not_shown_as_zero():
    assert panels.bps_text(0.0017) == "0.0017"
    assert panels.bps_text(0.00049) == "0.00049"
    assert panels.bps_text(0.0) == "0.00"
    assert panels.bps_text(2.345678) == "2.35"


def test_the_ladder_footer_shows_a_tight_spread_truthfully():
    ladder = panels.ladder(BOOK, "binance:BTCUSDT", 3, None)
    assert _cells(ladder, "lad-spread") == ["spread 0.01 · 0.0017 bps"]


def test_the_bbo_table_pads_prices_and_keeps_tight_spreads_nonzero():
    table = panels.bbo_table([("binance:BTCUSDT", BOOK)])
    assert "60028.60" in _text(table)
    assert "spread 0.0017 bps" in _text(table)
    assert "0.00 bps" not in _text(table)


def test_vwap_figures_are_rounded_to_the_books_tick_and_lot():
    result = VwapResult("buy", 1000.0, 60096.664851600006, 380.91965999999843, 1.2345678, True)
    table = panels.vwap_table([("binance:BTCUSDT", result, 2, 5)], "buy", 1000.0)
    assert _cells(table, "vwap-price") == ["60096.66"]
    assert _cells(table, "vwap-filled") == ["380.91966"]
    assert _cells(table, "vwap-slip") == ["1.23"]
    assert _cells(table, "vwap-warn") == ["insufficient depth: the book holds 380.91966 of 1000"]
    assert not NOISE.search(_text(table))


def test_the_vwap_warning_gets_a_full_width_row_of_its_own():
    result = VwapResult("buy", 1000.0, 60096.6, 380.9, 1.2, True)
    table = panels.vwap_table([("binance:BTCUSDT", result, 2, 5)], "buy", 1000.0)
    rows = table.children[0].children
    warn_row = rows[-1]
    assert "vwap-warn-row" in warn_row.className
    assert warn_row.children.colSpan == 4


def _episode(**kw) -> ArbitrageEpisode:
    fields = dict(
        recv_ns=1, seq=1, market="BTC/USD", buy_venue="binance:BTCUSDT",
        sell_venue="coinbase:BTC-USD", status="closed", start_ns=1_764_806_400_000_000_000,
        end_ns=1_764_806_402_000_000_000, duration_ns=2_000_000_000, edge_bps=8.883600000000001,
        peak_edge_bps=27.0, executable_size=0.30000000000000004, profit=60140.42668139999,
        close_reason="edge",
    )  # fmt: skip
    fields.update(kw)
    return ArbitrageEpisode(**fields)


def test_a_toast_rounds_its_edge_and_size():
    text = _text(panels.toast(_episode(), 1, 8))
    assert "net edge +8.88 bps" in text
    assert "size 0.3 " in text
    assert not NOISE.search(text)


def test_episode_rows_carry_rounded_numbers_the_quote_currency_and_a_plain_close_reason():
    row = panels.episode_rows([_episode()], "engine")[0]
    assert row["peak_bps"] == 27.0
    assert row["size"] == 0.3
    assert row["profit"] == 60140.43
    assert row["quote"] == "USD"
    assert row["state"] == "edge gone"
    assert "threshold" in row["close_why"]
    assert row["start"] == "12-04 00:00:00.000"
    assert row["start_full"] == "2025-12-04 00:00:00.000"


def test_episode_sizes_share_the_columns_finest_precision():
    rows = panels.episode_rows(
        [_episode(executable_size=0.3), _episode(executable_size=1.25, start_ns=5)], "log"
    )
    assert {r["size_dp"] for r in rows} == {2}
