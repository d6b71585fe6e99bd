"""Read+merge throughput of ``read_records``, printed, never asserted.

    .venv/bin/python -m tests.log.bench_reader [N]

Writes N synthetic depth updates (~640 B JSON payloads, like the baseline) with the real
LogWriter into a temporary data root, then times iterating ``read_records(...).records()``
over one exchange (a single file stream) and over two exchanges interleaved (the merge
path).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from xle.records import RawRecord
from xle.store.reader import read_records
from xle.store.writer import LogWriter

DAY0 = 1_633_996_800_000_000_000


def payload(rng: random.Random, i: int) -> bytes:
    levels = b",".join(
        b'["%d.%08d","%d.00000000"]' % (rng.randint(40000, 43000), i % 10**8, rng.randint(1, 99))
        for _ in range(17)
    )
    head = b'{"e":"depthUpdate","E":%d,"s":"BTCUSDT","U":%d,"u":%d,"b":[' % (i, i, i)
    return head + levels + b'],"a":[]}'


def write(root: Path, n: int) -> None:
    rng = random.Random(7)
    with LogWriter(root, "bench", roll_seconds=3600, flush_seconds=3600) as writer:
        for i in range(n):
            exchange = "binance" if i % 2 else "coinbase"
            writer.append(
                RawRecord(
                    DAY0 + i * 10_000,
                    exchange,
                    "bench",
                    0,
                    i,
                    "ws",
                    "btcusdt@depth@100ms",
                    "BTCUSDT",
                    payload(rng, i),
                )
            )


def best_of(label: str, runs: int, make_reader) -> None:
    best = float("inf")
    count = 0
    for _ in range(runs):
        start = time.perf_counter()
        count = 0
        for _rec in make_reader():
            count += 1
        best = min(best, time.perf_counter() - start)
    print(f"{label:<36} {count:>9,} records  {count / best / 1e6:5.2f} M records/s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        write(root, n)
        size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        print(f"wrote {n:,} records, {size / 1e6:.1f} MB, in {time.perf_counter() - start:.1f} s")
        best_of(
            "one exchange (single stream)",
            5,
            lambda: read_records(root, exchanges=["binance"]).records(),
        )
        best_of("two exchanges (merged)", 5, lambda: read_records(root).records())


if __name__ == "__main__":
    main()
