"""How many messages per second ``xle record`` captures from ``xle simulate`` with zero loss.

    python benchmarks/recorder_rate.py [--rates 25000,50000,60000,70000,80000]
                                       [--seconds 5] [--engine off|on|both]
                                       [--changes 1-8] [--trades 0.5] [--repeat 1]

Per total rate, the real simulator runs in its own process -- the ``xle simulate``
command itself, with ``--duration`` and ``--stats-file`` -- and the ``Recorder`` runs in
this process exactly as ``xle record`` runs it (``RecorderConfig`` defaults, the default
symbols of every venue, ``--simulator 127.0.0.1:PORT``), with the in-process engine on
(``xle record``'s default) or off (``--no-engine``). The rate is spread over the six
default books: each book gets ``rate / 9`` depth messages/s (Binance ``depthUpdate``,
Coinbase ``l2_data`` updates) and half that in trades (``@trade`` frames,
``market_trades`` messages; ``--trades``), so depth plus trades add up to the rate;
Coinbase heartbeats (one a second) come on top. ``--changes`` is the simulator's level changes
per message (default 1-8, about 5 on average with the touch's own changes).

Per rate it prints:

* offered: data frames the simulator sent on the recorder's connections (its stats
  file), and the rate it achieved while the recorder was connected -- the model runs in
  Python and says how far it lagged the clock, so a rate it could not produce is shown,
  not assumed;
* captured: WebSocket frames in the raw log after the run;
* loss: offered - captured, plus frames the simulator discarded when it cut a client for
  falling more than ``max_backlog`` frames behind (``lost``; a venue never waits for a
  slow client, so falling behind shows up here and never as TCP back-pressure);
* gaps: breaks in the per-connection sequences read back from the log (Binance ``U`` =
  previous ``u`` + 1 and trade ids one by one per symbol, Coinbase ``sequence_num`` one
  by one per connection): zero means every frame is there, in order;
* behind: seconds of traffic the recorder still had to take in when the simulator
  stopped its market;
* recorder CPU seconds per 10,000 messages (this process: the recorder's event loop,
  the engine, the log writer's threads) and the simulator's (its own report).

A run counts (``ok``) only with zero loss and zero gaps and the recorder at most
``MAX_BEHIND_S`` behind when the market stopped; the highest zero-loss rate is the
highest *achieved* rate of such a run -- what the simulator really offered, which on a
loaded machine can fall short of the rate asked for (the simulator's Python market model
needs most of a core at these rates).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec
import psutil

from xle.analytics.engine import Engine
from xle.config import load_config
from xle.recorder.live import DEFAULT_SYMBOLS, Recorder, RecorderConfig
from xle.store.reader import read_records

#: A rate is sustained only if the recorder is this close behind when the market stops.
MAX_BEHIND_S = 0.25
BOOKS = sum(len(s) for s in DEFAULT_SYMBOLS.values())
#: Trades per depth message by default: a third of the frames are trades (a busy real
#: book such as BTCUSDT prints more trades per second than its 10 depth messages).
TRADES_PER_DEPTH = 0.5
#: How often this process looks at the recorder's counters and the simulator's stats.
_POLL_S = 0.05
_XLE = "import sys; from xle.cli import main; sys.argv[0] = 'xle'; main()"


def _simulate(
    rate: float, seconds: float, changes: str, trades: float, stats: Path
) -> subprocess.Popen:
    per_book = rate / BOOKS / (1 + trades)
    args = [
        *("simulate", "--seed", "1", "--port", "0", "--changes", changes),
        *("--rate", f"{per_book:g}", "--coinbase-rate", f"{per_book:g}"),
        *("--trade-rate", f"{per_book * trades:g}"),
        *("--duration", f"{seconds:g}", "--stats-file", str(stats), "--stats-every", "0.1"),
    ]
    return subprocess.Popen(
        [sys.executable, "-c", _XLE, *args], stdout=subprocess.PIPE, text=True, bufsize=1
    )


def _port(proc: subprocess.Popen) -> int:
    assert proc.stdout is not None
    for line in proc.stdout:
        if "--simulator 127.0.0.1:" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"xle simulate exited ({proc.wait()}) without printing its port")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def _sent(stats: dict[str, Any]) -> int:
    return sum(v["sent"] for v in stats["venues"].values())


def _check_log(root: Path) -> tuple[dict[str, int], int]:
    """WebSocket frames per venue in the raw log, and breaks in their sequences."""
    frames: dict[str, int] = defaultdict(int)
    last: dict[tuple, int] = {}
    gaps = 0
    decode = msgspec.json.decode
    for rec in read_records(root).records():
        if rec.kind != "ws":
            continue
        frames[rec.exchange] += 1
        msg = decode(rec.payload)
        if rec.exchange == "coinbase":
            key, first, now = (rec.conn,), msg["sequence_num"], msg["sequence_num"]
        else:
            data = msg["data"]
            if data.get("e") == "depthUpdate":
                key, first, now = (rec.conn, msg["stream"]), data["U"], data["u"]
            elif data.get("e") == "trade":
                key, first, now = (rec.conn, msg["stream"]), data["t"], data["t"]
            else:
                continue
        prev = last.get(key)
        if prev is None and rec.exchange == "coinbase" and first != 0:
            gaps += 1
        if prev is not None and first != prev + 1:
            gaps += 1
        last[key] = now
    return dict(frames), gaps


def measure(
    rate: float, seconds: float, engine_on: bool, changes: str, trades: float = TRADES_PER_DEPTH
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="xle-rate-"))
    stats_path = root / "simulator.json"
    sim = _simulate(rate, seconds, changes, trades, stats_path)
    try:
        port = _port(sim)
        cfg = RecorderConfig(
            data_root=root / "data", symbols=dict(DEFAULT_SYMBOLS), simulator=f"127.0.0.1:{port}"
        )
        recorder = Recorder(cfg, engine=Engine(load_config()) if engine_on else None)
        me = psutil.Process()

        def captured() -> int:
            return sum(s.frames for s in recorder.stats.values())

        handle = recorder.start_in_thread()
        # Measure from the moment every venue streams: CPU, frames, and the simulator's.
        while not all(s.frames for s in recorder.stats.values()):
            if sim.poll() is not None:
                raise RuntimeError("the simulator ended before every venue streamed")
            time.sleep(_POLL_S)
        cpu0, got0 = me.cpu_times(), captured()
        first = None
        while (first := _read(stats_path)) is None or not _sent(first):
            time.sleep(_POLL_S)
        # Until the market stops: the simulator's first report with "paused".
        while (paused := _read(stats_path)) is None or not paused.get("paused"):
            time.sleep(_POLL_S)
        behind_frames = _sent(paused) - captured()
        while (final := _read(stats_path)) is None or not final.get("final"):
            time.sleep(_POLL_S)
        want = {v: t["sent"] for v, t in final["venues"].items()}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(recorder.stats[v].frames >= n for v, n in want.items()):
                break
            time.sleep(_POLL_S)
        cpu1, got1 = me.cpu_times(), captured()
        handle.stop()
        handle.join(60)
        if handle.error is not None:
            raise handle.error
    finally:
        sim.wait(30)
    try:
        frames, gaps = _check_log(root / "data")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    offered = sum(want.values())
    logged = sum(frames.values())
    lost = sum(t["lost"] + t["dropped"] for t in final["venues"].values())
    span = (paused["time_ns"] - first["time_ns"]) / 1e9
    achieved = (_sent(paused) - _sent(first)) / span if span > 0 else 0.0
    sim_cpu = (paused["cpu_s"] - first["cpu_s"]) / max(_sent(paused) - _sent(first), 1) * 1e4
    rec_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / max(got1 - got0, 1) * 1e4
    loss = offered - logged + lost
    behind = max(0, behind_frames) / max(achieved, 1.0)
    return {
        "rate": rate,
        "engine": engine_on,
        "offered": offered,
        "achieved": achieved,
        "captured": logged,
        "loss": loss,
        "gaps": gaps,
        "slow_cuts": sum(t["slow_cuts"] for t in final["venues"].values()),
        "behind": behind,
        "rec_cpu_10k": rec_cpu,
        "sim_cpu_10k": sim_cpu,
        "sim_lag": paused["behind_s"],
        "ok": loss == 0 and gaps == 0 and behind <= MAX_BEHIND_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="25000,50000,60000,70000,80000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--engine", choices=("off", "on", "both"), default="both")
    parser.add_argument("--changes", default="1-8", help="simulator --changes LO-HI")
    parser.add_argument(
        "--trades", type=float, default=TRADES_PER_DEPTH, help="trades per depth message"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per rate (best counts)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    modes = {"off": [False], "on": [True], "both": [True, False]}[args.engine]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"recorder capture rate from xle simulate: {args.seconds:g} s per run, changes "
        f"{args.changes}, {args.trades:g} trades per depth message, {psutil.cpu_count()} cores,"
        f" load average {load}"
    )
    print()
    print(
        "| engine | rate msg/s | offered | achieved msg/s | captured | loss | gaps "
        "| behind (s) | recorder CPU s/10k | simulator CPU s/10k | load 1 min | ok |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    best: dict[bool, float] = {}
    for engine_on in modes:
        for rate in rates:
            for _ in range(args.repeat):
                r = measure(rate, args.seconds, engine_on, args.changes, args.trades)
                if r["ok"]:
                    best[engine_on] = max(best.get(engine_on, 0.0), r["achieved"])
                print(
                    f"| {'on' if engine_on else 'off'} | {rate:,.0f} | {r['offered']:,} | "
                    f"{r['achieved']:,.0f} | {r['captured']:,} | {r['loss']:,} | {r['gaps']} | "
                    f"{r['behind']:.2f} | {r['rec_cpu_10k']:.3f} | {r['sim_cpu_10k']:.3f} | "
                    f"{os.getloadavg()[0]:.2f} | {'yes' if r['ok'] else 'no'} |",
                    flush=True,
                )
    print()
    for engine_on in modes:
        label = "with the engine (xle record)" if engine_on else "capture only (--no-engine)"
        top = best.get(engine_on)
        found = f"{top:,.0f} msg/s offered and captured" if top else "none"
        print(f"highest zero-loss rate, {label}: {found}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end: {load}")


if __name__ == "__main__":
    main()
