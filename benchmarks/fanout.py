"""Fan-out: a multi-day replay serial, on 2 worker processes, and on Ray with 2 CPUs.

The log is the speed benchmark's generated depth traffic (``generate.py``'s venue books
and wire formats) stretched over whole UTC days, with what a sharded replay needs and a
real recorder produces: a fresh snapshot every ``--snapshot-every`` (a Binance REST
depth snapshot, a Coinbase reconnect with its ``l2_data`` snapshot), so that a shard
warm-starts from a recent snapshot rather than from the start of the log. Coinbase's
mid drifts away from Binance's for a few minutes around every UTC midnight (and at
noon), so arbitrage episodes straddle the shard seams, and the engine config has zero
fees so that they open.

Measured: the wall time of ``xle replay`` over the whole log serial, with
``--workers 2`` (process pool) and with ``--cluster ray`` on 2 CPUs (Ray's start-up
excluded: it is paid once per session), the speedups, and whether the three sets of
derived rows are identical.

    python benchmarks/fanout.py            # quick: 2 days, one message a venue every 5 s
    python benchmarks/fanout.py --days 4 --repeat 3  # the README's figures
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import (
    OUT,
    _binance_depth,
    _bn_price,
    _bn_qty,
    _coinbase_l2,
    _Partitions,
    _stamp,
    _VenueBook,
)

from xle.store.layout import HOUR_NS

DAY_NS = 24 * HOUR_NS
START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
RUN = "fanout-run"
REST_STREAM = "/api/v3/depth?symbol=BTCUSDT&limit=1000"


def dislocation(t_ns: int, centers: list[int], width_ns: int, ticks: int) -> int:
    """Coinbase's extra offset in ticks: a triangle of height ``ticks`` around each center."""
    for center in centers:
        gap = abs(t_ns - center)
        if gap < width_ns:
            return round(ticks * (1 - gap / width_ns))
    return 0


