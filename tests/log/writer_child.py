"""A recorder stand-in for the crash tests: a real LogWriter fed at a steady rate.

    python writer_child.py ROOT RUN RATE FLUSH ROLL [LIMIT] [--exit-after-flush]
                           [--flush-every N]

Appends records (recv_ns = wall clock at append, payload = b"<run>:<seq>") and prints
``seq recv_ns`` after every 50th append so the parent knows what was appended when.
With LIMIT it stops after that many records; ``--exit-after-flush`` then flushes and
leaves with ``os._exit`` (a crash that left a complete journal behind). With
``--flush-every N`` it also flushes after every N appends (one journal batch each).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from xle.records import RawRecord
from xle.store.writer import LogWriter


def main() -> None:
    root, run = Path(sys.argv[1]), sys.argv[2]
    rate, flush, roll = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    limit = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6].isdigit() else None
    crash = "--exit-after-flush" in sys.argv
    every = int(sys.argv[sys.argv.index("--flush-every") + 1]) if "--flush-every" in sys.argv else 0
    writer = LogWriter(root, run, roll_seconds=roll, flush_seconds=flush)
    exchanges = ("binance", "coinbase")
    seq = 0
    start = time.monotonic()
    print("ready", flush=True)
    while limit is None or seq < limit:
        due = start + seq / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        recv_ns = time.time_ns()
        symbol = "BTCUSDT" if seq % 2 else "BTC-USD"
        writer.append(
            RawRecord(
                recv_ns,
                exchanges[seq % 2],
                run,
                0,
                seq,
                "ws",
                "depth",
                symbol,
                f"{run}:{seq}".encode(),
            )
        )
        if seq % 50 == 0:
            print(seq, recv_ns, flush=True)
        seq += 1
        if every and seq % every == 0:
            writer.flush()
    if crash:
        writer.flush()
        os._exit(0)
    writer.close()


if __name__ == "__main__":
    main()
