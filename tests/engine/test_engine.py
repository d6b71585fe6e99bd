"""Engine behaviour: quotes in record time, staleness, arbitrage episodes, determinism."""

from __future__ import annotations

import gc

import msgspec
import pytest

from tests.engine.wire import depth, l2, snapshot
from xle.records import ArbitrageEpisode, Quote, RawRecord

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def _quotes(harness):
    return [o for o in harness.outputs if isinstance(o, Quote)]


def _episodes(harness):
    return [o for o in harness.outputs if isinstance(o, ArbitrageEpisode)]


def test_quotes_are_throttled_to_the_interval_in_record_time(harness):
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)], t=T0 + SECOND // 10),
        depth(11, 11, bids=[(100.0, 2.0)], t=T0 + SECOND // 2),
        depth(12, 12, bids=[(100.0, 3.0)], t=T0 + SECOND + SECOND // 5),
    )
    [first] = _quotes(harness)
    assert first.recv_ns == T0 + SECOND // 2  # the record that produced the quoted state
    assert first.bid_size == 2.0
    [last] = harness.engine.finish()
    assert last.bid_size == 3.0


def test_quote_carries_spread_imbalance_and_vwap(make_harness):
    harness = make_harness(vwap_sizes={"default": (2.0,), "BTC/USD": (2.0,)})
    harness.feed(snapshot(10, [(100.0, 1.0), (99.0, 3.0)], [(101.0, 1.0), (103.0, 1.0)]))
    [quote] = harness.engine.finish()
    assert (quote.bid, quote.ask, quote.mid, quote.spread) == (100.0, 101.0, 100.5, 1.0)
    assert quote.spread_bps == pytest.approx(1.0 / 100.5 * 1e4)
    assert quote.imbalance == pytest.approx((4.0 - 2.0) / 6.0)
    assert quote.ratio == pytest.approx(2.0)
    buy, sell = quote.vwap
    assert (buy.side, buy.price, buy.filled, buy.insufficient) == ("buy", 102.0, 2.0, False)
    assert (sell.side, sell.price) == ("sell", 99.5)
    assert quote.market == "BTC/USD"


def test_quotes_are_not_tracked_by_the_garbage_collector(harness):
    """Both the compiled and the Python quote: a replay makes 100,000 of them."""
    harness.feed(snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)]))
    [quote] = harness.engine.finish()
    assert not gc.is_tracked(quote)


def test_a_quiet_book_is_reported_stale_once(make_harness):
    harness = make_harness(stale_after_ns=5 * SECOND)
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)], t=T0),
        snapshot(50, [(10.0, 1.0)], [(11.0, 1.0)], symbol="ETHUSDT", t=T0 + 6 * SECOND),
        snapshot(51, [(10.0, 1.0)], [(11.0, 1.0)], symbol="ETHUSDT", t=T0 + 7 * SECOND),
    )
    stale = harness.integrity("stale")
    assert [(e.symbol, e.exchange) for e in stale] == [("BTCUSDT", "binance")]
    assert harness.status() == "synced"  # stale is a report, not a reset


FEES = {"binance": 0.001, "coinbase": 0.002}


def _arb_harness(make_harness):
    harness = make_harness(fees=FEES)
    harness.feed(
        snapshot(10, [(99.0, 1.0)], [(100.0, 1.0), (100.5, 2.0)], t=T0),
        l2(0, "snapshot", [("102.0", "1.5"), ("100.8", "5")], [("103.0", "1")], t=T0 + SECOND),
    )
    return harness


def test_arbitrage_episode_opens_with_executable_size_and_profit(make_harness):
    harness = _arb_harness(make_harness)
    [opened] = _episodes(harness)
    assert (opened.buy_venue, opened.sell_venue, opened.status) == (
        "binance:BTCUSDT",
        "coinbase:BTC-USD",
        "open",
    )
    # unit 1: 102*0.998 - 100*1.001 = 1.696 for 1.0; unit 2: 102*0.998 - 100.5*1.001
    # = 1.1955 for 0.5; then 100.8*0.998 = 100.5984 < 100.6005: stop.
    assert opened.executable_size == pytest.approx(1.5)
    assert opened.profit == pytest.approx(1.696 + 0.59775)
    assert opened.edge_bps == pytest.approx((101.796 - 100.1) / 100.1 * 1e4)
    assert opened.start_ns == T0 + SECOND


