"""Generate the benchmark log: realistic Binance + Coinbase depth traffic in the raw-log layout.

Why a generator of its own rather than the simulator: the benchmark needs a fixed,
seeded, million-message log produced in about a minute, with the exact flow the issue
asks for, and it must not move when the simulator's market model is tuned.

The flow, per message (both venues share one latent mid, each with its own noise):

* 5-40 level changes, skewed low (mean about 17.5), concentrated near the touch:
  distances from the best price are exponential with a mean of 12 ticks;
* about 20 % deletions (Binance ``"0.00000000"``, Coinbase ``"0"``), including the
  levels the moving mid runs through;
* about 1,000 live levels a side, kept there by trimming or extending the far end;
* real wire formats: Binance combined-stream ``depthUpdate`` frames with contiguous
  ``U``/``u`` and a REST ``/api/v3/depth`` snapshot first; Coinbase ``l2_data`` with a
  snapshot event first and ``sequence_num`` counting the connection's messages.

Each venue sends one message every 100 ms of record time (the two are interleaved), so
a million messages cover about 14 hours: 14 hourly partitions per exchange, zstd Parquet
with the raw-log schema (docs/design.md, "The raw event log"). The output is cached under
``benchmarks/out/log-<n>-<seed>/`` and reused when it is complete.

    python benchmarks/generate.py [--messages 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from bisect import bisect_left, insort
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from xle.store.layout import HOUR_NS, RAW_SCHEMA

OUT = Path(__file__).resolve().parent / "out"
START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
STEP_NS = 100_000_000  # each venue: one message per 100 ms
LEVELS = 1000
RUN = "bench-run"

SCHEMA = RAW_SCHEMA  # the raw log layout, from the project itself


class _Side:
    """One side of a generated book: integer ticks -> integer units of 1e-8."""

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, int] = {}
        self.ticks: list[int] = []  # ascending

    def best(self) -> int:
        return self.ticks[-1] if self.is_bid else self.ticks[0]

    def at_rank(self, rank: int) -> int:
        rank = min(rank, len(self.ticks) - 1)
        return self.ticks[-1 - rank] if self.is_bid else self.ticks[rank]

    def set(self, tick: int, units: int, changes: dict[int, int]) -> None:
        if tick not in self.levels:
            insort(self.ticks, tick)
        self.levels[tick] = units
        changes[tick] = units

    def delete(self, tick: int, changes: dict[int, int]) -> None:
        if self.levels.pop(tick, None) is not None:
            del self.ticks[bisect_left(self.ticks, tick)]
            changes[tick] = 0


class _VenueBook:
    """A venue's true book and the messages that change it."""

    def __init__(self, rng: random.Random, mid: int) -> None:
        self.rng = rng
        self.bids = _Side(True)
        self.asks = _Side(False)
        scratch: dict[int, int] = {}
        for d in range(LEVELS):
            self.bids.set(mid - 1 - d, self._units(d), scratch)
            self.asks.set(mid + 1 + d, self._units(d), scratch)

    def _units(self, distance: int) -> int:
        rng = self.rng
        lots = 1 + int(rng.expovariate(1.0 / (20 + distance)))
        return lots * rng.choice((100_000, 1_000_000, 12_345_678, 50_000))

    def step(self, mid: int) -> tuple[dict[int, int], dict[int, int]]:
        rng = self.rng
        bids, asks = self.bids, self.asks
        bid_ch: dict[int, int] = {}
        ask_ch: dict[int, int] = {}
        # Levels the mid ran through are gone.
        while bids.ticks and bids.best() >= mid:
            bids.delete(bids.best(), bid_ch)
        while asks.ticks and asks.best() <= mid:
            asks.delete(asks.best(), ask_ch)
        n = 5 + min(35, int(rng.expovariate(1.0 / 21.0)))
        for _ in range(n - len(bid_ch) - len(ask_ch)):
            side, changes, sign = (bids, bid_ch, -1) if rng.random() < 0.5 else (asks, ask_ch, 1)
            if rng.random() < 0.17:
                side.delete(side.at_rank(int(rng.expovariate(1.0 / 12.0))), changes)
            else:
                distance = 1 + int(rng.expovariate(1.0 / 12.0))
                side.set(mid + sign * distance, self._units(distance), changes)
        for side, changes, sign in ((bids, bid_ch, -1), (asks, ask_ch, 1)):
            if not side.ticks:
                side.set(mid + sign, self._units(1), changes)
            while len(side.ticks) > LEVELS + 20:
                side.delete(side.ticks[0] if side.is_bid else side.ticks[-1], changes)
            if len(side.ticks) < LEVELS - 20:
                far = side.ticks[0] - 1 if side.is_bid else side.ticks[-1] + 1
                side.set(far, self._units(LEVELS), changes)
        return bid_ch, ask_ch


