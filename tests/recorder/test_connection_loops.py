"""Connection-loop mechanics against a scripted loopback server (see tiny_server.py).

These pin down what the market simulator does not script exactly: a connection closed
after a known number of frames, a snapshot answered 429 with Retry-After, the messages a
Coinbase client sends. Books and faults end to end are in test_e2e_simulator.py.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import msgspec

from tests.recorder.conftest import FAST, read_log, run_until
from tests.recorder.tiny_server import RestReply, Script, TinyServer
from xle.analytics.engine import Engine
from xle.config import load_config
from xle.recorder.live import Recorder, RecorderConfig

SNAPSHOT = b'{"lastUpdateId":100,"bids":[["10.5","1"]],"asks":[["11","2"]]}'


def _trade(i: int) -> bytes:
    data = {"e": "trade", "E": i, "s": "BTCUSDT", "t": i, "p": "10.7", "q": "1", "T": i, "m": True}
    return msgspec.json.encode({"stream": "btcusdt@trade", "data": data})


def _binance_config(root, port, **kw) -> RecorderConfig:
    return RecorderConfig(
        data_root=root,
        symbols={"binance": ["BTCUSDT"]},
        simulator=f"127.0.0.1:{port}",
        options=FAST,
        **kw,
    )


def test_every_frame_is_logged_and_conn_increments_on_each_reconnect(data_root):
    script = Script(
        frames=lambda path, n: [_trade(n * 1000 + i) for i in range(40)],
        close_after_frames=True,
        rest=[RestReply(200, SNAPSHOT)],
    )
    with TinyServer(script) as server:
        recorder = Recorder(_binance_config(data_root, server.port))
        stats = recorder.stats["binance"]
        run_until(recorder, lambda: stats.reconnects >= 2 and stats.frames >= 120)
    records = read_log(data_root)
    frames = [r for r in records if r.kind == "ws"]
    assert len(frames) == stats.frames
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert all(a.recv_ns <= b.recv_ns for a, b in itertools.pairwise(records))
    assert {r.stream for r in frames} == {"btcusdt@trade"}
    assert {r.symbol for r in frames} == {"BTCUSDT"}
    connected = [r for r in records if r.stream == "connected"]
    disconnected = [r for r in records if r.stream == "disconnected"]
    assert len(connected) >= 3 and len(disconnected) >= 2
    conns = [r.conn for r in connected]
    assert conns == sorted(set(conns))
    by_conn = {c: [r for r in frames if r.conn == c] for c in conns[:2]}
    assert all(len(v) == 40 for v in by_conn.values())


def test_frames_are_logged_byte_for_byte_with_the_combined_stream_path(data_root):
    sent = [_trade(i) for i in range(25)]
    script = Script(frames=lambda path, n: sent if n == 1 else [], rest=[RestReply(200, SNAPSHOT)])
    with TinyServer(script) as server:
        recorder = Recorder(_binance_config(data_root, server.port))
        run_until(recorder, lambda: recorder.stats["binance"].frames >= 25)
    frames = [r.payload for r in read_log(data_root) if r.kind == "ws"]
    assert frames == sent
    assert server.paths[0] == "/binance/stream?streams=btcusdt@depth@100ms/btcusdt@trade"


def test_snapshot_is_fetched_after_connecting_and_logged_exactly(data_root):
    script = Script(rest=[RestReply(200, SNAPSHOT)])
    with TinyServer(script) as server:
        recorder = Recorder(_binance_config(data_root, server.port))
        run_until(recorder, lambda: recorder.stats["binance"].snapshot_fetches >= 1)
    records = read_log(data_root)
    kinds = [(r.kind, r.stream) for r in records]
    assert kinds.index(("event", "connected")) < kinds.index(
        ("rest", "/api/v3/depth?symbol=BTCUSDT&limit=1000")
    )
    rest = next(r for r in records if r.kind == "rest")
    assert rest.payload == SNAPSHOT and rest.symbol == "BTCUSDT"
    assert server.rest_requests == ["/binance/api/v3/depth?symbol=BTCUSDT&limit=1000"]


def test_rate_limited_snapshot_is_recorded_as_error_and_retried_after_retry_after(data_root):
    script = Script(
        rest=[
            RestReply(429, b'{"code":-1003,"msg":"Too many requests"}', {"Retry-After": "0.5"}),
            RestReply(200, SNAPSHOT),
        ]
    )
    with TinyServer(script) as server:
        recorder = Recorder(_binance_config(data_root, server.port))
        run_until(recorder, lambda: recorder.stats["binance"].snapshot_fetches >= 1)
    records = read_log(data_root)
    error = next(r for r in records if r.stream == "error")
    detail = json.loads(error.payload)
    assert detail["status"] == 429 and detail["what"] == "snapshot"
    assert "Too many requests" in detail["body"]
    rest = next(r for r in records if r.kind == "rest")
    assert rest.payload == SNAPSHOT
    assert rest.recv_ns - error.recv_ns >= 0.5e9  # waited at least Retry-After
    assert recorder.stats["binance"].rest_errors == 1


def test_connection_is_renewed_before_its_maximum_age_without_backoff(data_root):
    script = Script(rest=[RestReply(200, SNAPSHOT)])
    with TinyServer(script) as server:
        cfg = _binance_config(data_root, server.port)
        cfg.options = replace(FAST, max_connection_age=0.5, backoff_initial=30.0)
        recorder = Recorder(cfg)
        stats = recorder.stats["binance"]
        # Wait for the snapshots themselves, not just the handshakes: each connection's
        # snapshot is fetched by a task started after its handshake, so stopping on the
        # reconnect count alone raced the last connection's request.
        run_until(recorder, lambda: stats.reconnects >= 2 and stats.snapshot_fetches >= 3)
    records = read_log(data_root)
    details = [json.loads(r.payload) for r in records if r.stream == "disconnected"]
    assert details and all(d["reason"] == "max_age" and d["retry_in"] == 0 for d in details)
    snapshots = [r.conn for r in records if r.kind == "rest"]
    connected = [r.conn for r in records if r.stream == "connected"]
    assert len(snapshots) >= 3 and len(set(snapshots)) == len(snapshots)  # one per connection
    assert set(snapshots) <= set(connected)


def test_truncated_frames_are_logged_unlabelled(data_root):
    frames = [b'{"stream":"btcu', _trade(1)]
    script = Script(
        frames=lambda path, n: frames if n == 1 else [], rest=[RestReply(200, SNAPSHOT)]
    )
    with TinyServer(script) as server:
        recorder = Recorder(_binance_config(data_root, server.port))
        run_until(recorder, lambda: recorder.stats["binance"].frames >= 2)
    logged = [(r.stream, r.symbol, r.payload) for r in read_log(data_root) if r.kind == "ws"]
    assert logged == [("", None, frames[0]), ("btcusdt@trade", "BTCUSDT", frames[1])]


def test_unreachable_venue_is_retried_with_error_events_and_nothing_else(data_root):
    cfg = RecorderConfig(
        data_root=data_root,
        symbols={"binance": ["BTCUSDT"]},
        ws_urls={"binance": "ws://127.0.0.1:9"},  # discard port: connection refused
        rest_urls={"binance": "http://127.0.0.1:9"},
        options=FAST,
    )
    recorder = Recorder(cfg)
    run_until(recorder, lambda: recorder.records >= 3)
    records = read_log(data_root)
    assert {r.stream for r in records} == {"error"}
    assert all(json.loads(r.payload)["what"] == "connect" for r in records)
    assert recorder.stats["binance"].connects == 0


# ----------------------------------------------------------------------------- coinbase


def _l2(seq: int, kind: str, price: str) -> bytes:
    update = {"side": "bid", "event_time": "", "price_level": price, "new_quantity": "1"}
    event = {"type": kind, "product_id": "BTC-USD", "updates": [update]}
    body = {"channel": "l2_data", "client_id": "", "timestamp": "", "sequence_num": seq}
    return msgspec.json.encode({**body, "events": [event]})


def test_coinbase_subscribes_each_channel_and_resubscribes_level2_after_a_gap(data_root):
    def frames(path: str, n: int) -> list[bytes]:
        # snapshot, one update, then sequence 5: a gap (2..4 lost)
        return [_l2(0, "snapshot", "100"), _l2(1, "update", "101"), _l2(5, "update", "102")]

    script = Script(frames=frames)
    with TinyServer(script) as server:
        cfg = RecorderConfig(
            data_root=data_root,
            symbols={"coinbase": ["BTC-USD"]},
            simulator=f"127.0.0.1:{server.port}",
            options=FAST,
        )
        recorder = Recorder(cfg, engine=Engine(load_config()))
        run_until(recorder, lambda: len(server.received) >= 5)
    sent = [json.loads(text) for _, text in server.received]
    first = [(m["type"], m["channel"]) for m in sent]
    assert first[0] == ("subscribe", "level2") and sent[0]["product_ids"] == ["BTC-USD"]
    assert ("subscribe", "market_trades") in first and ("subscribe", "heartbeats") in first
    heartbeats = sent[first.index(("subscribe", "heartbeats"))]
    assert "product_ids" not in heartbeats
    resub = [(m["type"], m.get("product_ids")) for m in sent[1:] if m["channel"] == "level2"]
    assert resub == [("unsubscribe", ["BTC-USD"]), ("subscribe", ["BTC-USD"])]
    assert server.paths[0] == "/coinbase"
    records = read_log(data_root)
    frames_logged = [r for r in records if r.kind == "ws"]
    assert [r.stream for r in frames_logged] == ["l2_data"] * 3
    assert {r.symbol for r in frames_logged} == {"BTC-USD"}
    resync = next(r for r in records if r.stream == "resync")
    assert resync.symbol == "BTC-USD" and json.loads(resync.payload)["reason"] == "gap"
    assert recorder.stats["coinbase"].resyncs == 1


def test_coinbase_messages_are_paced_at_most_five_per_second(data_root):
    with TinyServer(Script()) as server:
        cfg = RecorderConfig(
            data_root=data_root,
            symbols={"coinbase": ["BTC-USD"]},
            simulator=f"127.0.0.1:{server.port}",
            options=replace(FAST, sends_per_second=5.0),
        )
        recorder = Recorder(cfg)
        run_until(recorder, lambda: len(server.received) >= 3)
    times = server.received_at
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(times))
    assert times[-1] - times[0] < 5.0  # all three within the 5 s Coinbase allows


def test_coinbase_products_are_spread_over_connections(data_root):
    products = ["BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD", "XRP-USD"]
    with TinyServer(Script()) as server:
        cfg = RecorderConfig(
            data_root=data_root,
            symbols={"coinbase": products},
            simulator=f"127.0.0.1:{server.port}",
            products_per_connection=2,
            options=FAST,
        )
        recorder = Recorder(cfg)
        run_until(recorder, lambda: len(server.received) >= 9)
    level2 = [json.loads(t) for _, t in server.received if '"level2"' in t]
    assert sorted(p for m in level2 for p in m["product_ids"]) == sorted(products)
    assert server.connections == 3
    assert recorder.stats["coinbase"].open_connections == 0
