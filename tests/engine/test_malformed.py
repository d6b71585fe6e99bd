"""A record that cannot be decoded is a ``malformed`` integrity event, never an exception.

Every case runs on both decoding paths: the compiled frame parsers (``_fastwire``) and the
pure-Python msgspec path, selected by clearing the decoders' handle on the parser (the
same state ``XLE_PURE_PYTHON=1`` or an unbuilt extension leaves them in).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.engine.wire import depth, l2, raw_frame, snapshot
from xle.analytics.engine import Engine
from xle.cli import app
from xle.config import load_config
from xle.exchanges import binance, coinbase
from xle.records import IntegrityEvent, RawRecord
from xle.store.writer import LogWriter

BIDS = [(100.0, 1.0), (99.0, 2.0)]
ASKS = [(101.0, 1.0), (102.0, 3.0)]

#: 1,000 nested arrays: about 2 KB, deeper than msgspec's decoder stack allows.
DEEP = b"[" * 1000 + b"]" * 1000


@pytest.fixture(params=["compiled", "pure"])
def path(request, monkeypatch):
    if request.param == "pure":
        monkeypatch.setattr(binance, "fast_binance_depth", None)
        monkeypatch.setattr(coinbase, "fast_coinbase_l2", None)
    elif binance.fast_binance_depth is None:
        pytest.skip("compiled parsers not built")
    return request.param


def _nested_depth(U: int, u: int) -> bytes:
    data = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":%d,"u":%d,"x":%s,"b":[],"a":[]}' % (
        U,
        u,
        DEEP,
    )
    return b'{"stream":"btcusdt@depth@100ms","data":' + data + b"}"


def _nested_l2(seq: int) -> bytes:
    return b'{"channel":"l2_data","client_id":"","x":%s,"sequence_num":%d,"events":[]}' % (
        DEEP,
        seq,
    )


def _malformed(outputs):
    return [o for o in outputs if isinstance(o, IntegrityEvent) and o.kind == "malformed"]


def test_deeply_nested_binance_depth_frame_is_malformed(path, harness):
    harness.feed(snapshot(10, BIDS, ASKS))
    harness.feed(raw_frame(_nested_depth(11, 11), stream="btcusdt@depth@100ms"))
    assert len(harness.integrity("malformed")) == 1
    assert "recursion" in harness.integrity("malformed")[0].detail
    harness.feed(depth(11, 12, bids=[(100.5, 2.0)]))
    assert harness.status() == "synced"
    assert harness.book().bids[0] == (100.5, 2.0)


def test_deeply_nested_binance_trade_snapshot_and_unlabelled_frames_are_malformed(path, harness):
    trade = b'{"stream":"btcusdt@trade","data":{"e":"trade","x":%s,"s":"BTCUSDT"}}' % DEEP
    snap = b'{"lastUpdateId":10,"x":%s,"bids":[],"asks":[]}' % DEEP
    harness.feed(
        raw_frame(trade, stream="btcusdt@trade"),
        raw_frame(_nested_depth(1, 2), stream=""),
        RawRecord(1, "binance", "r", 0, 1, "rest", "/api/v3/depth?symbol=BTCUSDT", None, snap),
    )
    assert len(harness.integrity("malformed")) == 3


def test_binance_depth_frame_with_a_symbol_that_is_not_utf8_is_malformed(path, harness):
    payload = b'{"e":"depthUpdate","E":1,"s":"BTC\xff","U":1,"u":2,"b":[],"a":[]}'
    harness.feed(raw_frame(payload, stream="btcusdt@depth@100ms"))
    assert len(harness.integrity("malformed")) == 1


def test_deeply_nested_coinbase_frame_is_malformed(path, harness):
    harness.feed(l2(1, "snapshot", bids=BIDS, asks=ASKS, conn=5))
    harness.feed(raw_frame(_nested_l2(2), stream="l2_data", exchange="coinbase", conn=5))
    assert len(harness.integrity("malformed")) == 1
    assert "recursion" in harness.integrity("malformed")[0].detail


def test_coinbase_frame_with_a_product_that_is_not_utf8_is_malformed(path, harness):
    payload = (
        b'{"channel":"l2_data","client_id":"","sequence_num":1,"events":[{"type":"snapshot",'
        b'"product_id":"BTC\xff","updates":[]}]}'
    )
    harness.feed(raw_frame(payload, stream="l2_data", exchange="coinbase"))
    assert len(harness.integrity("malformed")) == 1


def test_coinbase_snapshot_symbols_of_a_nested_frame_is_empty():
    payload = b'{"channel":"l2_data","x":%s,"events":[{"type":"snapshot"}]}' % DEEP
    rec = RawRecord(1, "coinbase", "r", 0, 1, "ws", "l2_data", None, payload)
    assert coinbase.snapshot_symbols(rec) == ()


def test_engine_on_records_reports_a_nested_frame_and_goes_on(path):
    engine = Engine(load_config())
    records = [
        snapshot(10, BIDS, ASKS),
        raw_frame(_nested_depth(11, 11), stream="btcusdt@depth@100ms"),
        raw_frame(_nested_l2(1), stream="l2_data", exchange="coinbase"),
        depth(11, 12, bids=[(100.5, 2.0)]),
    ]
    outputs = engine.on_records(records)
    assert [o.exchange for o in _malformed(outputs)] == ["binance", "coinbase"]
    assert engine.book_view("binance", "BTCUSDT").bids[0] == (100.5, 2.0)


T0_NS = 1_704_164_400_000_000_000  # 2024-01-02T03:00:00Z


def _write_log(root: Path) -> None:
    def dump(body: object) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()

    stream = "btcusdt@depth@100ms"
    update = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 11, "u": 12}
    rows = [
        ("rest", "/api/v3/depth?symbol=BTCUSDT&limit=1000", dump({
            "lastUpdateId": 10, "bids": [["100.0", "1.0"]], "asks": [["101.0", "1.0"]],
        })),
        ("ws", stream, _nested_depth(11, 11)),
        ("ws", stream, dump({"stream": stream, "data": {
            **update, "b": [["100.5", "2.0"]], "a": [],
        }})),
    ]  # fmt: skip
    writer = LogWriter(root, "nested", roll_seconds=3600.0)
    try:
        for seq, (kind, name, payload) in enumerate(rows):
            recv_ns = T0_NS + seq * 100_000_000
            writer.append(
                RawRecord(recv_ns, "binance", "nested", 0, seq, kind, name, "BTCUSDT", payload)
            )
    finally:
        writer.close()


def test_replay_of_a_log_holding_a_nested_frame_reports_it_malformed(path, tmp_path):
    _write_log(tmp_path)
    result = CliRunner().invoke(
        app,
        ["replay", "--from", "2024-01-02T02:00:00Z", "--to", "2024-01-02T04:00:00Z",
         "--data", str(tmp_path), "--dry-run"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "malformed 1" in result.stdout
    assert "1 synced, 0 unsynced" in result.stdout


def test_book_of_a_log_holding_a_nested_frame_is_rebuilt(path, tmp_path):
    _write_log(tmp_path)
    result = CliRunner().invoke(
        app,
        ["book", "-e", "binance", "-s", "BTCUSDT", "--at", "2024-01-02T04:00:00Z",
         "--data", str(tmp_path), "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["status"] == "synced"
    assert view["bids"][0] == ["100.5", "2"]
