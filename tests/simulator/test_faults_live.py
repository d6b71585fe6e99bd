"""Every fault is observable by a real client, and reproducible for a seed."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.simulator.conftest import MakeSim
from tests.simulator.helpers import recv_json, until, ws_connect
from xle.simulator import FaultConfig


def _level2(product: str = "BTC-USD") -> str:
    return json.dumps({"type": "subscribe", "product_ids": [product], "channel": "level2"})


async def _texts(url: str, count: int, first: str | None = None) -> list[str]:
    async with ws_connect(url) as ws:
        if first is not None:
            await ws.send(first)
        return [await asyncio.wait_for(ws.recv(), 5) for _ in range(count)]


async def test_dropped_binance_frames_leave_a_gap_in_update_ids(make_sim: MakeSim) -> None:
    sim = await make_sim(binance_rate=200.0, faults=FaultConfig(drop=0.3))
    url = sim.urls["binance"].ws + "/ws/btcusdt@depth@100ms"
    frames = [json.loads(t) for t in await _texts(url, 30)]
    pairs = list(itertools.pairwise(frames))
    assert all(b["U"] > a["u"] for a, b in pairs)
    assert any(b["U"] > a["u"] + 1 for a, b in pairs)


async def test_dropped_coinbase_frames_skip_sequence_numbers(make_sim: MakeSim) -> None:
    sim = await make_sim(coinbase_rate=200.0, faults=FaultConfig(drop=0.3))
    frames = [json.loads(t) for t in await _texts(sim.urls["coinbase"].ws, 30, _level2())]
    numbers = [f["sequence_num"] for f in frames]
    assert numbers == sorted(numbers)
    assert len(set(range(numbers[-1] + 1)) - set(numbers)) > 0


async def test_acknowledgements_are_never_faulted(make_sim: MakeSim) -> None:
    sim = await make_sim(faults=FaultConfig(drop=1.0))
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_level2())
        ack = await recv_json(ws)
    assert ack["channel"] == "subscriptions"
    assert ack["sequence_num"] == 1  # the snapshot (number 0) was dropped


async def test_disconnect_after_cuts_the_connection_after_that_many_frames(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(binance_rate=200.0, faults=FaultConfig(disconnect_after=5))
    received = 0
    async with ws_connect(sim.urls["binance"].ws + "/ws/btcusdt@depth@100ms") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
                received += 1
    assert received == 5
    assert closed.value.rcvd is None  # cut, no close frame


async def test_random_disconnects_cut_connections(make_sim: MakeSim) -> None:
    sim = await make_sim(coinbase_rate=200.0, faults=FaultConfig(disconnect=0.2))
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        await ws.send(_level2())
        with pytest.raises(ConnectionClosed):
            for _ in range(200):
                await asyncio.wait_for(ws.recv(), 5)


async def test_malformed_frames_are_invalid_json_or_carry_a_non_numeric_price(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(binance_rate=200.0, faults=FaultConfig(malformed=0.4))
    texts = await _texts(sim.urls["binance"].ws + "/ws/ethusdt@depth@100ms", 40)
    invalid = non_numeric = 0
    for text in texts:
        try:
            frame = json.loads(text)
        except json.JSONDecodeError:
            invalid += 1
            continue
        non_numeric += "not-a-number" in text
        assert frame["e"] == "depthUpdate"
    assert invalid > 0 and non_numeric > 0


async def test_latency_spikes_hold_frames_back(make_sim: MakeSim) -> None:
    sim = await make_sim(binance_rate=200.0, faults=FaultConfig(latency=0.2, latency_ms=300))
    arrivals = []
    async with ws_connect(sim.urls["binance"].ws + "/ws/btcusdt@depth@100ms") as ws:
        for _ in range(12):
            await asyncio.wait_for(ws.recv(), 5)
            arrivals.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) >= 0.29


async def test_slow_snapshots_arrive_late_but_intact(make_sim: MakeSim) -> None:
    sim = await make_sim(faults=FaultConfig(snapshot_delay=0.4))
    started = time.monotonic()
    async with httpx.AsyncClient() as http:
        reply = await http.get(sim.urls["binance"].rest + "/api/v3/depth?symbol=BTCUSDT&limit=10")
    assert time.monotonic() - started >= 0.39
    assert reply.status_code == 200 and len(reply.json()["bids"]) == 10


async def test_failing_snapshots_answer_500_or_429(make_sim: MakeSim) -> None:
    sim = await make_sim(faults=FaultConfig(snapshot_fail=1.0))
    async with httpx.AsyncClient() as http:
        replies = [
            await http.get(sim.urls["binanceus"].rest + "/api/v3/depth?symbol=BTCUSD")
            for _ in range(12)
        ]
    assert {r.status_code for r in replies} == {500, 429}
    assert all(r.json()["code"] in (-1000, -1003) for r in replies)
    assert all(r.headers["retry-after"] for r in replies if r.status_code == 429)


async def _sequence_numbers(make_sim: MakeSim, seed: int) -> list[int]:
    sim = await make_sim(seed=seed, coinbase_rate=200.0, faults=FaultConfig(drop=0.3))
    frames = await _texts(sim.urls["coinbase"].ws, 25, _level2())
    return [json.loads(t)["sequence_num"] for t in frames]


async def test_faults_are_the_same_for_the_same_seed(make_sim: MakeSim) -> None:
    first = await _sequence_numbers(make_sim, 5)
    again = await _sequence_numbers(make_sim, 5)
    other = await _sequence_numbers(make_sim, 6)
    assert first == again
    assert first != other


async def test_the_same_seed_serves_the_same_bytes(make_sim: MakeSim) -> None:
    start = 1_700_000_000_000_000_000
    sims = [await make_sim(seed=3, binance_rate=200.0, start_ns=start) for _ in range(2)]
    streams = [s.urls["binance"].ws + "/ws/btcusdt@depth@100ms" for s in sims]
    first, second = await asyncio.gather(*(_texts(url, 60) for url in streams))
    by_id = {json.loads(t)["U"]: t for t in first}
    common = [t for t in second if json.loads(t)["U"] in by_id]
    assert len(common) >= 20
    assert all(by_id[json.loads(t)["U"]] == t for t in common)


async def test_live_determinism_extends_to_coinbase_updates(make_sim: MakeSim) -> None:
    start = 1_700_000_000_000_000_000
    sims = [await make_sim(seed=4, coinbase_rate=200.0, start_ns=start) for _ in range(2)]

    async def updates(url: str) -> dict[str, list]:
        async with ws_connect(url) as ws:
            await ws.send(_level2("ETH-USD"))
            await until(ws, lambda f: f["channel"] == "subscriptions")
            frames = [await recv_json(ws) for _ in range(60)]
        return {f["timestamp"]: f["events"] for f in frames}

    first, second = await asyncio.gather(*(updates(s.urls["coinbase"].ws) for s in sims))
    common = set(first) & set(second)
    assert len(common) >= 20
    assert all(first[t] == second[t] for t in common)
