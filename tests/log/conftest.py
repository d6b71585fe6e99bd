"""Helpers for the raw-log tests: deterministic records and hand-written log files."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xle.records import RawRecord
from xle.store.layout import RAW_SCHEMA, partition_dir

#: 2021-10-12T00:00:00Z, the date of the real captures.
DAY0 = 1_633_996_800_000_000_000
SECOND = 1_000_000_000
HOUR = 3600 * SECOND


def payload_for(run: str, seq: int) -> bytes:
    """A payload that identifies its record, so a mixed-up row cannot go unnoticed."""
    return json.dumps({"run": run, "seq": seq, "pad": "x" * (seq % 7)}).encode()


def make_records(
    n: int,
    *,
    exchange: str = "binance",
    run: str = "run1",
    start_ns: int = DAY0,
    step_ns: int = 1_000_000,
    conn: int = 0,
    first_seq: int = 0,
    symbols: tuple[str | None, ...] = ("BTCUSDT", "ETHUSDT"),
) -> list[RawRecord]:
    """``n`` records of one run, ``step_ns`` apart, cycling through ``symbols``."""
    out = []
    for i in range(n):
        seq = first_seq + i
        symbol = symbols[i % len(symbols)]
        kind, stream = ("event", "connected") if symbol is None else ("ws", "depth")
        out.append(
            RawRecord(
                start_ns + i * step_ns,
                exchange,
                run,
                conn,
                seq,
                kind,
                stream if symbol is None else f"{symbol.lower()}@depth@100ms",
                symbol,
                payload_for(run, seq),
            )
        )
    return out


def records_table(records: Iterable[RawRecord]) -> pa.Table:
    rows = list(records)
    return pa.table(
        {
            "recv_ns": pa.array([r.recv_ns for r in rows], pa.int64()),
            "run": pa.array([r.run for r in rows], pa.string()).dictionary_encode(),
            "conn": pa.array([r.conn for r in rows], pa.int32()),
            "seq": pa.array([r.seq for r in rows], pa.int64()),
            "kind": pa.array([r.kind for r in rows], pa.string()).dictionary_encode(),
            "stream": pa.array([r.stream for r in rows], pa.string()),
            "symbol": pa.array([r.symbol for r in rows], pa.string()).dictionary_encode(),
            "payload": pa.array([r.payload for r in rows], pa.binary()),
        },
        schema=RAW_SCHEMA,
    )


def write_log_file(
    root: Path, records: list[RawRecord], name: str, *, row_group_size: int | None = None
) -> Path:
    """Write records (all of one exchange and hour) as a log file the way the writer does."""
    directory = partition_dir(root, records[0].exchange, records[0].recv_ns)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    pq.write_table(records_table(records), path, compression="zstd", row_group_size=row_group_size)
    return path


def three_hours_of_files(root: Path) -> list[RawRecord]:
    """Three closed hours of one run, three files each (18,000 records): what a
    compaction merges while a reader is part-way through them."""
    records = []
    for hour in range(3):
        for part in range(3):
            recs = make_records(
                2000,
                run="runA",
                start_ns=DAY0 + hour * HOUR + part * 60 * SECOND,
                first_seq=(hour * 3 + part) * 2000,
                step_ns=SECOND // 100,
            )
            write_log_file(root, recs, f"runA-{hour * 3 + part}.parquet")
            records.extend(recs)
    return records


def write_random_runs(root: Path, rng: random.Random, files: int) -> list[RawRecord]:
    """``files`` runs on random exchanges with clustered timestamps (many ties across
    files) and random row groups: what the horizon merge must put in replay order."""
    written = []
    for index in range(files):
        exchange = rng.choice(["binance", "binanceus", "coinbase"])
        run = f"run{rng.randint(0, 2)}-{index}"
        clock = DAY0 + rng.randint(0, 50)
        recs = []
        for seq in range(rng.randint(1, 60)):
            clock += rng.choice([0, 0, 1, 2, 5])
            recs.extend(make_records(1, exchange=exchange, run=run, start_ns=clock, first_seq=seq))
        write_log_file(root, recs, f"{run}-0.parquet", row_group_size=rng.randint(1, 20))
        written.extend(recs)
    return written


def replay_key(rec: RawRecord) -> tuple[int, str, str, int]:
    return (rec.recv_ns, rec.exchange, rec.run, rec.seq)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"
