"""What the simulator sent is counted, and a client that falls behind is cut, not waited for."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from typer.testing import CliRunner

from tests.simulator.conftest import MakeSim
from tests.simulator.helpers import drain, ws_connect
from xle.cli import app


async def test_traffic_counts_every_frame_the_client_received(make_sim: MakeSim) -> None:
    sim = await make_sim(binance_rate=400.0)
    async with ws_connect(sim.urls["binance"].ws + "/stream?streams=btcusdt@depth@100ms") as ws:
        for _ in range(20):
            await asyncio.wait_for(ws.recv(), 5)
        sim.pause()
        assert await sim.drain(5)
        rest = await drain(ws, quiet=0.3)
        traffic = sim.traffic()["binance"]
    assert traffic.sent == traffic.queued == 20 + len(rest)
    assert (traffic.connections, traffic.open, traffic.lost, traffic.slow_cuts) == (1, 1, 0, 0)
    async with asyncio.timeout(5):
        while sim.traffic()["binance"].open:
            await asyncio.sleep(0.01)
    assert sim.traffic()["binance"].sent == traffic.sent  # closed connections stay counted


async def test_a_client_that_stops_reading_is_cut_and_its_loss_counted(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(
        venues=("binance",), markets={"BTC/USD": 60_000.0}, binance_rate=5000.0, max_backlog=200
    )
    # A client that completes the handshake and then never reads: its receive buffer
    # fills, then the server's socket buffer, then the outbox, and the venue cuts it.
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer.write(
        b"GET /binance/ws/btcusdt@depth@100ms HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert b" 101 " in await asyncio.wait_for(reader.readline(), 5)
    try:
        async with asyncio.timeout(30):
            while not sim.traffic()["binance"].slow_cuts:
                await asyncio.sleep(0.05)
    finally:
        writer.close()
    traffic = sim.traffic()["binance"]
    assert traffic.slow_cuts == 1
    assert traffic.lost > 200
    assert traffic.queued == traffic.sent + traffic.lost


def test_simulate_command_writes_a_final_stats_file(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    args = ["simulate", "--duration", "0.4", "--stats-file", str(stats), "--stats-every", "0.1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(stats.read_bytes())
    assert report["final"] is True
    assert set(report["venues"]) == {"binance", "binanceus", "coinbase"}
    assert report["venues"]["coinbase"]["sent"] == 0  # nobody connected
    assert report["steps"] > 0 and report["cpu_s"] > 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_simulate_command_takes_its_rate_options(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    args = [
        *("simulate", "--duration", "0.5", "--stats-file", str(stats)),
        *("--rate", "400", "--coinbase-rate", "200", "--trade-rate", "0", "--changes", "1-2"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    steps = json.loads(stats.read_bytes())["steps"]
    # Four Binance books at 400/s and two Coinbase books at 200/s, 2000 steps a second,
    # for a little over 0.5 s of model time: never ahead of the clock, and a light load.
    assert 0.5 * 1000 <= steps <= 1.2 * 1000
