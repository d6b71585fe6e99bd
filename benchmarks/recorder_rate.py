"""How many messages per second ``xle record`` captures with zero loss on this machine.

    python benchmarks/recorder_rate.py [--rates 5000,10000,25000,50000,75000,100000]
                                       [--seconds 4] [--engine off|on|both]

For each total rate a *firehose* process serves the three venues on 127.0.0.1 with the
simulator's URL scheme (``/binance/stream?streams=…``, ``/binanceus/…``, ``/coinbase``
and the REST depth endpoint) and real wire formats: Binance combined-stream
``depthUpdate`` frames with contiguous ``U``/``u`` and ``CHANGES`` level changes each
(every 10th frame a ``trade``), a REST snapshot on request, Coinbase ``l2_data`` with a
snapshot event first and a contiguous ``sequence_num``. The rate is split evenly over the
six default books, paced every 5 ms.
The ``Recorder`` runs in this process, exactly as ``xle record`` runs it.

Why not ``xle simulate`` itself: its market model computes and prints every book change
in Python, so it tops out far below these rates (asked for 60,000 msg/s it delivered
about 13,000 on this machine) -- it would measure itself, not the recorder. The
firehose builds every frame of the run up front and writes pre-framed WebSocket bytes
straight to the socket while streaming, so nearly a whole core is left to the recorder.

A venue never waits for a slow client: like the real ones, the firehose keeps at most
``BACKLOG_BYTES`` unsent per connection and drops what does not fit, so loss is counted,
not hidden by TCP backpressure. Per rate it prints offered (frames put on the wire, and
the achieved rate), captured (frames in the raw log), loss (offered + dropped -
captured), how far behind the recorder was when the stream ended (seconds of traffic),
and the recorder process's CPU seconds per 10,000 messages (psutil; includes the log
writer's threads). A rate counts only with zero loss, the full target volume offered, and
the recorder at most ``MAX_BEHIND_S`` behind at the end -- a recorder that merely
catches up from its socket buffers afterwards is not keeping up.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import struct
import tempfile
import time
from pathlib import Path

import psutil

from xle.analytics.engine import Engine
from xle.config import load_config
from xle.recorder.live import DEFAULT_SYMBOLS, Recorder, RecorderConfig
from xle.replay.reader import LogReader

BACKLOG_BYTES = 32 << 20
TICK_S = 0.005
LEVELS = 200
#: A rate is sustained only if the recorder is this close behind when the stream ends.
MAX_BEHIND_S = 0.25
#: Level changes per depth message (Binance: split over both sides; Coinbase: half each).
CHANGES = 6

# --------------------------------------------------------------------------- firehose


def _ws_frame(payload: bytes) -> bytes:
    """An unmasked server-to-client text frame (RFC 6455)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def _pair(price: str, qty: str) -> str:
    return f'["{price}","{qty}"]'


def _update(side: str, price: str, qty: str) -> str:
    return (
        f'{{"side":"{side}","event_time":"2026-01-01T00:00:00.000000Z",'
        f'"price_level":"{price}","new_quantity":"{qty}"}}'
    )


class _Book:
    """Synthetic prices that never cross: bids below 60000, asks from 60000 up."""

    def __init__(self, rng: random.Random, base: float) -> None:
        self.rng = rng
        self.bids = [f"{base - 0.01 * (i + 1):.2f}" for i in range(LEVELS)]
        self.asks = [f"{base + 0.01 * i:.2f}" for i in range(LEVELS)]
        self.qtys = [f"{rng.uniform(0.001, 5):.5f}" for _ in range(64)] + ["0"] * 8

    def level(self, side: list[str]) -> tuple[str, str]:
        rng = self.rng
        return side[rng.randrange(1, LEVELS)], self.qtys[rng.randrange(len(self.qtys))]

    def snapshot_levels(self, side: list[str]) -> list[tuple[str, str]]:
        return [(p, "1.00000") for p in side]


