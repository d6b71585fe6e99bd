"""The venue's own time on book events, trades and quotes; the venue's top of book checked
against the rebuilt book; open arbitrage episodes re-priced on every update."""

from __future__ import annotations

import json

import pytest

from tests.engine.wire import cb_frame, depth, l2, raw_frame, snapshot
from xle.analytics.crosscheck import TOLERANCE
from xle.exchanges import make_decoder
from xle.records import ArbitrageEpisode, BookUpdate, Quote, TopOfBook, Trade

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND
E_MS = 1_700_000_000_250  # a Binance event time, ms


def _book_ticker(u, bid, bid_size, ask, ask_size, *, symbol="BTCUSDT", **kw):
    data = {"u": u, "s": symbol, "b": bid, "B": bid_size, "a": ask, "A": ask_size}
    stream = f"{symbol.lower()}@bookTicker"
    body = json.dumps({"stream": stream, "data": data}).encode()
    return raw_frame(body, stream=stream, symbol=symbol, **kw)


def _cb_ticker(seq, bid, bid_size, ask, ask_size, *, product="BTC-USD", **kw):
    body = {
        "channel": "ticker",
        "timestamp": "2023-11-14T22:13:20.5Z",
        "sequence_num": seq,
        "events": [
            {
                "type": "update",
                "tickers": [
                    {
                        "type": "ticker",
                        "product_id": product,
                        "price": bid,
                        "best_bid": bid,
                        "best_bid_quantity": bid_size,
                        "best_ask": ask,
                        "best_ask_quantity": ask_size,
                    }
                ],
            }
        ],
    }
    return cb_frame(body, stream="ticker", product=product, **kw)


def _depth_at(U, u, e_ms, **kw):
    rec = depth(U, u, **kw)
    body = json.loads(rec.payload)
    body["data"]["E"] = e_ms
    return raw_frame(json.dumps(body).encode(), stream=rec.stream, t=rec.recv_ns)


# ----------------------------------------------------------------------------- exchange time


def test_binance_depth_update_carries_its_event_time_in_ns():
    decoder = make_decoder("binance")
    decoder.feed(snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]))
    [update] = decoder.feed(_depth_at(11, 11, E_MS, bids=[(100.0, 2.0)]))
    assert type(update) is BookUpdate
    assert update.exch_ns == E_MS * 1_000_000


def test_binance_snapshot_has_no_exchange_time():
    decoder = make_decoder("binance")
    [update] = decoder.feed(snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]))
    assert update.exch_ns is None


def test_binance_trade_carries_its_trade_time():
    data = {"e": "trade", "E": E_MS + 1, "s": "BTCUSDT", "t": 7, "p": "100.5", "q": "2"}
    data |= {"T": E_MS, "m": True, "M": True}
    body = json.dumps({"stream": "btcusdt@trade", "data": data}).encode()
    [trade] = make_decoder("binance").feed(raw_frame(body, stream="btcusdt@trade"))
    assert type(trade) is Trade
    assert (trade.exch_ns, trade.side) == (E_MS * 1_000_000, "sell")


def test_coinbase_update_carries_the_frame_timestamp_in_ns():
    decoder = make_decoder("coinbase")
    [snap] = decoder.feed(l2(0, "snapshot", [("100", "1")], [("101", "1")]))
    [update] = decoder.feed(l2(1, bids=[("100", "2")]))
    # 2023-02-09T20:32:50.714964855Z
    assert snap.exch_ns == update.exch_ns == 1_675_974_770_714_964_855


def test_coinbase_trade_carries_its_time():
    body = {
        "channel": "market_trades",
        "timestamp": "2023-02-09T20:32:51Z",
        "sequence_num": 0,
        "events": [
            {
                "type": "update",
                "trades": [
                    {
                        "trade_id": "1",
                        "product_id": "BTC-USD",
                        "price": "100.5",
                        "size": "0.1",
                        "side": "BUY",
                        "time": "2023-02-09T20:32:50.123456Z",
                    }
                ],
            }
        ],
    }
    [trade] = make_decoder("coinbase").feed(cb_frame(body, stream="market_trades"))
    assert trade.exch_ns == 1_675_974_770_123_456_000


