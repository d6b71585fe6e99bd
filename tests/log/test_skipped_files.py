"""Stale temp files are cleaned up; bad files and partition names are skipped and reported."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from xle.store.compact import compact_hour
from xle.store.layout import STALE_TEMP_SECONDS, partition_dir
from xle.store.paths import journal_dir
from xle.store.reader import read_records
from xle.store.views import open_views
from xle.store.writer import LogWriter, read_journal, recover_journals

from .conftest import DAY0, HOUR, make_records, write_log_file

CHILD = Path(__file__).with_name("writer_child.py")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp(directory: Path, name: str, pid: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".{name}.{pid}.tmp"
    path.write_bytes(b"PAR1 half a file")
    return path


def test_recovery_removes_a_temp_file_left_by_a_writer_killed_during_a_roll(root: Path):
    args = ["victim", "100000", "60", "3600", "200", "--exit-after-flush"]
    subprocess.run(
        [sys.executable, str(CHILD), str(root), *args],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
    )
    (segment,) = journal_dir(root).glob("victim-*.arrow")
    first = next(read_journal(segment)).slice(0, 1).to_pylist()[0]
    directory = partition_dir(root, first["exchange"], first["recv_ns"])
    stale = _temp(directory, "victim-000000.parquet", _dead_pid())
    recovery = recover_journals(root, sweep=False)  # a reader's recovery
    assert recovery.records == 200
    assert not stale.exists()
    assert [n.path for n in recovery.notices if n.kind == "stale_temp"] == [stale]


def test_recovery_keeps_a_temp_file_a_live_writer_is_writing(root: Path):
    directory = partition_dir(root, "binance", DAY0)
    live = _temp(directory, "run9-000003.parquet", os.getpid())
    dead = _temp(directory, "run8-000001.parquet", _dead_pid())
    assert LogWriter.recover(root) == 0
    assert live.exists()
    assert not dead.exists()


def test_recovery_removes_a_temp_file_untouched_for_long_whatever_its_pid(root: Path):
    directory = partition_dir(root, "binance", DAY0)
    old = _temp(directory, "run9-000003.parquet", os.getpid())
    past = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(old, (past, past))
    LogWriter.recover(root)
    assert not old.exists()


def test_compaction_removes_stale_temp_files_but_not_a_live_writers(root: Path):
    write_log_file(root, make_records(10, run="a"), "a-000000.parquet")
    write_log_file(root, make_records(10, run="b", start_ns=DAY0 + 1), "b-000000.parquet")
    directory = partition_dir(root, "binance", DAY0)
    dead = _temp(directory, "a-000001.parquet", _dead_pid())
    live = _temp(directory, "c-000000.parquet", os.getpid())
    result = compact_hour(root, "binance", "2021-10-12", 0, now_ns=DAY0 + 2 * HOUR)
    assert result.output is not None and result.rows == 20
    assert not dead.exists()
    assert live.exists()
    assert [n.path for n in result.notices] == [dead]


def _corrupt_and_foreign(root: Path) -> tuple[Path, Path]:
    write_log_file(root, make_records(10), "run1-000000.parquet")
    write_log_file(root, make_records(5, exchange="coinbase", run="run2"), "run2-000000.parquet")
    directory = partition_dir(root, "binance", DAY0)
    corrupt = directory / "run3-000000.parquet"
    corrupt.write_bytes(b"not a parquet file at all")
    foreign = directory / "notes.parquet"
    pq.write_table(pa.table({"recv_ns": pa.array(["x"]), "note": pa.array([1])}), foreign)
    return corrupt, foreign


def test_views_skip_a_corrupt_file_and_say_so(root: Path):
    corrupt, _foreign = _corrupt_and_foreign(root)
    views = open_views(root)
    assert views.con.execute("SELECT count(*) FROM raw").fetchone()[0] == 15
    (notice,) = [n for n in views.notices if n.kind == "unreadable"]
    assert notice.path == corrupt
    assert "magic bytes" in notice.detail.lower() or "parquet" in notice.detail.lower()


def test_views_skip_a_wrong_schema_file_and_say_so(root: Path):
    _corrupt, foreign = _corrupt_and_foreign(root)
    views = open_views(root)
    rows = views.con.execute("SELECT count(*), count(payload) FROM raw").fetchone()
    assert rows == (15, 15)  # no NULL rows from the foreign file
    (notice,) = [n for n in views.notices if n.kind == "wrong_schema"]
    assert notice.path == foreign
    assert "column recv_ns is string, expected int64" in notice.detail
    assert "no column payload" in notice.detail


def test_views_skip_a_corrupt_derived_file_and_say_so(root: Path):
    write_log_file(root, make_records(3), "run1-000000.parquet")
    directory = root / "derived" / "quotes" / "exchange=binance" / "date=2021-10-12"
    directory.mkdir(parents=True)
    bad = directory / "part-0.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    views = open_views(root)
    assert views.con.execute("SELECT count(*) FROM quotes").fetchone()[0] == 0
    assert [(n.kind, n.path) for n in views.notices] == [("unreadable", bad)]


def test_reader_reports_a_wrong_schema_file(root: Path):
    _corrupt, foreign = _corrupt_and_foreign(root)
    reader = read_records(root)
    records = list(reader.records())
    assert len([r for r in records if r.kind == "ws"]) == 15
    kinds = {n.path: n.kind for n in reader.notices}
    assert kinds[foreign] == "wrong_schema"
    (problem,) = [p for p in reader.problems if p.path == foreign]
    assert problem.message().startswith(f"not a raw-log file {foreign}: ")


def _impossible_partitions(root: Path) -> list[Path]:
    write_log_file(root, make_records(10), "run1-000000.parquet")
    good = partition_dir(root, "binance", DAY0)
    bad = [good.parent / "hour=25", good.parent.parent / "date=garbage" / "hour=01"]
    for directory in bad:
        directory.mkdir(parents=True)
        (directory / "run1-000000.parquet").write_bytes((good / "run1-000000.parquet").read_bytes())
    return [bad[0], bad[1].parent]


def test_reader_reports_impossible_partition_names(root: Path):
    bad = _impossible_partitions(root)
    reader = read_records(root)
    assert len(list(reader.records())) == 10
    reported = [n for n in reader.notices if n.kind == "bad_partition"]
    assert sorted(n.path for n in reported) == sorted(bad)
    details = {n.path.name: n.detail for n in reported}
    assert "expected hour=00 to 23" in details["hour=25"]
    assert "expected date=YYYY-MM-DD" in details["date=garbage"]


def test_views_report_impossible_partition_names(root: Path):
    bad = _impossible_partitions(root)
    views = open_views(root)
    assert views.con.execute("SELECT count(*) FROM raw").fetchone()[0] == 10
    reported = [n for n in views.notices if n.kind == "bad_partition"]
    assert sorted(n.path for n in reported) == sorted(bad)


def test_a_clean_log_has_no_notices(root: Path):
    write_log_file(root, make_records(10), "run1-000000.parquet")
    reader = read_records(root)
    list(reader.records())
    assert reader.notices == []
    assert open_views(root).notices == []
    assert not journal_dir(root).exists()