class _Binance:
    """One venue's combined-stream connection: depth frames with contiguous ids."""

    def __init__(self, venue: str, rng: random.Random) -> None:
        self.venue = venue
        self.symbols = DEFAULT_SYMBOLS[venue]
        self.books = {s: _Book(rng, 60000.0 if "BTC" in s else 3000.0) for s in self.symbols}
        self.ids = {s: 1_000_000 for s in self.symbols}
        self.snapshot_ids = dict(self.ids)  # the book id before the first streamed frame
        self.trade_id = 0
        self.n = 0

    def next_frame(self, ms: int) -> bytes:
        self.n += 1
        sym = self.symbols[self.n % len(self.symbols)]
        low = sym.lower()
        if self.n % 10 == 0:
            self.trade_id += 1
            data = (
                f'{{"e":"trade","E":{ms},"s":"{sym}","t":{self.trade_id},"p":"60000.00",'
                f'"q":"0.01000","T":{ms},"m":true,"M":true}}'
            )
            return f'{{"stream":"{low}@trade","data":{data}}}'.encode()
        book = self.books[sym]
        first = self.ids[sym] + 1
        last = self.ids[sym] = first + 1
        n_bids = 1 + self.n % (CHANGES - 1)  # the CHANGES levels split over both sides
        bids = ",".join(_pair(*book.level(book.bids)) for _ in range(n_bids))
        asks = ",".join(_pair(*book.level(book.asks)) for _ in range(CHANGES - n_bids))
        data = (
            f'{{"e":"depthUpdate","E":{ms},"s":"{sym}","U":{first},"u":{last},'
            f'"b":[{bids}],"a":[{asks}]}}'
        )
        return f'{{"stream":"{low}@depth@100ms","data":{data}}}'.encode()

    def snapshot(self, symbol: str) -> bytes:
        book = self.books[symbol]
        bids = ",".join(f'["{p}","{q}"]' for p, q in book.snapshot_levels(book.bids))
        asks = ",".join(f'["{p}","{q}"]' for p, q in book.snapshot_levels(book.asks))
        last_id = self.snapshot_ids[symbol]
        return f'{{"lastUpdateId":{last_id},"bids":[{bids}],"asks":[{asks}]}}'.encode()


