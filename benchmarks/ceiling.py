"""``ceiling``: the same log through Parquet read alone and decode alone.

What no replay can beat on this machine, whatever the engine does:

* Parquet read: every file's ``iter_batches`` (zstd decompression into Arrow, no Python
  objects), then the same read turned into ``RawRecord`` objects in replay order (the
  benchmark's minimal reader from ``stages.py``);
* decode: every payload through the fastest decoder the project has (the compiled
  parsers when built), and through the msgspec typed decoders for comparison. Payloads
  are loaded a file at a time and only the decode loop is timed.

    python benchmarks/ceiling.py [--messages 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import ensure_log, log_stats
from stages import BATCH_ROWS, fastest_decoders, read_records

from xle.exchanges import binance, coinbase


def _files(root: Path, exchange: str | None = None) -> list[Path]:
    pattern = f"exchange={exchange or '*'}/date=*/hour=*/*.parquet"
    return sorted((root / "raw").glob(pattern))


def arrow_read(root: Path) -> tuple[float, int, int]:
    """(seconds, rows, payload bytes) of reading every file into Arrow batches."""
    rows = nbytes = 0
    started = time.perf_counter()
    for path in _files(root):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            rows += batch.num_rows
            nbytes += batch.column(7).nbytes
    return time.perf_counter() - started, rows, nbytes


def record_read(root: Path) -> tuple[float, int]:
    started = time.perf_counter()
    n = sum(1 for _ in read_records(root))
    return time.perf_counter() - started, n


def decode_only(root: Path, exchange: str, decode) -> tuple[float, int]:
    """Seconds spent in ``decode`` over every ``ws`` payload of one exchange."""
    seconds = 0.0
    n = 0
    for path in _files(root, exchange):
        table = pq.read_table(path, columns=["kind", "payload"])
        kinds = table.column("kind").to_pylist()
        payloads = [
            p for k, p in zip(kinds, table.column("payload").to_pylist(), strict=True) if k == "ws"
        ]
        started = time.perf_counter()
        for payload in payloads:
            decode(payload)
        seconds += time.perf_counter() - started
        n += len(payloads)
    return seconds, n


def run(messages: int = 1_000_000, seed: int = 7) -> dict[str, object]:
    root = ensure_log(messages, seed)
    stats = log_stats(root)
    arrow_s, rows, nbytes = arrow_read(root)
    records_s, n_records = record_read(root)
    fast_depth, fast_l2, fastest = fastest_decoders()
    result: dict[str, object] = {
        "messages": stats["messages"],
        "level_updates": stats["level_updates"],
        "arrow_read_msgs_per_s": rows / arrow_s,
        "arrow_read_mb_per_s": nbytes / arrow_s / 1e6,
        "record_read_msgs_per_s": n_records / records_s,
        "fastest_decoder": fastest,
    }
    for name, depth, l2 in (
        (fastest, fast_depth, fast_l2),
        ("msgspec", binance._depth_combined.decode, coinbase._decoder.decode),
    ):
        bn_s, bn_n = decode_only(root, "binance", depth)
        cb_s, cb_n = decode_only(root, "coinbase", l2)
        result[f"decode_{name}"] = {
            "binance_msgs_per_s": bn_n / bn_s,
            "coinbase_msgs_per_s": cb_n / cb_s,
            "msgs_per_s": (bn_n + cb_n) / (bn_s + cb_s),
            "level_updates_per_s": stats["level_updates"] / (bn_s + cb_s),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(run(args.messages), indent=1))


if __name__ == "__main__":
    main()
