"""Property tests: the book and the metrics against deliberately naive references."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xle._native.book import Book
from xle.analytics.metrics import executable_arbitrage, imbalance, vwap

prices = st.integers(min_value=1, max_value=60).map(lambda i: i / 4)  # a small price grid
quantities = st.one_of(st.just(0.0), st.integers(1, 20).map(float))
levels = st.lists(st.tuples(prices, quantities), max_size=30)
updates = st.lists(st.tuples(levels, levels), max_size=25)


class NaiveBook:
    """Dict per side, sorted from scratch on every read."""

    def __init__(self, bids, asks):
        self.bids = {p: q for p, q in bids if q > 0}
        self.asks = {p: q for p, q in asks if q > 0}

    def apply(self, bids, asks):
        for side, changes in ((self.bids, bids), (self.asks, asks)):
            for price, qty in changes:
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty

    def top_bids(self):
        return sorted(self.bids.items(), reverse=True)

    def top_asks(self):
        return sorted(self.asks.items())


def _pair(snapshot, steps):
    book, naive = Book(), NaiveBook(*snapshot)
    book.load(*snapshot)
    for bids, asks in steps:
        book.apply(bids, asks)
        naive.apply(bids, asks)
    return book, naive


@settings(max_examples=300, deadline=None)
@given(st.tuples(levels, levels), updates)
def test_book_levels_match_the_naive_reference(snapshot, steps):
    book, naive = _pair(snapshot, steps)
    assert book.top_bids() == naive.top_bids()
    assert book.top_asks() == naive.top_asks()
    assert book.best_bid() == (naive.top_bids()[0][0] if naive.bids else None)
    assert book.best_ask() == (naive.top_asks()[0][0] if naive.asks else None)


@settings(max_examples=300, deadline=None)
@given(st.tuples(levels, levels), updates, st.integers(1, 80).map(float))
def test_vwap_matches_a_naive_walk(snapshot, steps, size):
    book, naive = _pair(snapshot, steps)
    for side, ladder in (("buy", naive.top_asks()), ("sell", naive.top_bids())):
        units = [price for price, qty in ladder for _ in range(int(qty))]  # unit lots
        taken = units[: int(size)]
        result = vwap(book, side, size)
        assert result.filled == len(taken)
        assert result.insufficient == (len(taken) < size)
        if taken:
            assert result.price == pytest.approx(sum(taken) / len(taken))
        else:
            assert result.price is None


@settings(max_examples=300, deadline=None)
@given(st.tuples(levels, levels), updates, st.integers(1, 12))
def test_imbalance_matches_the_naive_definition(snapshot, steps, depth):
    book, naive = _pair(snapshot, steps)
    bid_total = sum(q for _, q in naive.top_bids()[:depth])
    ask_total = sum(q for _, q in naive.top_asks()[:depth])
    imb, ratio = imbalance(book, depth)
    if bid_total + ask_total == 0:
        assert (imb, ratio) == (None, None)
    else:
        assert imb == pytest.approx((bid_total - ask_total) / (bid_total + ask_total))
        assert ratio == (pytest.approx(bid_total / ask_total) if ask_total else None)


fees = st.sampled_from([0.0, 0.001, 0.006, 0.012])


@settings(max_examples=300, deadline=None)
@given(levels, levels, fees, fees)
def test_executable_arbitrage_matches_unit_by_unit_pairing(asks, bids, fee_buy, fee_sell):
    buy, sell = Book(), Book()
    buy.load([], asks)
    sell.load(bids, [])
    ask_units = [p for p, q in NaiveBook([], asks).top_asks() for _ in range(int(q))]
    bid_units = [p for p, q in NaiveBook(bids, []).top_bids() for _ in range(int(q))]
    size = profit = 0.0
    for ask, bid in zip(ask_units, bid_units, strict=False):
        gain = bid * (1 - fee_sell) - ask * (1 + fee_buy)
        if gain <= 0:
            break
        size += 1
        profit += gain
    got_size, got_profit = executable_arbitrage(buy, fee_buy, sell, fee_sell)
    assert got_size == pytest.approx(size)
    assert got_profit == pytest.approx(profit)
