"""Binance diff-depth sync rule, one behaviour per test, hand-written message sequences."""

from __future__ import annotations

from tests.engine.wire import control, depth, raw_frame, snapshot

BIDS = [(100.0, 1.0), (99.0, 2.0)]
ASKS = [(101.0, 1.0), (102.0, 3.0)]


def test_events_before_the_snapshot_are_buffered_then_applied(harness):
    harness.feed(depth(11, 12, bids=[(100.0, 5.0)]), snapshot(10, BIDS, ASKS))
    view = harness.book()
    assert view.status == "synced"
    assert view.bids[0] == (100.0, 5.0)


def test_buffered_events_not_newer_than_the_snapshot_are_dropped(harness):
    harness.feed(
        depth(5, 8, bids=[(100.0, 9.0)]),  # u <= lastUpdateId: already in the snapshot
        depth(9, 12, asks=[(101.0, 4.0)]),  # straddles it: applied
        snapshot(10, BIDS, ASKS),
    )
    view = harness.book()
    assert view.bids[0] == (100.0, 1.0)
    assert view.asks[0] == (101.0, 4.0)
    assert harness.integrity() == []


def test_event_older_than_the_snapshot_arriving_after_it_is_ignored(harness):
    harness.feed(snapshot(20, BIDS, ASKS), depth(17, 20, bids=[(100.0, 7.0)]))
    assert harness.book().bids[0] == (100.0, 1.0)
    assert harness.status() == "synced"
    assert harness.integrity() == []


def test_first_event_straddling_the_snapshot_id_is_applied(harness):
    harness.feed(snapshot(20, BIDS, ASKS), depth(18, 23, bids=[(100.5, 1.0)]))
    assert harness.book().bids[0] == (100.5, 1.0)


def test_first_event_after_a_hole_is_a_gap(harness):
    harness.feed(snapshot(20, BIDS, ASKS), depth(22, 23, bids=[(100.5, 1.0)]))
    gaps = harness.integrity("gap")
    assert len(gaps) == 1
    assert "expected 21, got 22" in gaps[0].detail
    assert harness.status() == "unsynced"


def test_snapshot_older_than_the_first_buffered_event_asks_for_another(harness):
    harness.feed(depth(15, 16, bids=[(100.0, 5.0)]), snapshot(10, BIDS, ASKS))
    assert [e.kind for e in harness.integrity()] == ["stale_snapshot"]
    assert [r.reason for r in harness.resyncs()] == ["stale_snapshot"]
    assert harness.status() is None  # no book was ever loaded

    harness.feed(snapshot(15, BIDS, ASKS))
    assert harness.status() == "synced"
    assert harness.book().bids[0] == (100.0, 5.0)


def test_snapshot_just_before_the_first_buffered_event_is_contiguous(harness):
    harness.feed(depth(11, 12, bids=[(100.0, 5.0)]), snapshot(10, BIDS, ASKS))
    assert harness.integrity() == []
    assert harness.status() == "synced"


def test_gap_resets_that_book_only_and_requests_a_resync(harness):
    harness.feed(
        snapshot(10, BIDS, ASKS),
        snapshot(50, BIDS, ASKS, symbol="ETHUSDT"),
        depth(11, 11, bids=[(100.0, 2.0)]),
        depth(13, 14, bids=[(100.0, 3.0)]),  # 12 is missing
    )
    assert harness.status() == "unsynced"
    assert harness.book().bids == []
    assert harness.status(symbol="ETHUSDT") == "synced"
    [request] = harness.resyncs()
    assert (request.exchange, request.symbol, request.reason) == ("binance", "BTCUSDT", "gap")


def test_recording_goes_on_during_a_resync_and_the_new_snapshot_resyncs(harness):
    harness.feed(
        snapshot(10, BIDS, ASKS),
        depth(13, 14, bids=[(100.0, 3.0)]),  # gap: buffered for the next snapshot
        depth(15, 15, asks=[(101.0, 6.0)]),
        snapshot(14, BIDS, ASKS),
    )
    assert harness.status() == "synced"
    assert harness.book().asks[0] == (101.0, 6.0)
    assert [e.kind for e in harness.integrity()] == ["gap", "resync"]


def test_malformed_json_is_reported_and_changes_nothing(harness):
    harness.feed(snapshot(10, BIDS, ASKS))
    before = harness.book()
    harness.feed(
        raw_frame(b'{"stream":"btcusdt@depth@100ms","data":{"e":', stream="btcusdt@depth@100ms")
    )
    [event] = harness.integrity("malformed")
    assert event.stream == "btcusdt@depth@100ms"
    assert harness.book() == before


def test_non_numeric_price_rejects_the_whole_message(harness):
    harness.feed(snapshot(10, BIDS, ASKS))
    bad = (
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT",'
        b'"U":11,"u":11,"b":[["100.00","7.0"],["abc","1.0"]],"a":[]}}'
    )
    harness.feed(raw_frame(bad, stream="btcusdt@depth@100ms"))
    assert len(harness.integrity("malformed")) == 1
    assert harness.book().bids[0] == (100.0, 1.0)  # the good level was not applied either


def test_missing_field_is_malformed(harness):
    frame = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT","U":1}}'
    harness.feed(raw_frame(frame, stream="btcusdt@depth@100ms"))
    assert len(harness.integrity("malformed")) == 1


