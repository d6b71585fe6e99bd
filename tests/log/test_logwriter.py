"""LogWriter: journal, rolls, partitions, atomic files, recovery.

See docs/design.md, "The raw event log".
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from xle.errors import DataError
from xle.store.layout import is_log_file, parse_partition
from xle.store.paths import journal_dir, raw_dir
from xle.store.reader import read_records
from xle.store.writer import LogWriter, read_journal

from .conftest import DAY0, HOUR, SECOND, make_records, replay_key

CHILD = Path(__file__).with_name("writer_child.py")


def parquet_files(root: Path) -> list[Path]:
    return sorted(p for p in raw_dir(root).rglob("*.parquet") if is_log_file(p))


def journal_files(root: Path) -> list[Path]:
    return sorted(journal_dir(root).glob("*.arrow"))


def run_child(root: Path, run: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHILD), str(root), run, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_round_trip_returns_exactly_the_appended_records(root: Path):
    records = []
    for i, rec in enumerate(make_records(3000, symbols=("BTCUSDT", None, "ETHUSDT"))):
        records.append(rec if i % 3 else rec.__replace__(exchange="coinbase"))
    with LogWriter(root, "run1") as writer:
        for rec in records:
            writer.append(rec)
    assert list(read_records(root).records()) == records


def test_one_file_per_partition_touched_named_run_and_number(root: Path):
    records = make_records(40, start_ns=DAY0 + HOUR - 20 * SECOND, step_ns=SECOND)
    records = [r.__replace__(exchange=("binance", "coinbase")[r.seq % 2]) for r in records]
    with LogWriter(root, "run1") as writer:
        for rec in records:
            writer.append(rec)
    relative = [p.relative_to(raw_dir(root)).as_posix() for p in parquet_files(root)]
    assert relative == [
        "exchange=binance/date=2021-10-12/hour=00/run1-0.parquet",
        "exchange=binance/date=2021-10-12/hour=01/run1-0.parquet",
        "exchange=coinbase/date=2021-10-12/hour=00/run1-0.parquet",
        "exchange=coinbase/date=2021-10-12/hour=01/run1-0.parquet",
    ]


def test_every_row_sits_in_the_partition_of_its_exchange_and_hour(root: Path):
    records = make_records(200, start_ns=DAY0 + HOUR - 50 * SECOND, step_ns=SECOND // 2)
    records = [r.__replace__(exchange=("binance", "binanceus")[r.seq % 2]) for r in records]
    with LogWriter(root, "run1") as writer:
        for rec in records:
            writer.append(rec)
    for path in parquet_files(root):
        partition = parse_partition(path)
        recv = pq.read_table(path, columns=["recv_ns"]).column("recv_ns").to_pylist()
        assert all(partition.start_ns <= ns < partition.end_ns for ns in recv)
    seen = {(r.exchange, r.seq) for r in read_records(root).records()}
    assert seen == {(r.exchange, r.seq) for r in records}


def test_files_are_zstd_parquet_in_the_raw_schema(root: Path):
    with LogWriter(root, "run1") as writer:
        for rec in make_records(10):
            writer.append(rec)
    (path,) = parquet_files(root)
    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert pq.ParquetFile(path).schema_arrow.names == [
        "recv_ns",
        "run",
        "conn",
        "seq",
        "kind",
        "stream",
        "symbol",
        "payload",
    ]


def test_journal_rolls_into_parquet_every_roll_seconds_while_open(root: Path):
    writer = LogWriter(root, "run1", roll_seconds=0.2, flush_seconds=0.05)
    try:
        first = make_records(100)
        for rec in first:
            writer.append(rec)
        assert wait_for(lambda: writer.stats.rolled == 100)
        second = make_records(100, first_seq=100, start_ns=DAY0 + SECOND)
        for rec in second:
            writer.append(rec)
        assert wait_for(lambda: writer.stats.rolled == 200)
        assert len(parquet_files(root)) >= 2
        assert list(read_records(root).records()) == first + second
        assert not writer.closed
    finally:
        writer.close()
    assert journal_files(root) == []


def test_flush_makes_appended_records_durable_in_the_journal(root: Path):
    writer = LogWriter(root, "run1", roll_seconds=3600, flush_seconds=3600)
    try:
        records = make_records(25)
        for rec in records:
            writer.append(rec)
        writer.flush()
        (segment,) = journal_files(root)
        rows = sum(batch.num_rows for batch in read_journal(segment))
        assert rows == 25
        assert parquet_files(root) == []
    finally:
        writer.close()


def test_close_rolls_everything_and_removes_journal_and_lock(root: Path):
    writer = LogWriter(root, "run1", roll_seconds=3600, flush_seconds=3600)
    for rec in make_records(500):
        writer.append(rec)
    writer.close()
    assert len(list(read_records(root).records())) == 500
    assert list(journal_dir(root).iterdir()) == []


def test_stats_count_records_files_and_bytes(root: Path):
    with LogWriter(root, "run1") as writer:
        for rec in make_records(1000, start_ns=DAY0 + HOUR - SECOND // 2):
            writer.append(rec)
        assert writer.stats.records == 1000
    stats = writer.stats
    assert (stats.records, stats.journaled, stats.rolled, stats.files) == (1000, 1000, 1000, 2)
    assert stats.bytes == sum(p.stat().st_size for p in parquet_files(root))


def test_append_after_close_is_refused(root: Path):
    writer = LogWriter(root, "run1")
    writer.close()
    with pytest.raises(DataError):
        writer.append(make_records(1)[0])


def test_a_second_writer_for_a_live_run_is_refused(root: Path):
    with LogWriter(root, "run1"), pytest.raises(DataError):
        LogWriter(root, "run1")


def test_readers_never_see_a_partial_parquet_file(root: Path):
    """A reader polling the directory while the writer rolls can open every file it sees."""
    stop = threading.Event()
    failures: list[str] = []
    opened: set[Path] = set()

    def poll() -> None:
        while not stop.is_set():
            for path in parquet_files(root) if raw_dir(root).is_dir() else []:
                try:
                    pq.read_table(path)
                    opened.add(path)
                except FileNotFoundError:
                    continue
                except Exception as exc:
                    failures.append(f"{path.name}: {exc}")

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        with LogWriter(root, "run1", roll_seconds=0.05, flush_seconds=0.02) as writer:
            for block in range(30):
                for rec in make_records(300, first_seq=block * 300, start_ns=DAY0 + block):
                    writer.append(rec.__replace__(payload=rec.payload * 40))
                time.sleep(0.01)
    finally:
        stop.set()
        reader.join()
    assert failures == []
    assert len(opened) >= 3


def test_recover_converts_a_leftover_journal(root: Path):
    run_child(root, "crashed", "5000", "0.05", "3600", "300", "--exit-after-flush")
    assert journal_files(root) and parquet_files(root) == []
    assert LogWriter.recover(root) == 300
    assert journal_files(root) == []
    records = list(read_records(root).records())
    assert [r.seq for r in sorted(records, key=lambda r: r.seq)] == list(range(300))
    assert all(r.payload == f"crashed:{r.seq}".encode() for r in records)


def test_recover_stops_at_a_torn_tail_of_the_journal(root: Path):
    run_child(root, "crashed", "3000", "0.02", "3600", "400", "--exit-after-flush")
    (segment,) = journal_files(root)
    batches = [batch.num_rows for batch in read_journal(segment)]
    assert len(batches) >= 2
    with open(segment, "r+b") as handle:  # kill -9 in the middle of the last write
        handle.truncate(segment.stat().st_size - 7)
    assert LogWriter.recover(root) == sum(batches[:-1])
    seqs = sorted(r.seq for r in read_records(root).records())
    assert seqs == list(range(sum(batches[:-1])))


def test_recovery_interrupted_at_any_point_leaves_no_duplicates(root: Path, tmp_path: Path):
    run_child(root, "crashed", "5000", "0.05", "3600", "200", "--exit-after-flush")
    (segment,) = journal_files(root)
    backup = tmp_path / "journal-copy"
    shutil.copy(segment, backup)
    assert LogWriter.recover(root) == 200
    files = parquet_files(root)
    assert len(files) == 2  # binance and coinbase
    # Crash after renaming the first file, before the second and before the unlink:
    shutil.copy(backup, segment)
    files[1].unlink()
    assert LogWriter.recover(root) == 200
    # Crash after every rename but before the unlink:
    shutil.copy(backup, segment)
    assert LogWriter.recover(root) == 200
    seqs = sorted(r.seq for r in read_records(root).records())
    assert seqs == list(range(200))
    assert journal_files(root) == []


def test_recover_leaves_the_journal_of_a_live_writer_alone(root: Path):
    writer = LogWriter(root, "live", roll_seconds=3600, flush_seconds=3600)
    try:
        for rec in make_records(50, run="live"):
            writer.append(rec)
        writer.flush()
        assert LogWriter.recover(root) == 0
        assert len(journal_files(root)) == 1
    finally:
        writer.close()
    assert sorted(r.seq for r in read_records(root).records()) == list(range(50))


def test_a_new_writer_refuses_a_run_with_an_unrecovered_journal(root: Path):
    run_child(root, "crashed", "5000", "0.05", "3600", "10", "--exit-after-flush")
    with pytest.raises(DataError, match="recover"):
        LogWriter(root, "crashed")


def test_records_keep_replay_order_across_rolls_and_exchanges(root: Path):
    records = make_records(2000, step_ns=250_000)
    records = [r.__replace__(exchange=("binance", "coinbase")[r.seq % 3 == 0]) for r in records]
    with LogWriter(root, "run1", roll_seconds=0.02, flush_seconds=0.01) as writer:
        for i, rec in enumerate(records):
            writer.append(rec)
            if i % 200 == 0:
                time.sleep(0.03)
    assert len(parquet_files(root)) > 2
    back = list(read_records(root).records())
    assert back == sorted(records, key=replay_key)


def test_recover_removes_the_lock_of_a_run_that_died_before_writing(root: Path):
    run_child(root, "stillborn", "5000", "0.05", "3600", "0", "--exit-after-flush")
    assert (journal_dir(root) / "stillborn.lock").exists()
    assert LogWriter.recover(root) == 0
    assert list(journal_dir(root).iterdir()) == []


def test_stats_count_journal_bytes_across_segments(root: Path):
    writer = LogWriter(root, "run1", roll_seconds=3600, flush_seconds=3600)
    for rec in make_records(100):
        writer.append(rec)
    writer.roll()
    assert wait_for(lambda: writer.stats.rolled == 100)  # first segment converted, deleted
    for rec in make_records(100, first_seq=100, start_ns=DAY0 + SECOND):
        writer.append(rec)
    writer.flush()
    assert writer.stats.journal_bytes > sum(p.stat().st_size for p in journal_files(root))
    writer.close()
    assert writer.stats.rolls == 2 and writer.stats.rolled == 200