def test_quote_carries_exchange_time_and_feed_latency(harness):
    recv = E_MS * 1_000_000 + 35_000_000  # received 35 ms after the venue's event time
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)], t=recv - SECOND),
        _depth_at(11, 11, E_MS, bids=[(100.0, 2.0)], t=recv),
    )
    [quote] = [o for o in harness.engine.finish() if isinstance(o, Quote)]
    assert quote.exch_ns == E_MS * 1_000_000
    assert quote.feed_latency_ns == 35_000_000


def test_quote_after_a_snapshot_alone_has_no_exchange_time(harness):
    harness.feed(snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]))
    [quote] = harness.engine.finish()
    assert (quote.exch_ns, quote.feed_latency_ns) == (None, None)


# ----------------------------------------------------------------------------- top of book


def test_book_ticker_becomes_a_top_of_book_event():
    [top] = make_decoder("binance").feed(_book_ticker(12, "100.5", "2", "101", "3"))
    assert top == TopOfBook("binance", "BTCUSDT", 100.5, 2.0, 101.0, 3.0, 12)


def test_coinbase_ticker_becomes_a_top_of_book_event():
    events = make_decoder("coinbase").feed(_cb_ticker(0, "100.5", "2", "101", "3"))
    assert [(e.bid, e.bid_size, e.ask, e.ask_size, e.update_id) for e in events] == [
        (100.5, 2.0, 101.0, 3.0, None)
    ]
    assert events[0].exch_ns == 1_700_000_000_500_000_000


def test_book_ticker_matching_the_book_id_agrees(harness):
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]),
        _book_ticker(12, "100", "2", "101", "1"),  # arrives before the depth that reaches it
        depth(11, 12, bids=[(100.0, 2.0)]),
    )
    check = harness.engine.cross_checks()[("binance", "BTCUSDT")]
    assert (check.agreed, check.disagreed, check.unmatched) == (1, 0, 0)
    assert harness.integrity("top_of_book_mismatch") == []


def test_book_ticker_the_book_jumps_past_is_unmatched(harness):
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]),
        _book_ticker(11, "99", "9", "105", "9"),  # u=11 lies inside the next event's 11..13
        depth(11, 13, bids=[(100.0, 2.0)]),
    )
    check = harness.engine.cross_checks()[("binance", "BTCUSDT")]
    assert (check.compared, check.unmatched) == (0, 1)
    assert harness.integrity("top_of_book_mismatch") == []


def test_book_ticker_contradicting_the_book_raises_an_integrity_event(harness):
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]),
        depth(11, 11, bids=[(100.0, 2.0)]),
        _book_ticker(11, "100", "5", "101", "1"),  # the venue says 5 at 100; the book has 2
        *[depth(12 + i, 12 + i, asks=[(102.0 + i, 1.0)]) for i in range(TOLERANCE)],
    )
    [event] = harness.integrity("top_of_book_mismatch")
    assert (event.exchange, event.symbol) == ("binance", "BTCUSDT")
    assert "5 @ 100 / 1 @ 101 (u=11)" in event.detail
    assert "2 @ 100 / 1 @ 101" in event.detail
    check = harness.engine.cross_checks()[("binance", "BTCUSDT")]
    assert (check.agreed, check.disagreed) == (0, 1)


def test_a_disagreement_the_book_resolves_within_the_tolerance_raises_nothing(harness):
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]),
        depth(11, 11, bids=[(100.0, 2.0)]),
        _book_ticker(11, "100", "5", "101", "1"),
        depth(12, 12, bids=[(100.0, 5.0)]),  # one message later the book shows it
    )
    check = harness.engine.cross_checks()[("binance", "BTCUSDT")]
    assert (check.agreed, check.nearby, check.disagreed) == (1, 1, 0)
    assert harness.integrity("top_of_book_mismatch") == []