def _bn_price(tick: int) -> str:
    return f"{tick // 100}.{tick % 100:02d}000000"


def _bn_qty(units: int) -> str:
    return f"{units // 100_000_000}.{units % 100_000_000:08d}"


def _cb_price(tick: int) -> str:
    cents = tick % 100
    if cents == 0:
        return str(tick // 100)
    return f"{tick // 100}.{cents:02d}".rstrip("0")


def _cb_qty(units: int) -> str:
    if units == 0:
        return "0"
    whole, frac = divmod(units, 100_000_000)
    text = f"{whole}.{frac:08d}".rstrip("0")
    return text.rstrip(".")


def _binance_depth(symbol: str, first: int, last: int, ms: int, bid_ch, ask_ch) -> bytes:
    bids = ",".join(f'["{_bn_price(t)}","{_bn_qty(u)}"]' for t, u in bid_ch.items())
    asks = ",".join(f'["{_bn_price(t)}","{_bn_qty(u)}"]' for t, u in ask_ch.items())
    stream = f"{symbol.lower()}@depth@100ms"
    return (
        f'{{"stream":"{stream}","data":{{"e":"depthUpdate","E":{ms},"s":"{symbol}",'
        f'"U":{first},"u":{last},"b":[{bids}],"a":[{asks}]}}}}'
    ).encode()


def _coinbase_l2(product: str, seq: int, kind: str, stamp: str, bid_ch, ask_ch) -> bytes:
    parts = [
        f'{{"side":"bid","event_time":"{stamp}","price_level":"{_cb_price(t)}",'
        f'"new_quantity":"{_cb_qty(u)}"}}'
        for t, u in bid_ch.items()
    ]
    parts += [
        f'{{"side":"offer","event_time":"{stamp}","price_level":"{_cb_price(t)}",'
        f'"new_quantity":"{_cb_qty(u)}"}}'
        for t, u in ask_ch.items()
    ]
    return (
        f'{{"channel":"l2_data","client_id":"","timestamp":"{stamp}","sequence_num":{seq},'
        f'"events":[{{"type":"{kind}","product_id":"{product}","updates":[{",".join(parts)}]}}]}}'
    ).encode()


def _stamp(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class _Partitions:
    """Rows buffered per (exchange, hour), flushed as one zstd Parquet file per hour.

    ``open_hours`` hours stay buffered: with two, a snapshot just before the hour may
    follow a message of the next hour on the other venue (``benchmarks/fanout.py``).
    """

    def __init__(self, root: Path, run: str = RUN, open_hours: int = 1) -> None:
        self.root = root
        self.run = run
        self.open_hours = open_hours
        self.rows: dict[tuple[str, int], dict[str, list]] = {}

    def add(self, exchange: str, recv_ns: int, seq: int, kind: str, stream: str, symbol,
            payload, conn: int = 0) -> None:  # fmt: skip
        key = (exchange, recv_ns // HOUR_NS)
        cols = self.rows.get(key)
        if cols is None:
            for old in [k for k in self.rows if k[1] <= key[1] - self.open_hours]:
                self._write(old, self.rows.pop(old))
            cols = self.rows[key] = {name: [] for name in SCHEMA.names}
        cols["recv_ns"].append(recv_ns)
        cols["run"].append(self.run)
        cols["conn"].append(conn)
        cols["seq"].append(seq)
        cols["kind"].append(kind)
        cols["stream"].append(stream)
        cols["symbol"].append(symbol)
        cols["payload"].append(payload)

    def close(self) -> None:
        for key in list(self.rows):
            self._write(key, self.rows.pop(key))

    def _write(self, key: tuple[str, int], cols: dict[str, list]) -> None:
        exchange, hour = key
        moment = time.gmtime(hour * 3600)
        directory = (
            self.root
            / "raw"
            / f"exchange={exchange}"
            / time.strftime("date=%Y-%m-%d", moment)
            / f"hour={moment.tm_hour:02d}"
        )
        directory.mkdir(parents=True, exist_ok=True)
        table = pa.table(cols, schema=SCHEMA)
        pq.write_table(table, directory / f"{self.run}-0.parquet", compression="zstd")


def generate(root: Path, messages: int, seed: int) -> dict[str, int]:
    """Write ``messages`` depth messages (half per venue) under ``root``; return counts."""
    rng = random.Random(seed)
    mid = 4_300_000  # ticks of 0.01: 43,000.00
    venues = {
        "binance": _VenueBook(random.Random(seed * 31 + 1), mid),
        "coinbase": _VenueBook(random.Random(seed * 31 + 2), mid),
    }
    parts = _Partitions(root)
    stats = {"messages": 0, "level_updates": 0, "deletions": 0}
    seq = 0
    update_id = 1_000_000_000
    cb_seq = 0
    t = START_NS
    # The first records: Binance REST snapshot, Coinbase snapshot event.
    for exchange, book in venues.items():
        bid_levels = {tk: book.bids.levels[tk] for tk in reversed(book.bids.ticks)}
        ask_levels = {tk: book.asks.levels[tk] for tk in book.asks.ticks}
        if exchange == "binance":
            body = {
                "lastUpdateId": update_id,
                "bids": [[_bn_price(tk), _bn_qty(u)] for tk, u in bid_levels.items()],
                "asks": [[_bn_price(tk), _bn_qty(u)] for tk, u in ask_levels.items()],
            }
            payload = json.dumps(body, separators=(",", ":")).encode()
            stream = "/api/v3/depth?symbol=BTCUSDT&limit=1000"
            parts.add(exchange, t, seq, "rest", stream, "BTCUSDT", payload)
        else:
            payload = _coinbase_l2("BTC-USD", cb_seq, "snapshot", _stamp(t), bid_levels, ask_levels)
            parts.add(exchange, t, seq, "ws", "level2", "BTC-USD", payload)
            cb_seq += 1
        seq += 1
        t += 1_000_000
    for i in range(messages):
        exchange = "binance" if i % 2 == 0 else "coinbase"
        if exchange == "binance":
            r = rng.random()
            if r < 0.3:
                mid += 1 if r < 0.15 else -1
        t = START_NS + STEP_NS + (i // 2) * STEP_NS + (i % 2) * (STEP_NS // 2)
        noise = rng.choice((-1, 0, 0, 0, 1)) if exchange == "coinbase" else 0
        bid_ch, ask_ch = venues[exchange].step(mid + noise)
        n = len(bid_ch) + len(ask_ch)
        stats["messages"] += 1
        stats["level_updates"] += n
        stats["deletions"] += sum(1 for u in bid_ch.values() if u == 0)
        stats["deletions"] += sum(1 for u in ask_ch.values() if u == 0)
        if exchange == "binance":
            first = update_id + 1
            update_id += n
            payload = _binance_depth("BTCUSDT", first, update_id, t // 1_000_000, bid_ch, ask_ch)
            parts.add(exchange, t, seq, "ws", "btcusdt@depth@100ms", "BTCUSDT", payload)
        else:
            payload = _coinbase_l2("BTC-USD", cb_seq, "update", _stamp(t), bid_ch, ask_ch)
            parts.add(exchange, t, seq, "ws", "level2", "BTC-USD", payload)
            cb_seq += 1
        seq += 1
    parts.close()
    return stats


def ensure_log(messages: int = 1_000_000, seed: int = 7, *, quiet: bool = False) -> Path:
    """The cached log root for ``messages``/``seed``, generating it when missing."""
    root = OUT / f"log-{messages}-{seed}"
    done = root / "stats.json"
    if done.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    started = time.perf_counter()
    stats = generate(root, messages, seed)
    stats["seconds"] = round(time.perf_counter() - started, 1)
    done.write_text(json.dumps(stats, indent=1))
    if not quiet:
        print(f"generated {root} in {stats['seconds']} s: {stats}")
    return root


def log_stats(root: Path) -> dict[str, int]:
    return json.loads((root / "stats.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    root = ensure_log(args.messages, args.seed)
    print(root, log_stats(root))


if __name__ == "__main__":
    main()