def test_malformed_update_is_followed_by_a_gap_not_a_silent_wrong_book(harness):
    harness.feed(
        snapshot(10, BIDS, ASKS),
        raw_frame(b"not json", stream="btcusdt@depth@100ms"),  # was U=11..11
        depth(12, 12, bids=[(100.0, 3.0)]),
    )
    assert [e.kind for e in harness.integrity()] == ["malformed", "gap"]
    assert harness.status() == "unsynced"


def test_crossed_book_is_reported_reset_and_resynced(harness):
    harness.feed(snapshot(10, BIDS, ASKS), depth(11, 11, bids=[(101.5, 1.0)]))
    [crossed] = harness.integrity("crossed")
    assert "101.5" in crossed.detail
    assert harness.status() == "unsynced"
    assert [r.reason for r in harness.resyncs()] == ["crossed"]


def test_disconnect_unsyncs_the_books_of_that_connection_only(harness):
    harness.feed(
        depth(11, 11, conn=0),
        snapshot(10, BIDS, ASKS, conn=5),  # REST responses carry their own conn number
        depth(51, 51, symbol="ETHUSDT", conn=1),
        snapshot(50, BIDS, ASKS, symbol="ETHUSDT", conn=5),
        control("disconnected", conn=0),
    )
    assert harness.status() == "unsynced"
    assert harness.status(symbol="ETHUSDT") == "synced"
    kinds = {(e.symbol, e.kind) for e in harness.integrity()}
    assert kinds == {(None, "disconnect"), ("BTCUSDT", "disconnect")}


def test_reconnect_then_snapshot_syncs_again(harness):
    harness.feed(
        snapshot(10, BIDS, ASKS),
        depth(11, 11, conn=0),
        control("disconnected", conn=0),
        depth(15, 16, bids=[(100.0, 4.0)], conn=1),
        snapshot(15, BIDS, ASKS),
    )
    assert harness.status() == "synced"
    assert harness.book().bids[0] == (100.0, 4.0)


def test_frames_of_a_new_connection_start_the_sync_afresh(harness):
    harness.feed(snapshot(10, BIDS, ASKS), depth(11, 11, conn=0), depth(12, 12, conn=1))
    assert [e.kind for e in harness.integrity()] == ["new_connection"]
    assert harness.status() == "unsynced"
    assert harness.resyncs() == []  # the recorder fetches a snapshot per new connection

    harness.feed(snapshot(12, BIDS, ASKS, conn=1), depth(13, 13, bids=[(100.0, 6.0)], conn=1))
    assert harness.status() == "synced"
    assert harness.book().bids[0] == (100.0, 6.0)


def test_bare_and_combined_payloads_build_the_same_book(make_harness):
    wrapped = make_harness().feed(snapshot(10, BIDS, ASKS), depth(11, 11, bids=[(99.5, 1.0)]))
    bare = make_harness().feed(
        snapshot(10, BIDS, ASKS), depth(11, 11, bids=[(99.5, 1.0)], wrap=False)
    )
    assert (wrapped.book().bids, wrapped.book().asks) == (bare.book().bids, bare.book().asks)


def test_unlabelled_frame_is_routed_by_its_event_type(harness):
    frame = depth(11, 11, bids=[(99.5, 1.0)], wrap=False)
    harness.feed(snapshot(10, BIDS, ASKS), raw_frame(frame.payload, stream=""))
    assert (99.5, 1.0) in harness.book().bids


def test_streams_the_engine_does_not_use_are_counted(harness):
    agg = b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTCUSDT"}}'
    harness.feed(raw_frame(agg, stream="btcusdt@aggTrade"))
    harness.feed(raw_frame(b'{"stream":"btcusdt@kline_1m","data":{}}', stream="btcusdt@kline_1m"))
    assert harness.engine.ignored_streams() == {"binance:aggTrade": 1, "binance:kline": 1}
    assert harness.integrity() == []


def test_newer_snapshot_while_live_rebases_the_book(harness):
    harness.feed(snapshot(10, BIDS, ASKS), snapshot(30, [(90.0, 1.0)], [(91.0, 1.0)]))
    assert harness.book().bids == [(90.0, 1.0)]
    harness.feed(depth(25, 30, bids=[(89.0, 1.0)]))  # older than the new base: ignored
    assert harness.book().bids == [(90.0, 1.0)]


def test_older_snapshot_while_live_is_ignored(harness):
    harness.feed(snapshot(10, BIDS, ASKS), depth(11, 20, bids=[(100.0, 8.0)]), snapshot(15, [], []))
    assert harness.book().bids[0] == (100.0, 8.0)


def test_zero_quantity_removes_a_level_and_unknown_removals_are_fine(harness):
    harness.feed(snapshot(10, BIDS, ASKS), depth(11, 11, bids=[(100.0, 0.0), (42.0, 0.0)]))
    assert harness.book().bids == [(99.0, 2.0)]
    assert harness.integrity() == []


def test_trades_are_decoded_with_the_taker_side(harness):
    frame = (
        b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,'
        b'"p":"100.5","q":"0.25","T":1,"m":true}}'
    )
    harness.feed(raw_frame(frame, stream="btcusdt@trade"))
    trade = harness.engine.last_trade("binance", "BTCUSDT")
    assert (trade.price, trade.qty, trade.side, trade.trade_id) == (100.5, 0.25, "sell", "7")


def test_binance_us_books_are_kept_apart_from_binance(harness):
    harness.feed(
        snapshot(10, BIDS, ASKS), snapshot(10, [(5.0, 1.0)], [(6.0, 1.0)], exchange="binanceus")
    )
    assert harness.book("binanceus").bids == [(5.0, 1.0)]
    assert harness.book("binance").bids[0] == (100.0, 1.0)
