"""The compiled book and the pure-Python book are interchangeable: same levels, same sums.

Every float is compared with ``==`` on purpose: the compiled walks must round exactly
like the Python ones, or ``xle book`` and the derived outputs would depend on whether the
extension was built.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xle._native import book as book_module
from xle._native.book import PyBook
from xle.analytics import metrics

pytestmark = pytest.mark.skipif(not book_module.COMPILED, reason="compiled book not built")

if book_module.COMPILED:
    from xle._native._fastbook import Book as FastBook
    from xle._native._fastbook import vwap as fast_vwap

    from xle._native import _fastbook

# Prices on a 0.01 grid and sizes on a 1e-8 grid, as the venues print them.
_price = st.integers(9_900, 10_100).map(lambda t: t / 100)
_qty = st.one_of(st.just(0.0), st.integers(1, 10**9).map(lambda u: u / 1e8))
_levels = st.lists(st.tuples(_price, _qty), max_size=40)
_ops = st.lists(st.tuples(_levels, _levels), max_size=25)


def _pair(snapshot_bids, snapshot_asks):
    slow, fast = PyBook(), FastBook()
    slow.load(snapshot_bids, snapshot_asks)
    fast.load(snapshot_bids, snapshot_asks)
    return slow, fast


def _same_state(slow, fast):
    assert fast.top_bids() == slow.top_bids()
    assert fast.top_asks() == slow.top_asks()
    assert fast.top() == slow.top()
    assert (fast.best_bid_size(), fast.best_ask_size()) == (
        slow.best_bid_size(),
        slow.best_ask_size(),
    )
    assert fast.is_crossed() == slow.is_crossed()
    assert len(fast) == len(slow)
    assert fast.bids == slow.bids and fast.asks == slow.asks


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 200),
    st.lists(st.tuples(st.booleans(), st.integers(-5, 210), _qty), max_size=60),
)
def test_a_deep_book_finds_every_level_near_the_touch_and_far_from_it(depth, updates):
    """Levels are looked up among the last 32 keys first (without a branch per key),
    then by bisection: updates at, next to and beyond that window of a deep book."""
    bids = [((9_999 - k) / 100, 1.0) for k in range(depth)]
    asks = [((10_001 + k) / 100, 1.0) for k in range(depth)]
    slow, fast = _pair(bids, asks)
    for bid, distance, qty in updates:  # ``distance`` ticks from the first book's touch
        if bid:
            change = ([((9_999 - distance) / 100, qty)], [])
        else:
            change = ([], [((10_001 + distance) / 100, qty)])
        assert fast.apply(*change) == slow.apply(*change)
        _same_state(slow, fast)


@settings(max_examples=150, deadline=None)
@given(_levels, _levels, _ops)
def test_compiled_book_keeps_the_same_levels_through_any_updates(bids, asks, ops):
    slow, fast = _pair(bids, asks)
    _same_state(slow, fast)
    for op_bids, op_asks in ops:
        assert fast.apply(op_bids, op_asks) == slow.apply(op_bids, op_asks)
        _same_state(slow, fast)


@settings(max_examples=150, deadline=None)
@given(_levels, _levels, st.floats(0.0, 200.0), st.integers(0, 12))
def test_compiled_walks_and_sums_round_exactly_like_python(bids, asks, size, depth):
    slow, fast = _pair(bids, asks)
    for buy in (True, False):
        assert fast.walk(buy, size) == slow.walk(buy, size)
    assert fast.depth_sums(depth) == slow.depth_sums(depth)


#: Two books each (a buyer's and a seller's) and the buyer's fee, for the pair metrics.
_two_books = st.tuples(_levels, _levels, _levels, _levels, st.sampled_from([0.0, 0.001, 0.006]))


def _buy_sell(b1, a1, b2, a2):
    """(slow buy book, fast buy book, slow sell book, fast sell book)."""
    return (*_pair(b1, a1), *_pair(b2, a2))


#: Pair metrics: (compiled name in ``_fastbook``, the Python function it must match).
_PAIR_METRICS = [
    ("executable_arbitrage", metrics._executable_arbitrage),
    ("book_edge_bps", metrics.book_edge_bps),
]


@pytest.mark.parametrize(("compiled", "python"), _PAIR_METRICS, ids=[n for n, _ in _PAIR_METRICS])
@settings(max_examples=150, deadline=None)
@given(books=_two_books)
def test_compiled_pair_metrics_match_the_python_ones(compiled, python, books):
    slow_buy, fast_buy, slow_sell, fast_sell = _buy_sell(*books[:4])
    fee = books[4]
    expected = python(slow_buy, fee, slow_sell, 0.002)
    assert getattr(_fastbook, compiled)(fast_buy, fee, fast_sell, 0.002) == expected


@settings(max_examples=150, deadline=None)
@given(_levels, _levels, st.floats(0.0, 200.0))
def test_compiled_vwap_gives_the_same_result_as_python(bids, asks, size):
    slow, fast = _pair(bids, asks)
    for side in ("buy", "sell"):
        assert fast_vwap(fast, side, size) == metrics._vwap(slow, side, size)


def test_compiled_vwap_rejects_an_unknown_side():
    with pytest.raises(ValueError, match="side must be"):
        fast_vwap(FastBook(), "hold", 1.0)


def test_snapshot_duplicates_keep_the_last_positive_quantity():
    levels = [(100.0, 1.0), (99.0, 2.0), (100.0, 3.0), (100.0, 0.0)]
    slow, fast = _pair(levels, [])
    assert fast.top_bids() == slow.top_bids() == [(100.0, 3.0), (99.0, 2.0)]


def test_the_compiled_book_accepts_lists_and_ints_like_the_python_one():
    slow, fast = _pair([[100, 1]], [[101, 2]])
    fast.apply([[100, 0]], ((102, 1),))
    slow.apply([[100, 0]], ((102, 1),))
    assert fast.top_bids() == slow.top_bids() == []
    assert fast.top_asks() == slow.top_asks()
