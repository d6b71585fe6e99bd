"""The log layout is what DuckDB's hive partitioning expects (the ``raw`` view relies on it)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from xle.store.paths import raw_dir
from xle.store.writer import LogWriter

from .conftest import DAY0, HOUR, make_records


def test_duckdb_reads_writer_output_with_partition_columns(root: Path):
    records = make_records(100, start_ns=DAY0 + HOUR - 50 * 10**6, step_ns=10**6)
    with LogWriter(root, "run1") as writer:
        for rec in records:
            writer.append(rec)
    # A temp file a crashed writer left behind must not be picked up.
    (raw_dir(root) / "exchange=binance" / ".run1-9.parquet.1.tmp").write_bytes(b"partial")
    con = duckdb.connect()
    rows = con.execute(
        f"""
        SELECT exchange, CAST(date AS VARCHAR), CAST(hour AS INTEGER), count(*), min(seq), max(seq)
        FROM read_parquet('{raw_dir(root)}/**/*.parquet', hive_partitioning=true)
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    assert rows == [
        ("binance", "2021-10-12", 0, 50, 0, 49),
        ("binance", "2021-10-12", 1, 50, 50, 99),
    ]
