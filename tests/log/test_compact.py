"""Compaction merges a closed hour's files without changing a single row."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from xle.errors import DataError, UsageError
from xle.records import RawRecord
from xle.store.compact import compact, compact_hour
from xle.store.layout import is_log_file, partition_dir, partition_of
from xle.store.reader import read_records

from .conftest import (
    DAY0,
    HOUR,
    SECOND,
    make_records,
    replay_key,
    three_hours_of_files,
    write_log_file,
)


def rows_of(paths: list[Path]) -> Counter:
    """Every row of the files as plain tuples: the multiset compaction must preserve."""
    rows: Counter = Counter()
    for path in paths:
        table = pq.read_table(path)
        rows.update(zip(*(table.column(n).to_pylist() for n in table.column_names), strict=True))
    return rows


def hour_files(root: Path, exchange: str = "binance", at: int = DAY0) -> list[Path]:
    directory = partition_dir(root, exchange, at)
    return sorted(p for p in directory.iterdir() if is_log_file(p))


def awkward_hour(root: Path) -> list[RawRecord]:
    """Overlapping runs, ties, null symbols, empty and non-UTF-8 payloads, a duplicate row."""
    a = make_records(3000, run="runA", step_ns=SECOND // 1000, symbols=("BTCUSDT", None))
    b = make_records(2000, run="runB", start_ns=DAY0 + 3, step_ns=SECOND // 700)
    odd = [
        RawRecord(DAY0 + 5, "binance", "runC", 1, 0, "rest", "/api/v3/depth", "BTCUSDT", b""),
        RawRecord(DAY0 + 5, "binance", "runC", 1, 1, "ws", "x", None, bytes(range(256))),
    ]
    write_log_file(root, a[:1000], "runA-0.parquet")
    write_log_file(root, a[1000:], "runA-1.parquet", row_group_size=333)
    write_log_file(root, b, "runB-0.parquet")
    write_log_file(root, odd, "runC-0.parquet")
    write_log_file(root, odd[:1], "runC-1.parquet")  # the same row twice in the hour
    return a + b + odd + odd[:1]


def test_compaction_preserves_the_multiset_of_rows_exactly(root: Path):
    awkward_hour(root)
    before = rows_of(hour_files(root))
    result = compact_hour(root, "binance", "2021-10-12", 0)
    assert result.output is not None and hour_files(root) == [result.output]
    assert rows_of([result.output]) == before
    assert result.rows == sum(before.values())


def test_compacted_file_is_in_replay_order(root: Path):
    records = awkward_hour(root)
    compact_hour(root, "binance", "2021-10-12", "00")
    assert list(read_records(root).records()) == sorted(records, key=replay_key)
    (path,) = hour_files(root)
    recv = pq.read_table(path, columns=["recv_ns"]).column("recv_ns").to_pylist()
    assert recv == sorted(recv)


def test_compacted_file_keeps_the_raw_schema_and_zstd(root: Path):
    awkward_hour(root)
    result = compact_hour(root, "binance", "2021-10-12", 0)
    original = pq.ParquetFile(write_log_file(root.parent / "x", make_records(1), "r.parquet"))
    merged = pq.ParquetFile(result.output)
    assert merged.schema_arrow.remove_metadata().equals(original.schema_arrow.remove_metadata())
    assert merged.metadata.row_group(0).column(7).compression == "ZSTD"


def test_the_current_hour_is_refused(root: Path):
    now = time.time_ns()
    write_log_file(root, make_records(5, start_ns=now - 10), "r-0.parquet")
    partition = partition_of("binance", now)
    with pytest.raises(UsageError, match="still open"):
        compact_hour(root, "binance", partition.date, partition.hour)


def test_an_hour_that_ended_within_the_grace_period_is_refused(root: Path):
    write_log_file(root, make_records(5), "r-0.parquet")
    with pytest.raises(UsageError):
        compact_hour(root, "binance", "2021-10-12", 0, now_ns=DAY0 + HOUR + SECOND)
    result = compact_hour(root, "binance", "2021-10-12", 0, now_ns=DAY0 + 2 * HOUR)
    assert result.output is None  # a single file: nothing to merge


def test_a_failed_merge_leaves_the_originals_untouched(root: Path):
    write_log_file(root, make_records(100), "a-0.parquet")
    bad = write_log_file(root, make_records(100, run="b"), "b-0.parquet")
    bad.write_bytes(bad.read_bytes()[:-50])
    before = {p.name: p.read_bytes() for p in hour_files(root)}
    with pytest.raises(DataError, match=r"b-0\.parquet"):
        compact_hour(root, "binance", "2021-10-12", 0)
    directory = partition_dir(root, "binance", DAY0)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before  # no temp left


def test_originals_left_by_an_interrupted_compaction_are_read_once_and_cleaned_up(
    root: Path, tmp_path: Path
):
    records = awkward_hour(root)
    saved = tmp_path / "originals"
    saved.mkdir()
    for path in hour_files(root):
        shutil.copy(path, saved / path.name)
    result = compact_hour(root, "binance", "2021-10-12", 0)
    for path in saved.iterdir():  # crash between the rename and the deletes
        shutil.copy(path, result.output.parent / path.name)
    assert list(read_records(root).records()) == sorted(records, key=replay_key)
    assert read_records(root).files() == [result.output]
    again = compact_hour(root, "binance", "2021-10-12", 0)
    assert again.removed_leftovers == 5
    assert hour_files(root) == [result.output]


def test_a_file_recovered_again_after_compaction_is_not_read_twice(root: Path):
    first = make_records(50, run="runA")
    second = make_records(50, run="runA", first_seq=50, start_ns=DAY0 + SECOND)
    write_log_file(root, first, "runA-0.parquet")
    write_log_file(root, second, "runA-1.parquet")
    compact_hour(root, "binance", "2021-10-12", 0)
    write_log_file(root, first, "runA-0.parquet")  # a journal converted a second time
    assert list(read_records(root).records()) == first + second
    compact_hour(root, "binance", "2021-10-12", 0)
    assert [p.name for p in hour_files(root)] == ["compacted-1.parquet"]


def test_recompacting_merges_new_files_with_the_compacted_one(root: Path):
    old = make_records(30, run="runA")
    write_log_file(root, old[:15], "runA-0.parquet")
    write_log_file(root, old[15:], "runA-1.parquet")
    compact_hour(root, "binance", "2021-10-12", 0)
    late = make_records(10, run="runB", start_ns=DAY0 + 3)
    write_log_file(root, late, "runB-0.parquet")
    result = compact_hour(root, "binance", "2021-10-12", 0)
    assert result.output.name == "compacted-2.parquet"
    write_log_file(root, old[:15], "runA-0.parquet")  # still known as merged, transitively
    assert list(read_records(root).records()) == sorted(old + late, key=replay_key)


def test_a_replay_running_during_compaction_reads_every_record_once(root: Path):
    records = three_hours_of_files(root)
    reader = iter(read_records(root, batch_size=500).records())
    got = [next(reader) for _ in range(1000)]  # part-way through hour 0
    for hour in range(3):
        compact_hour(root, "binance", "2021-10-12", hour)
    got.extend(reader)
    assert got == records


def test_compact_handles_every_closed_hour_and_reports_them(root: Path):
    for hour in range(3):
        for exchange in ("binance", "coinbase"):
            start = DAY0 + hour * HOUR
            write_log_file(root, make_records(10, exchange=exchange, start_ns=start), "a-0.parquet")
            write_log_file(
                root, make_records(10, exchange=exchange, run="b", start_ns=start), "b-0.parquet"
            )
    summary = compact(root, exchange="binance", before_ns=DAY0 + 2 * HOUR)
    assert [r.partition.hour for r in summary.compacted] == [0, 1]
    assert all(r.partition.exchange == "binance" for r in summary.results)
    assert "2 hours compacted (4 files, 40 rows)" in str(summary)
    assert len(hour_files(root, "coinbase")) == 2
    assert len(compact(root).compacted) == 4


def test_compact_skips_an_hour_with_an_unreadable_file_and_goes_on(root: Path):
    for hour in range(2):
        start = DAY0 + hour * HOUR
        write_log_file(root, make_records(10, start_ns=start), "a-0.parquet")
        write_log_file(root, make_records(10, run="b", start_ns=start), "b-0.parquet")
    (hour_files(root)[0]).write_bytes(b"junk")
    summary = compact(root)
    assert [r.partition.hour for r in summary.compacted] == [1]
    assert [p.hour for p, _ in summary.skipped] == [0]
