"""Reading a long log keeps memory flat: it depends on batch size, not on log length."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xle.store.layout import RAW_SCHEMA, partition_dir

from .conftest import DAY0, HOUR

ROWS_PER_FILE = 10_000
HOURS = 10
PAYLOAD_BYTES = 2_000  # random, so zstd cannot shrink it: the file is as big as the data

#: Runs in a fresh interpreter so nothing else in the test process moves its RSS.
MEASURE = """
import json, sys
import psutil
from pathlib import Path
from xle.store.reader import read_records
from xle.store.layout import HOUR_NS

root, first_hour_end = Path(sys.argv[1]), int(sys.argv[2])
proc = psutil.Process()
base = proc.memory_info().rss

def peak(reader):
    top, count = 0, 0
    for chunk in reader.chunks():
        count += len(chunk)
        top = max(top, proc.memory_info().rss)
    return top - base, count

one_hour, n1 = peak(read_records(root, end_ns=first_hour_end - 1))
everything, n2 = peak(read_records(root))
print(json.dumps({"one_hour": one_hour, "everything": everything, "n1": n1, "n2": n2}))
"""


def write_random_hour(root: Path, exchange: str, hour: int) -> int:
    """One log file of random payloads, built from Arrow buffers (no Python objects)."""
    start = DAY0 + hour * HOUR
    n = ROWS_PER_FILE
    offsets = pa.array(range(0, (n + 1) * PAYLOAD_BYTES, PAYLOAD_BYTES), pa.int32())
    data = pa.py_buffer(os.urandom(n * PAYLOAD_BYTES))
    payload = pa.Array.from_buffers(pa.binary(), n, [None, offsets.buffers()[1], data])

    def constant(value: str) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()).fill_null(0), [value])

    table = pa.table(
        {
            "recv_ns": pa.array(range(start, start + n * 300_000_000, 300_000_000), pa.int64()),
            "run": constant("run1"),
            "conn": pa.nulls(n, pa.int32()).fill_null(0),
            "seq": pa.array(range(n), pa.int64()),
            "kind": constant("ws"),
            "stream": pa.array(["btcusdt@depth@100ms"] * n, pa.string()),
            "symbol": constant("BTCUSDT"),
            "payload": payload,
        },
        schema=RAW_SCHEMA,
    )
    directory = partition_dir(root, exchange, start)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "run1-0.parquet"
    pq.write_table(table, path, compression="zstd", row_group_size=5_000)
    return path.stat().st_size


@pytest.fixture(scope="module")
def long_log(tmp_path_factory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("long") / "data"
    size = 0
    for hour in range(HOURS):
        for exchange in ("binance", "coinbase"):
            size += write_random_hour(root, exchange, hour)
    return root, size


def test_memory_stays_flat_over_a_long_log(long_log):
    root, size = long_log
    assert size > 380e6
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(root), str(DAY0 + HOUR)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(out.stdout)
    assert result["n2"] == HOURS * result["n1"] == 2 * HOURS * ROWS_PER_FILE
    # Ten times the data needs no more memory than one hour of it (plus allocator slack),
    # and far less than the log itself.
    assert result["everything"] - result["one_hour"] < 48e6
    assert result["everything"] < 0.6 * size