def write_log(
    root: Path,
    *,
    start_ns: int = START_NS,
    end_ns: int = START_NS + 2 * DAY_NS,
    step_ns: int = 1_000_000_000,
    snapshot_every_ns: int = 2 * HOUR_NS,
    snapshot_phase_ns: int = 17 * 60 * 1_000_000_000,
    extra_snapshots: tuple[int, ...] = (),
    centers: list[int] | None = None,
    width_ns: int = 6 * 60 * 1_000_000_000,
    ticks: int = 300,
    seed: int = 7,
) -> dict[str, int]:
    """Write Binance BTCUSDT and Coinbase BTC-USD depth traffic from ``start_ns`` to
    ``end_ns`` under ``root``: one message per venue every ``step_ns`` (interleaved), a
    fresh snapshot of both books every ``snapshot_every_ns`` (at ``snapshot_phase_ns``
    past each multiple) and at each of ``extra_snapshots``, and Coinbase dislocated
    upwards around each of ``centers`` (default: every midnight and noon, 90 s late)."""
    if centers is None:
        first_day = start_ns // DAY_NS * DAY_NS
        centers = [
            first_day + k * DAY_NS // 2 + 90_000_000_000
            for k in range(2 * ((end_ns - first_day) // DAY_NS + 2))
        ]
    rng = random.Random(seed)
    mid = 4_300_000
    books = {
        "binance": _VenueBook(random.Random(seed * 31 + 1), mid),
        "coinbase": _VenueBook(random.Random(seed * 31 + 2), mid),
    }
    hours = _Partitions(root, run=RUN, open_hours=2)
    stats = {"messages": 0, "snapshots": 0}
    seq = 0
    update_id = 1_000_000_000
    cb_conn = 0
    cb_seq = 0
    snaps = sorted(
        {
            *range(
                start_ns // snapshot_every_ns * snapshot_every_ns + snapshot_phase_ns,
                end_ns,
                snapshot_every_ns,
            ),
            *extra_snapshots,
        }
    )
    snaps = [s for s in snaps if s > start_ns]

    def snapshot(t: int, first: bool) -> None:
        nonlocal seq, cb_conn, cb_seq
        bn, cb = books["binance"], books["coinbase"]
        body = {
            "lastUpdateId": update_id,
            "bids": [[_bn_price(t), _bn_qty(bn.bids.levels[t])] for t in reversed(bn.bids.ticks)],
            "asks": [[_bn_price(t), _bn_qty(bn.asks.levels[t])] for t in bn.asks.ticks],
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        hours.add("binance", t, seq, "rest", REST_STREAM, "BTCUSDT", payload, conn=0)
        seq += 1
        if not first:
            cb_conn += 1  # Coinbase sends a snapshot on a new connection
            cb_seq = 0
        bids = {tk: cb.bids.levels[tk] for tk in reversed(cb.bids.ticks)}
        asks = {tk: cb.asks.levels[tk] for tk in cb.asks.ticks}
        payload = _coinbase_l2("BTC-USD", cb_seq, "snapshot", _stamp(t + 1), bids, asks)
        hours.add("coinbase", t + 1, seq, "ws", "level2", "BTC-USD", payload, conn=cb_conn)
        cb_seq += 1
        seq += 1
        stats["snapshots"] += 1

    snapshot(start_ns, True)
    t = start_ns + step_ns
    next_snap = 0
    while t <= end_ns:
        while next_snap < len(snaps) and snaps[next_snap] <= t:
            snapshot(t - 2, False)  # just before this step's messages
            next_snap += 1
        r = rng.random()
        if r < 0.3:
            mid += 1 if r < 0.15 else -1
        bid_ch, ask_ch = books["binance"].step(mid)
        first = update_id + 1
        update_id += len(bid_ch) + len(ask_ch)
        payload = _binance_depth("BTCUSDT", first, update_id, t // 1_000_000, bid_ch, ask_ch)
        hours.add("binance", t, seq, "ws", "btcusdt@depth@100ms", "BTCUSDT", payload, conn=0)
        seq += 1
        tc = t + step_ns // 2
        noise = rng.choice((-1, 0, 0, 0, 1)) + dislocation(tc, centers, width_ns, ticks)
        bid_ch, ask_ch = books["coinbase"].step(mid + noise)
        payload = _coinbase_l2("BTC-USD", cb_seq, "update", _stamp(tc), bid_ch, ask_ch)
        hours.add("coinbase", tc, seq, "ws", "level2", "BTC-USD", payload, conn=cb_conn)
        cb_seq += 1
        seq += 1
        stats["messages"] += 2
        t += step_ns
    hours.close()
    return stats


def zero_fee_config():
    """The default config without fees: the generated dislocations open episodes."""
    from dataclasses import replace

    from xle.config import load_config

    config = load_config()
    return replace(config, fees={}, maker_fees={})


def ensure_log(days: int, step_ns: int, seed: int = 7) -> Path:
    root = OUT / f"fanout-{days}d-{step_ns // 1_000_000}ms-{seed}"
    done = root / "stats.json"
    if done.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    started = time.perf_counter()
    stats = write_log(root, end_ns=START_NS + days * DAY_NS - 1, step_ns=step_ns, seed=seed)
    stats["seconds"] = round(time.perf_counter() - started, 1)
    done.write_text(json.dumps(stats, indent=1))
    print(f"generated {root} in {stats['seconds']} s: {stats}")
    return root


def derived_rows(root: Path) -> dict[str, list[tuple]]:
    """Every derived row, sorted: what 'identical outputs' compares."""
    from xle.store.views import connect

    con = connect(root)
    tables = {}
    for table in ("quotes", "arbitrage", "integrity"):
        try:
            rows = con.execute(f"SELECT * EXCLUDE (vwap) FROM {table}" if table == "quotes"
                               else f"SELECT * FROM {table}").fetchall()  # fmt: skip
        except Exception:  # a table no replay wrote
            rows = []
        tables[table] = sorted(rows, key=repr)
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--step-ms", type=int, default=None, help="default: 1000 (5000 quick)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="best of N passes of each mode")
    args = parser.parse_args()
    step_ms = args.step_ms or (1000 if args.days >= 4 else 5000)
    source = ensure_log(args.days, step_ms * 1_000_000)

    from xle.replay.fanout import fanout_replay
    from xle.replay.session import run_replay
    from xle.store.derived import Scope

    config = zero_fee_config()
    scope = Scope(START_NS, START_NS + args.days * DAY_NS - 1)
    modes = {
        "serial": lambda root: run_replay(root, scope, config),
        "workers": lambda root: fanout_replay(root, scope, config, workers=args.workers),
    }
    if not args.no_ray:
        import ray

        modes["ray"] = lambda root: fanout_replay(root, scope, config, cluster="ray")
    times: dict[str, list[float]] = {name: [] for name in modes}
    rows: dict[str, dict[str, list[tuple]]] = {}
    # Rounds of every mode in turn: on a shared machine each round sees about the same
    # load, so round-by-round ratios compare like with like. Ray is started before its
    # pass and stopped after it (its idle daemons would tax the other modes); its
    # start-up is not timed, its workers' first imports are (as the process pool's are).
    for _ in range(args.repeat):
        for name, call in modes.items():
            work = OUT / f"fanout-work-{name}"
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            (work / "raw").symlink_to(source / "raw")
            if name == "ray":
                ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
            try:
                started = time.perf_counter()
                summary = call(work)
                seconds = time.perf_counter() - started
            finally:
                if name == "ray":
                    ray.shutdown()
            times[name].append(seconds)
            print(f"{name:>8}: {seconds:6.1f} s  {summary.records:,} records,"
                  f" {summary.quotes:,} quotes, {summary.episodes_closed:,} episodes closed",
                  flush=True)  # fmt: skip
            rows[name] = derived_rows(work)
            shutil.rmtree(work)
    print(f"{platform.machine()}: {args.days} days, one message a venue every {step_ms} ms")
    serial = min(times["serial"])
    for name, seconds in times.items():
        same = rows[name] == rows["serial"]
        counts = ", ".join(f"{t} {len(r):,}" for t, r in rows[name].items())
        ratios = sorted(a / b for a, b in zip(times["serial"], seconds, strict=True))
        print(f"{name:>8}: best {min(seconds):5.1f} s  speedup {serial / min(seconds):4.2f}x"
              f" (per round {ratios[0]:.2f}-{ratios[-1]:.2f}x)  identical to serial: {same}"
              f"  ({counts})")  # fmt: skip


if __name__ == "__main__":
    main()