def test_arbitrage_episode_closes_when_the_edge_is_gone(make_harness):
    harness = _arb_harness(make_harness)
    harness.feed(
        l2(1, bids=[("102.0", "0")], t=T0 + 2 * SECOND),  # edge still ~5 bps: stays open
        l2(2, bids=[("100.8", "0"), ("99.0", "1")], t=T0 + 3 * SECOND),
    )
    opened, closed = _episodes(harness)
    assert closed.status == "closed"
    assert closed.close_reason == "edge"
    assert closed.duration_ns == 2 * SECOND
    assert closed.peak_edge_bps == pytest.approx(opened.edge_bps)
    assert closed.executable_size == pytest.approx(1.5)


def test_arbitrage_episode_closes_when_a_book_loses_sync(make_harness):
    harness = _arb_harness(make_harness)
    harness.feed(l2(7, t=T0 + 2 * SECOND))  # sequence gap on coinbase
    closed = _episodes(harness)[-1]
    assert (closed.status, closed.close_reason) == ("closed", "book_unsynced")


def test_open_episodes_are_closed_at_the_end_of_data(make_harness):
    harness = _arb_harness(make_harness)
    closing = [o for o in harness.engine.finish() if isinstance(o, ArbitrageEpisode)]
    assert [e.close_reason for e in closing] == ["end_of_data"]


def test_no_episode_when_fees_eat_the_edge(make_harness):
    harness = make_harness(fees={"binance": 0.001, "coinbase": 0.012})
    harness.feed(
        snapshot(10, [(99.0, 1.0)], [(100.0, 1.0)]),
        l2(0, "snapshot", [("100.9", "1")], [("103.0", "1")]),
    )
    assert _episodes(harness) == []


def test_unknown_exchange_is_reported_not_raised(harness):
    rec = RawRecord(T0, "kraken", "r", 0, 0, "ws", "x", None, b"{}")
    harness.feed(rec)
    assert "unknown exchange 'kraken'" in harness.integrity("malformed")[0].detail


def test_recorder_control_events_become_integrity_events(harness):
    from tests.engine.wire import control

    harness.feed(control("error", detail={"error": "HTTP 429"}))
    assert "429" in harness.integrity("recorder_error")[0].detail


def test_same_records_give_identical_outputs(real_records, make_harness):
    def run():
        harness = make_harness().feed(*real_records)
        outputs = harness.outputs + harness.engine.finish()
        return msgspec.json.encode(outputs)

    assert run() == run()


def test_demo_config_charges_a_high_volume_tier_over_the_defaults():
    from xle.config import demo_config_path, load_config

    demo = load_config(demo_config_path())
    assert demo.fees == {"binance": 0.0005, "binanceus": 0.0005, "coinbase": 0.0005}
    assert demo.quote_interval_ns == 250_000_000
    assert demo.markets == load_config().markets  # everything else stays the default


def test_quote_ticks_turned_off_make_no_quotes_and_change_nothing_else(harness):
    harness.engine.set_quoting(False)
    harness.feed(
        snapshot(10, [(100.0, 1.0)], [(101.0, 1.0)], t=T0 + SECOND // 10),
        depth(11, 11, bids=[(100.0, 2.0)], t=T0 + SECOND // 2),
        depth(12, 12, bids=[(100.5, 3.0)], t=T0 + 3 * SECOND),
    )
    assert _quotes(harness) == []
    assert harness.book().bids == [(100.5, 3.0), (100.0, 2.0)]
    harness.engine.set_quoting(True)  # back on: each interval boundary quotes again
    harness.feed(depth(13, 13, asks=[(101.0, 4.0)], t=T0 + 4 * SECOND + 1))
    harness.feed(depth(14, 14, asks=[(101.0, 5.0)], t=T0 + 5 * SECOND + 1))
    quoted = [(q.recv_ns, q.bid, q.ask_size) for q in _quotes(harness)]
    assert quoted == [(T0 + 3 * SECOND, 100.5, 1.0), (T0 + 4 * SECOND + 1, 100.5, 4.0)]
