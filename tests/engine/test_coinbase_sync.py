"""Coinbase Advanced Trade sequence rule, one behaviour per test, hand-written frames."""

from __future__ import annotations

from tests.engine.wire import cb_frame, control, heartbeat, l2

BIDS = [("100.00", "1.5"), ("99.50", "2")]
ASKS = [("100.50", "1"), ("101.00", "3")]


def _book(harness, product="BTC-USD"):
    return harness.book("coinbase", product)


def _status(harness, product="BTC-USD"):
    return harness.status("coinbase", product)


def test_snapshot_then_updates_build_the_book(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS), l2(1, bids=[("100.25", "0.5")]))
    view = _book(harness)
    assert view.status == "synced"
    assert view.bids[:2] == [(100.25, 0.5), (100.0, 1.5)]
    assert view.asks == [(100.5, 1.0), (101.0, 3.0)]


def test_offer_side_is_the_ask_side_and_zero_removes(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS), l2(1, asks=[("100.50", "0")]))
    assert _book(harness).asks == [(101.0, 3.0)]


def test_update_before_any_snapshot_is_ignored(harness):
    harness.feed(l2(0, bids=[("100.00", "9")]))
    assert _status(harness) is None
    assert harness.integrity() == []


def test_heartbeats_and_other_channels_advance_the_sequence(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS), heartbeat(1), l2(2, bids=[("99.00", "1")]))
    assert harness.integrity() == []
    assert (99.0, 1.0) in _book(harness).bids


def test_sequence_jump_resets_the_books_of_that_connection_and_resubscribes(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS), l2(1), l2(3, bids=[("99.00", "1")]))
    [gap] = harness.integrity("gap")
    assert "expected 2, got 3" in gap.detail
    assert _status(harness) == "unsynced"
    [request] = harness.resyncs()
    assert (request.exchange, request.symbol, request.reason) == ("coinbase", "BTC-USD", "gap")


def test_sequence_going_backwards_is_a_gap(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS), l2(1), l2(1))
    assert len(harness.integrity("gap")) == 1


def test_gap_on_one_connection_leaves_books_on_another_synced(harness):
    harness.feed(
        l2(0, "snapshot", BIDS, ASKS, conn=0),
        l2(0, "snapshot", BIDS, ASKS, product="ETH-USD", conn=1),
        l2(5, conn=0),
        l2(1, product="ETH-USD", conn=1),
    )
    assert _status(harness) == "unsynced"
    assert _status(harness, "ETH-USD") == "synced"


def test_a_new_connection_starts_its_own_sequence(harness):
    harness.feed(
        l2(0, "snapshot", BIDS, ASKS, conn=0),
        l2(1, conn=0),
        control("disconnected", exchange="coinbase", conn=0),
        l2(0, "snapshot", BIDS, ASKS, conn=1),
        l2(1, bids=[("98.00", "1")], conn=1),
    )
    assert harness.integrity("gap") == []
    assert _status(harness) == "synced"
    assert (98.0, 1.0) in _book(harness).bids


def test_disconnect_unsyncs_the_books_of_that_connection(harness):
    harness.feed(
        l2(0, "snapshot", BIDS, ASKS, conn=0), control("disconnected", exchange="coinbase", conn=0)
    )
    assert _status(harness) == "unsynced"


def test_fresh_snapshot_after_a_gap_resyncs(harness):
    harness.feed(
        l2(0, "snapshot", BIDS, ASKS),
        l2(4),
        l2(5, "snapshot", [("90.00", "1")], [("91.00", "1")]),
    )
    assert _status(harness) == "synced"
    assert _book(harness).bids == [(90.0, 1.0)]
    assert [e.kind for e in harness.integrity()] == ["gap", "resync"]


def test_updates_from_another_connection_do_not_touch_the_book(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS, conn=0), l2(0, bids=[("42.00", "1")], conn=1))
    assert (42.0, 1.0) not in _book(harness).bids


def test_undecodable_frame_is_reported_and_the_next_number_reveals_the_gap(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS), cb_frame(b'{"channel":"l2_data",'), l2(2))
    assert [e.kind for e in harness.integrity()] == ["malformed", "gap"]
    assert _status(harness) == "unsynced"


def test_bad_price_with_a_readable_sequence_resets_the_connection_books(harness):
    bad = {
        "channel": "l2_data",
        "sequence_num": 1,
        "events": [
            {
                "type": "update",
                "product_id": "BTC-USD",
                "updates": [{"side": "bid", "price_level": "abc", "new_quantity": "1"}],
            }
        ],
    }
    harness.feed(l2(0, "snapshot", BIDS, ASKS), cb_frame(bad))
    assert [e.kind for e in harness.integrity()] == ["malformed", "malformed"]
    assert _status(harness) == "unsynced"
    assert _book(harness).bids == []


def test_unknown_side_is_malformed(harness):
    bad = {
        "channel": "l2_data",
        "sequence_num": 1,
        "events": [
            {
                "type": "update",
                "product_id": "BTC-USD",
                "updates": [{"side": "middle", "price_level": "1", "new_quantity": "1"}],
            }
        ],
    }
    harness.feed(l2(0, "snapshot", BIDS, ASKS), cb_frame(bad))
    assert "unknown side" in harness.integrity("malformed")[0].detail
    assert _status(harness) == "unsynced"


def test_crossed_book_is_reported_and_resubscribed(harness):
    harness.feed(l2(0, "snapshot", BIDS, ASKS), l2(1, bids=[("100.75", "1")]))
    assert len(harness.integrity("crossed")) == 1
    assert [r.reason for r in harness.resyncs()] == ["crossed"]
    assert _status(harness) == "unsynced"


def test_exchange_error_message_is_reported(harness):
    harness.feed(cb_frame({"type": "error", "message": "failure to subscribe"}, stream="error"))
    [event] = harness.integrity("exchange_error")
    assert "failure to subscribe" in event.detail


def test_market_trades_are_decoded(harness):
    body = {
        "channel": "market_trades",
        "client_id": "",
        "timestamp": "2023-02-09T20:19:35.39625135Z",
        "sequence_num": 0,
        "events": [
            {
                "type": "update",
                "trades": [
                    {
                        "trade_id": "000000000",
                        "product_id": "BTC-USD",
                        "price": "100.25",
                        "size": "0.3",
                        "side": "BUY",
                        "time": "2019-08-14T20:42:27.265Z",
                    }
                ],
            }
        ],
    }
    harness.feed(cb_frame(body, stream="market_trades"))
    trade = harness.engine.last_trade("coinbase", "BTC-USD")
    assert (trade.price, trade.qty, trade.side) == (100.25, 0.3, "buy")


def test_subscriptions_acknowledgement_is_counted_not_reported(harness):
    body = {
        "channel": "subscriptions",
        "client_id": "",
        "timestamp": "2023-02-09T20:32:50.714964855Z",
        "sequence_num": 0,
        "events": [{"subscriptions": {"level2": ["BTC-USD"]}}],
    }
    harness.feed(cb_frame(body, stream="subscriptions"))
    assert harness.integrity() == []
    assert harness.engine.ignored_streams() == {"coinbase:subscriptions": 1}
