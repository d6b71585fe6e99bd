"""The Coinbase Advanced Trade protocol over real WebSockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.simulator.conftest import MakeSim
from tests.simulator.helpers import apply, best_first, drain, recv_json, until, ws_connect
from xle.simulator import final_truth, truth_book_at
from xle.simulator.coinbase_server import iso_time

ENVELOPE = {"channel", "client_id", "timestamp", "sequence_num", "events"}
# Go's RFC3339Nano: trailing zeros of the fraction trimmed, the dot too when nothing is left.
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$")  # to the ns
MICRO_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,5}[1-9])?Z$")  # to the µs
REAL_COINBASE = Path("../shared/data/real-coinbase-2026/raw/exchange=coinbase")


def _subscribe(channel: str, *products: str) -> str:
    body: dict[str, object] = {"type": "subscribe", "channel": channel}
    if products:
        body["product_ids"] = list(products)
    return json.dumps(body)


async def test_level2_subscribe_sends_a_snapshot_then_updates(make_sim: MakeSim) -> None:
    sim = await make_sim(coinbase_rate=200.0)
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("level2", "BTC-USD"))
        frames = [await recv_json(ws) for _ in range(10)]
    snapshot, ack, updates = frames[0], frames[1], frames[2:]
    assert all(set(f) == ENVELOPE and f["client_id"] == "" for f in frames)
    assert all(STAMP.match(f["timestamp"]) for f in frames)
    assert snapshot["channel"] == "l2_data"
    assert snapshot["events"][0]["type"] == "snapshot"
    assert snapshot["events"][0]["product_id"] == "BTC-USD"
    assert len(snapshot["events"][0]["updates"]) >= 500
    assert ack["channel"] == "subscriptions"
    assert ack["events"] == [{"subscriptions": {"level2": ["BTC-USD"]}}]
    assert all(u["channel"] == "l2_data" and u["events"][0]["type"] == "update" for u in updates)
    level = updates[0]["events"][0]["updates"][0]
    assert set(level) == {"side", "event_time", "price_level", "new_quantity"}
    assert level["side"] in ("bid", "offer") and MICRO_STAMP.match(level["event_time"])


async def test_sequence_num_counts_every_message_of_the_connection(make_sim: MakeSim) -> None:
    sim = await make_sim(coinbase_rate=200.0, trade_rate=20.0, heartbeat_interval=0.1)
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("level2", "BTC-USD", "ETH-USD"))
        await ws.send(_subscribe("market_trades", "ETH-USD"))
        await ws.send(_subscribe("heartbeats"))
        frames = await until(ws, lambda f: f["channel"] == "heartbeats")
    assert [f["sequence_num"] for f in frames] == list(range(len(frames)))
    assert {f["channel"] for f in frames} == {
        "l2_data",
        "subscriptions",
        "market_trades",
        "heartbeats",
    }


async def test_snapshot_plus_updates_rebuild_the_true_book(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    sim = await make_sim(coinbase_rate=200.0, truth_dir=tmp_path)
    book: dict[str, dict[str, str]] = {"bids": {}, "asks": {}}
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("level2", "ETH-USD"))
        frames = [await recv_json(ws) for _ in range(20)]
        sim.pause()
        frames += await drain(ws, 0.3)
    for frame in frames:
        if frame["channel"] != "l2_data":
            continue
        for event in frame["events"]:
            if event["type"] == "snapshot":
                book = {"bids": {}, "asks": {}}
            for u in event["updates"]:
                side = book["bids"] if u["side"] == "bid" else book["asks"]
                apply(side, [(u["price_level"], u["new_quantity"])])
    await asyncio.sleep(0.2)  # the truth file is flushed every 0.1 s
    truth = final_truth(tmp_path, "coinbase", "ETH-USD")
    assert best_first(book) == (truth.bids, truth.asks)
    last_update = frames[-1]["events"][0]["updates"][0]["event_time"]
    assert truth.event_time == last_update


async def test_resubscribing_sends_a_fresh_snapshot(make_sim: MakeSim) -> None:
    sim = await make_sim()
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("level2", "BTC-USD"))
        await until(ws, lambda f: f["channel"] == "subscriptions")
        await ws.send(_subscribe("level2", "BTC-USD"))
        frames = await until(ws, lambda f: f["channel"] == "subscriptions")
    snapshots = [f for f in frames if f["events"][0].get("type") == "snapshot"]
    assert len(snapshots) == 1


async def test_unsubscribe_stops_the_updates(make_sim: MakeSim) -> None:
    sim = await make_sim(coinbase_rate=200.0)
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("level2", "BTC-USD"))
        await until(ws, lambda f: f["channel"] == "subscriptions")
        unsubscribe = {"type": "unsubscribe", "product_ids": ["BTC-USD"], "channel": "level2"}
        await ws.send(json.dumps(unsubscribe))
        ack = (await until(ws, lambda f: f["channel"] == "subscriptions"))[-1]
        assert ack["events"] == [{"subscriptions": {}}]
        assert await drain(ws, 0.3) == []


async def test_heartbeats_arrive_with_a_rising_counter(make_sim: MakeSim) -> None:
    sim = await make_sim(heartbeat_interval=0.1)
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("heartbeats"))
        ack = await recv_json(ws)
        beats = [await recv_json(ws) for _ in range(3)]
    assert ack["events"] == [{"subscriptions": {"heartbeats": ["heartbeats"]}}]
    assert all(b["channel"] == "heartbeats" for b in beats)
    counters = [b["events"][0]["heartbeat_counter"] for b in beats]
    assert all(b == a + 1 for a, b in itertools.pairwise(counters))
    assert " +0000 UTC m=+" in beats[0]["events"][0]["current_time"]


async def test_market_trades_start_with_a_snapshot_then_updates(make_sim: MakeSim) -> None:
    sim = await make_sim(trade_rate=30.0)
    await asyncio.sleep(0.3)  # let some trades happen before subscribing
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("market_trades", "BTC-USD"))
        frames = [await recv_json(ws) for _ in range(4)]
    assert frames[0]["channel"] == "market_trades"
    assert frames[0]["events"][0]["type"] == "snapshot"
    assert frames[0]["events"][0]["trades"]
    updates = [f for f in frames[2:] if f["channel"] == "market_trades"]
    assert updates and updates[0]["events"][0]["type"] == "update"
    trade = updates[0]["events"][0]["trades"][0]
    assert set(trade) == {"trade_id", "product_id", "price", "size", "side", "time"}
    assert trade["product_id"] == "BTC-USD" and trade["side"] in ("BUY", "SELL")


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "subscribe", "channel": "level2"},
        {"type": "subscribe", "channel": "level2", "product_ids": ["DOGE-USD"]},
        {"type": "subscribe", "channel": "candles", "product_ids": ["BTC-USD"]},
        {"type": "explode", "channel": "level2", "product_ids": ["BTC-USD"]},
    ],
)
async def test_bad_subscribe_requests_get_an_error(make_sim: MakeSim, request_: dict) -> None:
    sim = await make_sim()
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(json.dumps(request_))
        reply = await recv_json(ws)
    assert reply["type"] == "error" and reply["message"]


async def test_a_client_that_never_subscribes_is_disconnected(make_sim: MakeSim) -> None:
    sim = await make_sim(subscribe_timeout=0.3)
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_subscribed_client_outlives_the_subscribe_timeout(make_sim: MakeSim) -> None:
    sim = await make_sim(subscribe_timeout=0.2, heartbeat_interval=0.1)
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("heartbeats"))
        await asyncio.sleep(0.5)
        frames = await until(ws, lambda f: f["channel"] == "heartbeats")
    assert frames[-1]["channel"] == "heartbeats"


def test_times_are_printed_as_go_prints_them() -> None:
    second = 1_786_309_548 * 1_000_000_000
    assert iso_time(second + 278_410_000, 6) == "2026-08-09T21:05:48.27841Z"
    assert iso_time(second + 389_206_010, 9) == "2026-08-09T21:05:48.38920601Z"
    assert iso_time(second + 170_326_999, 6) == "2026-08-09T21:05:48.170326Z"
    assert iso_time(second + 999, 6) == "2026-08-09T21:05:48Z"


def _real_coinbase_frames() -> list[dict]:
    if not REAL_COINBASE.is_dir():
        pytest.skip(f"{REAL_COINBASE} is absent (real Coinbase capture)")
    import pyarrow.parquet as pq

    frames = []
    for path in sorted(REAL_COINBASE.rglob("*.parquet")):
        for row in pq.read_table(path, columns=["kind", "payload"]).to_pylist():
            if row["kind"] == "ws" and row["payload"].startswith(b"{"):
                frames.append(json.loads(row["payload"]))
    return frames


def _times(frames: list[dict]) -> tuple[set[str], set[str], set[str]]:
    """(envelope timestamps, l2 event_times, trade times) of these frames."""
    stamps, events, trades = set(), set(), set()
    for frame in frames:
        stamps.add(frame["timestamp"])
        for event in frame.get("events", []):
            events.update(u["event_time"] for u in event.get("updates", []))
            trades.update(t["time"] for t in event.get("trades", []))
    return stamps, events, trades


def test_the_captured_coinbase_feed_prints_times_this_way() -> None:
    stamps, events, trades = _times(_real_coinbase_frames())
    assert all(STAMP.match(t) for t in stamps)
    assert all(MICRO_STAMP.match(t) for t in events | trades)
    assert any(len(t) < 27 for t in events)  # trimmed ones occur within 25 s of traffic


async def test_simulated_times_match_the_captured_format(make_sim: MakeSim) -> None:
    # Steps fall every 2.5 ms from a whole second, so many times end in zeros to trim.
    start = 1_786_309_548 * 1_000_000_000
    sim = await make_sim(coinbase_rate=400.0, trade_rate=100.0, start_ns=start)
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("level2", "BTC-USD"))
        await ws.send(_subscribe("market_trades", "BTC-USD"))
        frames = [await recv_json(ws) for _ in range(400)]
    stamps, events, trades = _times(frames)
    assert all(STAMP.match(t) for t in stamps)
    assert all(MICRO_STAMP.match(t) for t in events | trades)
    assert any(len(t) < 27 for t in events) and any(len(t) < 27 for t in trades)


async def test_snapshot_levels_carry_the_time_of_the_books_last_update(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    sim = await make_sim(coinbase_rate=100.0, truth_dir=tmp_path)
    await asyncio.sleep(0.3)  # let the book change before anyone subscribes
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_subscribe("level2", "ETH-USD"))
        snapshot = (await recv_json(ws))["events"][0]
        update = (await until(ws, lambda f: f["events"][0].get("type") == "update"))[-1]
    times = {u["event_time"] for u in snapshot["updates"]}
    assert len(times) == 1
    (event_time,) = times
    assert event_time < update["events"][0]["updates"][0]["event_time"]
    await asyncio.sleep(0.2)  # the truth file is flushed every 0.1 s
    truth = truth_book_at(tmp_path, "coinbase", "ETH-USD", event_time=event_time)
    book = {"bids": {}, "asks": {}}
    for u in snapshot["updates"]:
        apply(
            book["bids" if u["side"] == "bid" else "asks"], [(u["price_level"], u["new_quantity"])]
        )
    assert best_first(book) == (truth.bids, truth.asks)
