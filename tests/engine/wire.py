"""Hand-written frames in the venues' exact wire formats, wrapped as RawRecords."""

from __future__ import annotations

import itertools
import json

from xle.records import RawRecord

_seq = itertools.count()

RUN = "test-run"


def _rec(exchange, kind, stream, symbol, payload, *, conn=0, t=None, run=RUN) -> RawRecord:
    seq = next(_seq)
    recv_ns = t if t is not None else 1_700_000_000_000_000_000 + seq * 1_000_000
    return RawRecord(recv_ns, exchange, run, conn, seq, kind, stream, symbol, payload)


def _levels(levels):
    return [[str(p), str(q)] for p, q in levels]


def depth(U, u, bids=(), asks=(), *, symbol="BTCUSDT", exchange="binance", wrap=True, **kw):
    data = {
        "e": "depthUpdate",
        "E": 1,
        "s": symbol,
        "U": U,
        "u": u,
        "b": _levels(bids),
        "a": _levels(asks),
    }
    stream = f"{symbol.lower()}@depth@100ms"
    body = {"stream": stream, "data": data} if wrap else data
    return _rec(exchange, "ws", stream, symbol, json.dumps(body).encode(), **kw)


def snapshot(last_id, bids=(), asks=(), *, symbol="BTCUSDT", exchange="binance", **kw):
    body = {"lastUpdateId": last_id, "bids": _levels(bids), "asks": _levels(asks)}
    path = f"/api/v3/depth?symbol={symbol}&limit=1000"
    return _rec(exchange, "rest", path, symbol, json.dumps(body).encode(), **kw)


def raw_frame(payload: bytes, *, stream, symbol="BTCUSDT", exchange="binance", **kw):
    return _rec(exchange, "ws", stream, symbol, payload, **kw)


def control(name, *, exchange="binance", detail=None, **kw):
    payload = json.dumps(detail or {"event": name}).encode()
    return _rec(exchange, "event", name, None, payload, **kw)


def l2(seq, kind="update", bids=(), asks=(), *, product="BTC-USD", **kw):
    updates = [
        {"side": "bid", "event_time": "", "price_level": str(p), "new_quantity": str(q)}
        for p, q in bids
    ] + [
        {"side": "offer", "event_time": "", "price_level": str(p), "new_quantity": str(q)}
        for p, q in asks
    ]
    body = {
        "channel": "l2_data",
        "client_id": "",
        "timestamp": "2023-02-09T20:32:50.714964855Z",
        "sequence_num": seq,
        "events": [{"type": kind, "product_id": product, "updates": updates}],
    }
    return _rec("coinbase", "ws", "l2_data", product, json.dumps(body).encode(), **kw)


def cb_frame(body: dict | bytes, *, stream="l2_data", product="BTC-USD", **kw):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _rec("coinbase", "ws", stream, product, payload, **kw)


def heartbeat(seq, **kw):
    body = {
        "channel": "heartbeats",
        "client_id": "",
        "timestamp": "2023-02-09T20:32:50.714964855Z",
        "sequence_num": seq,
        "events": [{"current_time": "2023-02-09 20:32:50.714 +0000 UTC", "heartbeat_counter": 1}],
    }
    return cb_frame(body, stream="heartbeats", product=None, **kw)
