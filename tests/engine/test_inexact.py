"""A price or quantity a double cannot hold exactly is reported, never silently merged."""

from __future__ import annotations

import json

import pytest

from tests.engine.wire import depth, l2, raw_frame, snapshot
from xle.exchanges import _common, binance, coinbase
from xle.records import Trade

BIDS = [(100.0, 1.0), (99.0, 2.0)]
ASKS = [(101.0, 1.0), (102.0, 3.0)]
ONE = "99.500000000000000000000000000001"
TWO = "99.500000000000000000000000000002"  # the same double as ONE, and as 99.5


@pytest.fixture(params=["compiled", "pure"])
def path(request, monkeypatch):
    if request.param == "pure":
        monkeypatch.setattr(binance, "fast_binance_depth", None)
        monkeypatch.setattr(coinbase, "fast_coinbase_l2", None)
        monkeypatch.setattr(_common, "long_decimals", _common._long_decimals)
    elif binance.fast_binance_depth is None:
        pytest.skip("compiled parsers not built")
    return request.param


def test_binance_depth_with_inexact_prices_is_reported_not_applied_and_resynced(path, harness):
    harness.feed(snapshot(10, BIDS, ASKS), depth(11, 11, bids=[(ONE, 1.0), (TWO, 2.0)]))
    [event] = harness.integrity()
    assert event.kind == "inexact_number"
    assert f"cannot hold {ONE}, {TWO} exactly" in event.detail
    assert harness.status() == "unsynced"
    assert [r.reason for r in harness.resyncs()] == ["inexact_number"]
    harness.feed(snapshot(12, BIDS, ASKS), depth(13, 13, bids=[("99.5", 3.0)]))
    assert harness.book().bids == [(100.0, 1.0), (99.5, 3.0), (99.0, 2.0)]


def test_binance_buffered_depth_with_an_inexact_quantity_leaves_a_hole(path, harness):
    harness.feed(depth(11, 11, bids=[(100.0, "1.00000000000000000001")]))
    harness.feed(depth(12, 12), snapshot(10, BIDS, ASKS))  # 11 is missing from the buffer
    assert [e.kind for e in harness.integrity()] == ["inexact_number", "stale_snapshot"]


def test_binance_snapshot_with_an_inexact_price_is_not_applied(path, harness):
    harness.feed(snapshot(10, [(ONE, 1.0)], ASKS))
    assert [e.kind for e in harness.integrity()] == ["inexact_number"]
    assert [r.reason for r in harness.resyncs()] == ["inexact_number"]
    assert harness.status() is None


def test_binance_trade_with_an_inexact_price_is_dropped(path, harness):
    body = {"stream": "btcusdt@trade", "data": {
        "e": "trade", "s": "BTCUSDT", "t": 1, "p": ONE, "q": "1", "m": True,
    }}  # fmt: skip
    harness.feed(raw_frame(json.dumps(body).encode(), stream="btcusdt@trade"))
    assert [e.kind for e in harness.integrity()] == ["inexact_number"]
    assert not [o for o in harness.outputs if isinstance(o, Trade)]


def test_long_numbers_a_double_holds_exactly_are_applied(path, harness):
    exact = "0.30000000000000004"  # 17 significant digits, the repr of 0.1 + 0.2
    harness.feed(snapshot(10, BIDS, ASKS), depth(11, 11, bids=[(100.0, exact)]))
    harness.feed(depth(12, 12, asks=[("12345678.00000000", 1.0)]))
    assert harness.integrity() == []
    assert harness.book().bids[0] == (100.0, 0.1 + 0.2)


def test_coinbase_update_with_inexact_prices_resets_that_book(path, harness):
    harness.feed(
        l2(1, "snapshot", BIDS, ASKS),
        l2(2, bids=[(ONE, 1.0), (TWO, 2.0)]),
        l2(3, bids=[(100.0, 4.0)]),
    )
    assert [e.kind for e in harness.integrity()] == ["inexact_number"]  # no gap: 2 was read
    assert [r.reason for r in harness.resyncs()] == ["inexact_number"]
    assert harness.status("coinbase", "BTC-USD") == "unsynced"


def test_coinbase_snapshot_with_an_inexact_quantity_is_not_applied(path, harness):
    harness.feed(l2(1, "snapshot", [(100.0, "0.12345678901234567891")], ASKS))
    assert [e.kind for e in harness.integrity()] == ["inexact_number"]
    assert harness.book("coinbase", "BTC-USD").bids == []
    harness.feed(l2(2, "snapshot", BIDS, ASKS))
    assert harness.status("coinbase", "BTC-USD") == "synced"


def test_coinbase_trade_with_an_inexact_size_is_dropped(path, harness):
    body = {"channel": "market_trades", "sequence_num": 1, "events": [{"trades": [{
        "trade_id": "12345678901234567890", "product_id": "BTC-USD", "price": "100",
        "size": "0.12345678901234567891", "side": "BUY",
    }]}]}  # fmt: skip
    harness.feed(raw_frame(json.dumps(body).encode(), stream="market_trades", exchange="coinbase"))
    [event] = harness.integrity()
    assert event.kind == "inexact_number"
    assert "0.12345678901234567891" in event.detail
    assert "12345678901234567890" not in event.detail  # a trade id is not a number


def test_inexact_numbers_checks_only_frames_with_long_numbers():
    assert _common.inexact_numbers(b'{"p":"99.5"}', binance._NUMBERS) == []
    assert _common.inexact_numbers(b'{"p":"%s"}' % ONE.encode(), binance._NUMBERS) == [ONE]
    assert not _common._long_decimals(b'{"p":"43000.10000000","E":1672515782136}')