def test_a_pending_disagreement_is_dropped_when_the_book_resets(harness):
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]),
        depth(11, 11, bids=[(100.0, 2.0)]),
        _book_ticker(11, "100", "5", "101", "1"),
        depth(20, 21, bids=[(100.0, 3.0)]),  # a gap: the book resets
    )
    check = harness.engine.cross_checks()[("binance", "BTCUSDT")]
    assert (check.disagreed, check.unmatched) == (0, 1)
    assert harness.integrity("top_of_book_mismatch") == []


def test_coinbase_ticker_agreeing_with_the_book_is_counted(harness):
    harness.feed(
        l2(0, "snapshot", [("100", "1")], [("101", "1")]),
        _cb_ticker(1, "100", "1", "101", "1"),
    )
    check = harness.engine.cross_checks()[("coinbase", "BTC-USD")]
    assert (check.agreed, check.disagreed) == (1, 0)


def test_coinbase_ticker_contradicting_the_book_raises_an_integrity_event(harness):
    harness.feed(
        l2(0, "snapshot", [("100", "1")], [("101", "1")]),
        _cb_ticker(1, "99", "1", "101", "1"),
        *[l2(2 + i, asks=[(f"{102 + i}", "1")]) for i in range(TOLERANCE)],
    )
    [event] = harness.integrity("top_of_book_mismatch")
    assert event.symbol == "BTC-USD"
    check = harness.engine.cross_checks()[("coinbase", "BTC-USD")]
    assert check.disagreed == 1


def test_coinbase_ticker_matching_a_recent_book_state_agrees(harness):
    harness.feed(
        l2(0, "snapshot", [("100", "1")], [("101", "1")]),
        _cb_ticker(1, "100", "1", "101", "1"),  # starts the book's history
        l2(2, bids=[("100.5", "1")]),
        _cb_ticker(3, "100.5", "1", "101", "1"),
        l2(4, bids=[("100.7", "1")]),
        _cb_ticker(5, "100.5", "1", "101", "1"),  # the state one update ago
    )
    check = harness.engine.cross_checks()[("coinbase", "BTC-USD")]
    assert (check.agreed, check.nearby, check.disagreed) == (3, 1, 0)


# ----------------------------------------------------------------------------- re-pricing

FEES = {"binance": 0.001, "coinbase": 0.002}


def test_touch_size_change_raises_an_open_episodes_executable_size(make_harness):
    harness = make_harness(fees=FEES)
    harness.feed(
        snapshot(10, [(99.0, 1.0)], [(100.0, 1.0)], t=T0),
        l2(0, "snapshot", [("102.0", "1")], [("103.0", "1")], t=T0 + SECOND),
        # Only the size at the best ask grows: no best price moves.
        depth(11, 11, asks=[(100.0, 3.0)], t=T0 + 2 * SECOND),
        l2(1, bids=[("102.0", "2.5")], t=T0 + 3 * SECOND),
    )
    closing = [o for o in harness.engine.finish() if isinstance(o, ArbitrageEpisode)]
    [opened] = [o for o in harness.outputs if isinstance(o, ArbitrageEpisode)]
    assert opened.executable_size == pytest.approx(1.0)
    [closed] = closing
    assert closed.executable_size == pytest.approx(2.5)
    assert closed.profit == pytest.approx(2.5 * (102.0 * 0.998 - 100.0 * 1.001))


def test_unlabelled_bare_book_ticker_is_recognised_by_its_keys():
    payload = b'{"u":12,"s":"BTCUSDT","b":"100.5","B":"2","a":"101","A":"3"}'
    [top] = make_decoder("binance").feed(raw_frame(payload, stream=""))
    assert top == TopOfBook("binance", "BTCUSDT", 100.5, 2.0, 101.0, 3.0, 12)


def test_malformed_book_ticker_is_reported_and_not_compared(harness):
    bad = b'{"stream":"btcusdt@bookTicker","data":{"u":12,"s":"BTCUSDT","b":"x"}}'
    harness.feed(raw_frame(bad, stream="btcusdt@bookTicker"))
    [event] = harness.integrity("malformed")
    assert event.stream == "btcusdt@bookTicker"
    assert harness.engine.cross_checks() == {}