class _Coinbase:
    """One Coinbase connection: a snapshot per product, then updates."""

    def __init__(self, rng: random.Random) -> None:
        self.products = DEFAULT_SYMBOLS["coinbase"]
        self.books = {p: _Book(rng, 60000.0 if "BTC" in p else 3000.0) for p in self.products}
        self.seq = -1
        self.n = 0

    def _envelope(self, events: str) -> bytes:
        self.seq += 1
        return (
            f'{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00.000000Z",'
            f'"sequence_num":{self.seq},"events":[{events}]}}'
        ).encode()

    def snapshot(self, product: str) -> bytes:
        book = self.books[product]
        ups = [
            f'{{"side":"{side}","event_time":"2026-01-01T00:00:00Z","price_level":"{p}",'
            f'"new_quantity":"{q}"}}'
            for side, levels in (("bid", book.bids), ("offer", book.asks))
            for p, q in book.snapshot_levels(levels)
        ]
        return self._envelope(
            f'{{"type":"snapshot","product_id":"{product}","updates":[{",".join(ups)}]}}'
        )

    def next_frame(self, ms: int) -> bytes:
        self.n += 1
        product = self.products[self.n % len(self.products)]
        book = self.books[product]
        update = ",".join(
            _update(side, *book.level(levels))
            for side, levels in (("bid", book.bids), ("offer", book.asks))
            for _ in range(CHANGES // 2)
        )
        return self._envelope(f'{{"type":"update","product_id":"{product}","updates":[{update}]}}')


def _firehose(rate: float, seconds: float, conn: mp.connection.Connection) -> None:
    """Child process: serve, wait for the three venues, stream, report, wait for bye."""
    asyncio.run(_firehose_main(rate, seconds, conn))


async def _firehose_main(rate: float, seconds: float, pipe: mp.connection.Connection) -> None:
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    rng = random.Random(7)
    venues = {"binance": _Binance("binance", rng), "binanceus": _Binance("binanceus", rng)}
    coinbase = _Coinbase(rng)
    # Every frame of the run is built up front, so streaming costs only socket writes.
    count = int(rate / 3.0 * seconds) + 1
    coinbase_snapshots = b"".join(_ws_frame(coinbase.snapshot(p)) for p in coinbase.products)
    ms = int(time.time() * 1000)
    pools = {
        name: [_ws_frame(source.next_frame(ms)) for _ in range(count)]
        for name, source in {**venues, "coinbase": coinbase}.items()
    }
    transports: dict[str, asyncio.Transport] = {}
    ready = asyncio.Event()

    def process_request(connection, request):
        path = request.path
        venue = path.lstrip("/").partition("/")[0]
        if "/api/v3/depth" not in path:
            return None
        symbol = path.partition("symbol=")[2].partition("&")[0]
        body = venues[venue].snapshot(symbol)
        headers = Headers(
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return Response(200, "OK", headers, body)

    async def handler(ws):
        venue = ws.request.path.lstrip("/").partition("/")[0].partition("?")[0]
        if venue == "coinbase":
            await ws.recv()  # the first subscribe: level2
            ws.transport.write(coinbase_snapshots)
        transports[venue] = ws.transport
        if len(transports) == 3:
            ready.set()
        async for _ in ws:  # the remaining subscribes, pings
            pass

    async with serve(handler, "127.0.0.1", 0, process_request=process_request,
                     compression=None, ping_interval=None) as server:  # fmt: skip
        pipe.send(next(iter(server.sockets)).getsockname()[1])
        await ready.wait()
        await asyncio.sleep(0.5)  # let the snapshots land
        per_venue = rate / 3.0
        start = time.monotonic()
        end = start + seconds
        sent = dict.fromkeys(pools, 0)
        dropped = dict.fromkeys(pools, 0)
        while True:
            now = min(time.monotonic(), end)
            due = int(per_venue * (now - start))
            for venue, pool in pools.items():
                done = sent[venue] + dropped[venue]
                if due <= done:
                    continue
                transport = transports[venue]
                if transport.is_closing() or transport.get_write_buffer_size() > BACKLOG_BYTES:
                    dropped[venue] += due - done
                else:
                    transport.write(b"".join(pool[done:due]))
                    sent[venue] += due - done
            if now >= end:
                break
            await asyncio.sleep(TICK_S)
        elapsed = time.monotonic() - start
        sent["coinbase"] += len(coinbase.products)  # the snapshots are frames too
        pipe.send({"sent": sent, "dropped": dropped, "elapsed": elapsed})
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # bye


# --------------------------------------------------------------------------- measurement


def measure(rate: float, seconds: float, engine_on: bool) -> dict:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_firehose, args=(rate, seconds, child), daemon=True)
    proc.start()
    port = parent.recv()
    root = Path(tempfile.mkdtemp(prefix="xle-rate-"))
    cfg = RecorderConfig(
        data_root=root,
        symbols=dict(DEFAULT_SYMBOLS),
        simulator=f"127.0.0.1:{port}",
    )
    engine = Engine(load_config()) if engine_on else None
    recorder = Recorder(cfg, engine=engine)
    me = psutil.Process()
    handle = recorder.start_in_thread()
    cpu0 = None
    while not parent.poll(0.005):
        if cpu0 is None and sum(s.frames for s in recorder.stats.values()) > 0:
            cpu0 = me.cpu_times()
    report = parent.recv()
    # How far behind the recorder is at the moment the stream ends, in seconds of traffic.
    behind = (sum(report["sent"].values()) - sum(s.frames for s in recorder.stats.values())) / rate
    want = report["sent"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if all(recorder.stats[v].frames >= want[v] for v in want):
            break
        time.sleep(0.005)
    cpu1 = me.cpu_times()
    handle.stop()
    handle.join(60)
    parent.send("bye")
    proc.join(10)
    captured = {v: 0 for v in want}
    for rec in LogReader(root):
        if rec.kind == "ws":
            captured[rec.exchange] += 1
    offered = sum(want.values())
    got = sum(captured.values())
    dropped = sum(report["dropped"].values())
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system) if cpu0 else float("nan")
    achieved = (offered - len(DEFAULT_SYMBOLS["coinbase"])) / report["elapsed"]
    loss = offered + dropped - got
    return {
        "rate": rate,
        "engine": engine_on,
        "offered": offered,
        "achieved": achieved,
        "captured": got,
        "loss": loss,
        "cpu_per_10k": cpu / max(got, 1) * 1e4,
        "behind": max(0.0, behind),
        # Counts only if nothing was dropped or lost, the firehose put the whole target
        # volume on the wire, and the recorder kept pace (not catching up afterwards).
        "ok": loss == 0 and dropped == 0 and offered >= rate * seconds and behind <= MAX_BEHIND_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="5000,10000,25000,50000,75000,100000")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--engine", choices=("off", "on", "both"), default="both")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.engine]
    print(f"recorder capture rate, {args.seconds:g} s per rate, {psutil.cpu_count()} cores")
    print()
    print(
        "| engine | target msg/s | offered | achieved msg/s | captured | loss "
        "| behind at end (s) | CPU s / 10k msgs |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    best: dict[bool, float] = {}
    for engine_on in modes:
        for rate in rates:
            r = measure(rate, args.seconds, engine_on)
            if r["ok"]:
                best[engine_on] = max(best.get(engine_on, 0.0), rate)
            print(
                f"| {'on' if engine_on else 'off'} | {rate:,.0f} | {r['offered']:,} | "
                f"{r['achieved']:,.0f} | {r['captured']:,} | {r['loss']:,} | "
                f"{r['behind']:.2f} | {r['cpu_per_10k']:.3f} |",
                flush=True,
            )
    print()
    for engine_on in modes:
        label = "with engine" if engine_on else "capture only (--no-engine)"
        top = best.get(engine_on)
        print(f"highest zero-loss rate, {label}: {f'{top:,.0f} msg/s' if top else 'none'}")


if __name__ == "__main__":
    main()
