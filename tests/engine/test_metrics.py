"""Metrics on hand-built books, and the exact decimal strings `xle book` prints."""

from __future__ import annotations

import pytest

from xle._native.book import Book, format_decimal
from xle.analytics.metrics import executable_arbitrage, imbalance, net_edge_bps, vwap


def _book(bids, asks):
    book = Book()
    book.load(bids, asks)
    return book


def test_vwap_walks_levels_from_the_best():
    book = _book([], [(101.0, 1.0), (102.0, 1.0), (105.0, 10.0)])
    result = vwap(book, "buy", 2.5)
    assert result.price == pytest.approx((101.0 + 102.0 + 105.0 * 0.5) / 2.5)
    assert result.filled == 2.5
    assert result.insufficient is False
    assert result.slippage_bps == pytest.approx((result.price - 101.0) / 101.0 * 1e4)


def test_vwap_sell_walks_the_bids_and_slippage_is_positive_cost():
    book = _book([(100.0, 1.0), (98.0, 1.0)], [])
    result = vwap(book, "sell", 2.0)
    assert result.price == 99.0
    assert result.slippage_bps == pytest.approx(100.0)


def test_vwap_flags_insufficient_depth_and_reports_what_filled():
    result = vwap(_book([], [(101.0, 1.0), (102.0, 1.0)]), "buy", 5.0)
    assert (result.filled, result.insufficient) == (2.0, True)
    assert result.price == 101.5


def test_vwap_on_an_empty_side_has_no_price():
    result = vwap(Book(), "sell", 1.0)
    assert (result.price, result.filled, result.insufficient) == (None, 0.0, True)


def test_vwap_rejects_an_unknown_side():
    with pytest.raises(ValueError, match="side"):
        vwap(Book(), "hold", 1.0)


def test_imbalance_uses_only_the_top_levels():
    book = _book([(100.0, 3.0), (99.0, 100.0)], [(101.0, 1.0), (102.0, 100.0)])
    assert imbalance(book, 1) == (pytest.approx(0.5), pytest.approx(3.0))


def test_imbalance_of_an_empty_book_is_undefined():
    assert imbalance(Book(), 10) == (None, None)


def test_net_edge_is_relative_to_the_cash_spent():
    assert net_edge_bps(100.0, 0.0, 101.0, 0.0) == pytest.approx(100.0)
    assert net_edge_bps(100.0, 0.02, 101.0, 0.0) < 0.0


def test_executable_arbitrage_stops_at_the_first_unprofitable_unit():
    buy = _book([], [(100.0, 1.0), (101.0, 5.0)])
    sell = _book([(101.5, 3.0)], [])
    size, profit = executable_arbitrage(buy, 0.0, sell, 0.0)
    assert size == pytest.approx(3.0)
    assert profit == pytest.approx(1.5 * 1.0 + 0.5 * 2.0)


def test_crossed_detection():
    assert _book([(101.0, 1.0)], [(101.0, 1.0)]).is_crossed()
    assert not _book([(100.0, 1.0)], [(101.0, 1.0)]).is_crossed()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (float("0.35270000"), "0.3527"),
        (float("100.00000000"), "100"),
        (float("0.00000001"), "0.00000001"),
        (float("60000.01000000"), "60000.01"),
        (float("12345678.12345678"), "12345678.12345678"),
        (float("1E+21"), "1000000000000000000000"),
    ],
)
def test_format_decimal_prints_the_exchange_string_without_trailing_zeros(value, text):
    assert format_decimal(value) == text
