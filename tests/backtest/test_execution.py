"""The execution simulator's rules, each on a hand-written book."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.backtest.conftest import Scripted, book, run
from tests.backtest.frames import Frames, at
from xle.backtesting.latency import Latency

D = Decimal
ASKS = [("42001", "1.2"), ("42002", "3"), ("42010", "5")]


def _reference_walk(levels, qty: Decimal, limit: Decimal | None):
    """Naive Decimal walk: (price, qty) per level taken."""
    out = []
    for price, size in levels:
        p, s = Decimal(price), Decimal(size)
        if qty <= 0 or (limit is not None and p > limit):
            break
        take = min(s, qty)
        out.append((p, take))
        qty -= take
    return out


def test_market_buy_walks_the_asks_level_by_level_at_exact_prices() -> None:
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "2.5")})
    run(book(), s)
    assert s.fills_of(1) == [("42001", "1.2", "taker"), ("42002", "1.3", "taker")]
    assert s.statuses(1) == [("accepted", None), ("filled", None)]


@settings(max_examples=40, deadline=None)
@given(
    qty=st.decimals(min_value=D("0.001"), max_value=D("12"), places=3),
    limit=st.one_of(st.none(), st.sampled_from([D("42001"), D("42002"), D("42005"), D("42010")])),
)
def test_taker_fills_equal_a_naive_decimal_walk(qty: Decimal, limit: Decimal | None) -> None:
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", qty, limit=limit)})
    run(book(), s)
    expected = _reference_walk(ASKS, qty, limit)
    assert [(f.price, f.qty) for f in s.fills] == expected


def test_a_second_order_sees_only_what_the_first_left() -> None:
    s = Scripted(
        {
            10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1"),
            11: lambda ctx: ctx.buy("binance", "BTCUSDT", "1"),
        }
    )
    run(book(), s)
    assert s.fills_of(1) == [("42001", "1", "taker")]
    assert s.fills_of(2) == [("42001", "0.2", "taker"), ("42002", "0.8", "taker")]


def test_the_venues_next_update_of_a_level_restores_it() -> None:
    frames = book().depth(20, 101, 101, asks=[("42001", "1.2")])
    s = Scripted(
        {
            10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1"),
            30: lambda ctx: ctx.buy("binance", "BTCUSDT", "1"),
        }
    )
    run(frames, s)
    assert s.fills_of(2) == [("42001", "1", "taker")]


def test_an_update_of_another_level_leaves_the_taken_liquidity_taken() -> None:
    frames = book().depth(20, 101, 101, asks=[("42002", "3")])
    s = Scripted(
        {
            10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1"),
            30: lambda ctx: ctx.buy("binance", "BTCUSDT", "1"),
        }
    )
    run(frames, s)
    assert s.fills_of(2) == [("42001", "0.2", "taker"), ("42002", "0.8", "taker")]


def test_ioc_limit_stops_at_its_price_and_expires_the_rest() -> None:
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "2", limit="42001")})
    run(book(), s)
    assert s.fills_of(1) == [("42001", "1.2", "taker")]
    assert s.statuses(1) == [("accepted", None), ("expired", "no_liquidity")]


def test_market_sell_walks_the_bids() -> None:
    s = Scripted({10: lambda ctx: ctx.sell("binance", "BTCUSDT", "2")})
    run(book(), s)
    assert s.fills_of(1) == [("42000", "1.5", "taker"), ("41999.5", "0.5", "taker")]


# --------------------------------------------------------------------------- gaps


def test_an_order_before_the_first_snapshot_is_rejected_book_unsynced() -> None:
    frames = Frames().depth(5, 99, 100, bids=[("42000", "1")])
    book(frames, ms=50)
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1")})
    run(frames, s)
    assert s.statuses(1) == [("rejected", "book_unsynced")]
    assert s.fills == []


def test_an_order_after_a_gap_is_rejected_book_unsynced() -> None:
    frames = book().depth(5, 105, 106, bids=[("42000", "1")])  # expected U=101
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1")})
    run(frames, s)
    assert s.statuses(1) == [("rejected", "book_unsynced")]


def test_a_resting_order_does_not_fill_while_its_book_is_unsynced() -> None:
    frames = book().depth(20, 105, 106)  # gap: unsynced from 20 ms
    frames.trade(30, "42000.00", "50", "sell")
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="42000", tif="GTC")})
    run(frames, s)
    assert s.fills == []


# --------------------------------------------------------------------------- makers


def test_post_only_that_would_take_is_rejected() -> None:
    s = Scripted(
        {10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="42001", tif="POST_ONLY")}
    )
    run(book(), s)
    assert s.statuses(1) == [("rejected", "post_only_would_take")]


def test_a_maker_waits_for_the_displayed_queue_ahead_to_trade() -> None:
    frames = book()  # 1.5 displayed at 42000 when the order arrives
    frames.trade(20, "42000.00", "1.0", "sell")  # queue ahead 1.5 -> 0.5
    frames.trade(30, "42000.00", "0.8", "sell")  # 0.5 used, 0.3 fills us
    frames.trade(40, "42000.00", "2", "sell")  # the remaining 0.7
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="42000", tif="GTC")})
    run(frames, s)
    assert s.fills_of(1) == [("42000", "0.3", "maker"), ("42000", "0.7", "maker")]
    assert s.statuses(1) == [("accepted", None), ("filled", None)]


def test_trades_on_the_other_side_or_at_other_prices_do_not_move_the_queue() -> None:
    frames = book()
    frames.trade(20, "42000.00", "5", "buy")  # a buyer lifting: not our side
    frames.trade(30, "42000.50", "5", "sell")  # above our bid: not at our price
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="42000", tif="GTC")})
    run(frames, s)
    assert s.fills == []


def test_a_trade_through_the_price_consumes_the_whole_queue() -> None:
    frames = book().trade(20, "41999.50", "0.4", "sell")
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="42000", tif="GTC")})
    run(frames, s)
    assert s.fills_of(1) == [("42000", "0.4", "maker")]


def test_an_opposite_best_crossing_the_price_fills_at_the_orders_price() -> None:
    # The bids at and near 42000 leave and an ask at 41995 arrives: the book is not
    # crossed, but the best ask is now through the resting bid's price.
    frames = book().depth(
        20, 101, 101, bids=[("42000", "0"), ("41999.5", "0")], asks=[("41995", "3")]
    )
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="42000", tif="GTC")})
    run(frames, s)
    assert s.fills_of(1) == [("42000", "1", "maker")]


def test_gtc_takes_what_crosses_and_rests_the_rest() -> None:
    frames = book().trade(30, "42001.50", "5", "buy")
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "2", limit="42001.50", tif="GTC")})
    run(frames, s)
    assert s.fills_of(1) == [("42001", "1.2", "taker")]
    # 42001.50 has nothing displayed: no queue ahead, the next buyer there... is a taker on
    # the ask side, which never fills a resting bid; the order stays open.
    assert s.statuses(1) == [("accepted", None)]


def test_cancel_removes_a_resting_order_and_a_late_cancel_is_rejected() -> None:
    frames = book().trade(40, "41999.00", "5", "sell")
    s = Scripted(
        {
            10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="42000", tif="GTC"),
            11: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="41999.50", tif="GTC"),
            20: lambda ctx: ctx.cancel(1),
            50: lambda ctx: ctx.cancel(2),
        }
    )
    run(frames, s)
    assert s.statuses(1) == [("accepted", None), ("cancelled", None)]
    assert s.statuses(2) == [
        ("accepted", None),
        ("filled", None),
        ("cancel_rejected", "unknown_order"),
    ]


# --------------------------------------------------------------------------- latency


def test_a_book_change_between_send_and_arrival_changes_the_fill() -> None:
    frames = book().depth(15, 101, 101, asks=[("42001", "0")])  # 42001 gone at 15 ms
    actions = {10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1")}
    fast, slow = Scripted(actions), Scripted(actions)
    run(frames, fast, latency={"binance": Latency(entry_ns=1_000_000)})
    run(frames, slow, latency={"binance": Latency(entry_ns=10_000_000)})
    assert fast.fills_of(1) == [("42001", "1", "taker")]
    assert slow.fills_of(1) == [("42002", "1", "taker")]


def test_feed_latency_meets_the_book_the_recorder_saw_later() -> None:
    frames = book().depth(15, 101, 101, asks=[("42001", "0")])
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1")})
    run(frames, s, latency={"binance": Latency(entry_ns=1_000_000, feed_ns=5_000_000)})
    assert s.fills_of(1) == [("42002", "1", "taker")]


def test_the_fill_reaches_the_strategy_after_the_response_latency() -> None:
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1")})
    latency = Latency(entry_ns=2_000_000, response_ns=3_000_000)
    run(book(), s, latency={"binance": latency})
    assert s.fills[0].venue_ns == at(12)
    assert s.fills[0].t_ns == at(15)


# --------------------------------------------------------------------------- money


def test_taker_and_maker_fees_follow_the_config(config) -> None:
    frames = book().trade(20, "41999.00", "5", "sell")
    s = Scripted(
        {
            10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1"),
            11: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="42000", tif="GTC"),
        }
    )
    run(frames, s, fees={"binance": (0.0002, 0.0007)})
    taker, maker = s.fills
    assert taker.fee == D("42001.00") * D("0.0007")
    assert maker.fee == D("42000") * D("0.0002")
    assert (taker.liquidity, maker.liquidity) == ("taker", "maker")


def test_balances_move_by_notional_and_fee_per_venue() -> None:
    seen = {}

    def check(ctx) -> None:
        seen["usdt"] = ctx.balance("binance", "USDT")
        seen["btc"] = ctx.balance("binance", "BTC")
        seen["pos"] = ctx.position("binance", "BTCUSDT")

    s = Scripted(
        {10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1"), 20: check},
        balances={"binance": {"USDT": "50000"}},
    )
    run(book(), s, fees={"binance": (0.001, 0.001)})
    assert seen == {"usdt": D("50000") - D("42001") * D("1.001"), "btc": D(1), "pos": D(1)}


def test_a_buy_beyond_the_quote_balance_fills_what_it_pays_for_then_expires() -> None:
    s = Scripted(
        {10: lambda ctx: ctx.buy("binance", "BTCUSDT", "2")},
        balances={"binance": {"USDT": "42001"}},
    )
    run(book(), s, fees={"binance": (0.0, 0.0)})
    assert s.fills_of(1) == [("42001", "1.0", "taker")]
    assert s.statuses(1)[-1] == ("expired", "insufficient_balance")


def test_an_order_with_nothing_to_spend_is_rejected() -> None:
    s = Scripted(
        {10: lambda ctx: ctx.sell("binance", "BTCUSDT", "1")},
        balances={"binance": {"USDT": "100000"}},
    )
    run(book(), s)
    assert s.statuses(1) == [("rejected", "insufficient_balance")]


def test_shorting_allowed_sells_without_base() -> None:
    s = Scripted(
        {10: lambda ctx: ctx.sell("binance", "BTCUSDT", "1")},
        balances={"binance": {"USDT": "100000"}},
    )
    run(book(), s, allow_short=True)
    assert s.fills_of(1) == [("42000", "1", "taker")]


def test_a_resting_buy_locks_its_quote_so_a_second_cannot_spend_it() -> None:
    s = Scripted(
        {
            10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="41000", tif="GTC"),
            11: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="41000", tif="GTC"),
        },
        balances={"binance": {"USDT": "50000"}},
    )
    run(book(), s, fees={"binance": (0.0, 0.0)})
    assert s.statuses(2) == [("accepted", None), ("expired", "insufficient_balance")]


def test_a_resting_order_far_from_the_touch_queues_behind_the_size_at_its_price() -> None:
    """The queue ahead is read at the order's own price, however deep (the compiled and
    the pure-Python book both answer ``size_at``)."""
    frames = book()
    deep = [(f"{41000 - i}.00", "0.5") for i in range(1500)]
    frames.depth(5, 101, 101, bids=deep)
    frames.trade(20, "40000.00", "0.3", "sell")  # at the order's price: eats the queue
    frames.trade(30, "40000.00", "0.4", "sell")  # 0.2 of it reaches the order
    s = Scripted({10: lambda ctx: ctx.buy("binance", "BTCUSDT", "1", limit="40000", tif="GTC")})
    run(frames, s)
    assert s.fills_of(1) == [("40000", "0.2", "maker")]


def test_size_at_reads_one_level_of_either_book_implementation() -> None:
    from xle._native.book import Book, PyBook

    for cls in {Book, PyBook}:
        b = cls()
        b.load([(100.0, 1.5), (99.0, 2.0)], [(101.0, 3.0)])
        assert (b.size_at(99.0, True), b.size_at(101.0, False)) == (2.0, 3.0)
        assert (b.size_at(99.5, True), b.size_at(100.0, False), b.size_at(101.0, True)) == (
            0.0, 0.0, 0.0,
        )  # fmt: skip
