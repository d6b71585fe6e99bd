"""Readers recover the journal of a crashed run, and never touch a live writer's journal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xle.store.layout import Notice
from xle.store.paths import journal_dir
from xle.store.reader import read_records
from xle.store.views import open_views
from xle.store.writer import LogWriter, recover_journals

from .conftest import make_records

CHILD = Path(__file__).with_name("writer_child.py")
XLE = Path(sys.executable).with_name("xle")


#: Scheduling slack on a shared 2-core machine: a flush may run a little late.
MARGIN_NS = 1_500_000_000


def _killed_run(root: Path) -> int:
    """Record with a real writer that never rolls and ``kill -9`` it; returns the last seq
    appended well before the kill (flushed for sure)."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(root), "victim", "2000", "0.05", "3600"],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def collect() -> None:
        assert proc.stdout is not None
        lines.extend(line for line in proc.stdout if not line.startswith("ready"))

    thread = threading.Thread(target=collect)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(lines) < 60 and time.monotonic() < deadline:  # ~1.5 s of recording
            time.sleep(0.05)
        time.sleep(0.5)
        kill_ns = time.time_ns()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        thread.join(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    appended = [tuple(map(int, line.split())) for line in lines]
    return max((seq for seq, recv_ns in appended if recv_ns < kill_ns - MARGIN_NS), default=0)


def _assert_recovered_with_at_most_a_torn_tail(notices: list[Notice]) -> None:
    """``kill -9`` lands at a moment the test does not choose: between two writes (the
    journal ends on a whole batch) or during one (its last batch is torn). Either way the
    readers report the recovery, and a torn tail as what it is, and nothing else."""
    kinds = [n.kind for n in notices]
    assert kinds.count("recovered") == 1, kinds
    torn = [n for n in notices if n.kind == "damaged_batch"]
    assert len(torn) <= 1, kinds
    assert all("an incomplete last batch" in n.message() for n in torn), torn
    assert len(kinds) == 1 + len(torn), kinds


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A data root holding only the journal of a killed run (never rolled)."""
    root = tmp_path_factory.mktemp("crashed") / "data"
    last_seq = _killed_run(root)
    assert last_seq > 0
    assert list(journal_dir(root).glob("victim-*.arrow"))
    assert not list((root / "raw").glob("exchange=*"))
    return root, last_seq


@pytest.fixture
def crashed_root(crashed: tuple[Path, int], tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(crashed[0], copy)
    return copy


def test_log_reader_sees_records_of_a_writer_killed_before_it_rolled(
    crashed_root: Path, crashed: tuple[Path, int]
):
    reader = read_records(crashed_root)
    seqs = [r.seq for r in reader.records()]
    assert seqs and sorted(seqs) == list(range(len(seqs)))
    assert max(seqs) >= crashed[1]  # at most the last flush interval lost
    _assert_recovered_with_at_most_a_torn_tail(reader.notices)
    (recovered,) = [n for n in reader.notices if n.kind == "recovered"]
    assert f"recovered {len(seqs):,} records of crashed run victim" in recovered.message()
    assert not list(journal_dir(crashed_root).glob("*.arrow"))


def test_query_views_see_records_of_a_writer_killed_before_it_rolled(crashed_root: Path):
    views = open_views(crashed_root)
    count = views.con.execute("SELECT count(*) FROM raw").fetchone()[0]
    assert count > 0
    _assert_recovered_with_at_most_a_torn_tail(views.notices)
    assert count == len(list(read_records(crashed_root).records()))


def test_query_views_report_a_torn_last_batch_of_a_killed_writer_as_such(crashed_root: Path):
    (segment,) = journal_dir(crashed_root).glob("victim-*.arrow")
    with segment.open("r+b") as journal:  # what a kill in the middle of a write leaves
        journal.truncate(segment.stat().st_size - 100)
    views = open_views(crashed_root)
    _assert_recovered_with_at_most_a_torn_tail(views.notices)
    assert [n.kind for n in views.notices] == ["damaged_batch", "recovered"]
    assert views.con.execute("SELECT count(*) FROM raw").fetchone()[0] > 0


def test_xle_audit_sees_records_of_a_writer_killed_before_it_rolled(crashed_root: Path):
    done = subprocess.run(
        [str(XLE), "audit", "--json", "--data", str(crashed_root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records"] > 0


def test_xle_query_counts_records_of_a_writer_killed_before_it_rolled(crashed_root: Path):
    done = subprocess.run(
        [
            str(XLE),
            "query",
            "SELECT count(*) AS n FROM raw",
            "-f",
            "csv",
            "--data",
            str(crashed_root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 0


def test_readers_leave_a_live_writers_journal_alone(root: Path):
    writer = LogWriter(root, "alive", roll_seconds=3600, flush_seconds=3600)
    try:
        for rec in make_records(300, run="alive"):
            writer.append(rec)
        writer.flush()
        (segment,) = journal_dir(root).glob("alive-*.arrow")
        before = (segment.read_bytes(), segment.stat().st_mtime_ns)
        reader = read_records(root)
        assert list(reader.records()) == []
        assert reader.notices == []
        views = open_views(root)
        assert views.con.execute("SELECT count(*) FROM raw").fetchone()[0] == 0
        assert views.notices == []
        assert recover_journals(root).records == 0
        assert (segment.read_bytes(), segment.stat().st_mtime_ns) == before
    finally:
        writer.close()
    assert len(list(read_records(root).records())) == 300


_FULL_DISK = """
import json, resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
from xle.errors import DataError
from xle.store.writer import LogWriter
from xle.store.reader import read_records
root = Path(sys.argv[1])
reader = read_records(root)
out = {"records": len(list(reader.records())), "kinds": [n.kind for n in reader.notices]}
try:
    LogWriter.recover(root)
except DataError as exc:
    out["error"] = str(exc)
print(json.dumps(out))
"""


def test_recovery_on_a_full_disk_keeps_the_journal(root: Path):
    args = ["victim", "100000", "60", "3600", "300", "--exit-after-flush"]
    subprocess.run(
        [sys.executable, str(CHILD), str(root), *args],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
    )
    (segment,) = journal_dir(root).glob("victim-*.arrow")
    journal = segment.read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["records"] == 0
    assert out["kinds"] == ["journal_kept"]
    assert "not recovered, kept for a later try" in out["error"]
    assert segment.read_bytes() == journal
    assert not [p for p in (root / "raw").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert LogWriter.recover(root) == 300
    assert [r.seq for r in read_records(root).records()] == list(range(300))


def test_xle_replay_sees_records_of_a_writer_killed_before_it_rolled(crashed_root: Path):
    now = time.time_ns()
    start, end = str(now - 3_600_000_000_000), str(now + 60_000_000_000)
    done = subprocess.run(
        [
            str(XLE),
            "replay",
            "--from",
            start,
            "--to",
            end,
            "--dry-run",
            "--data",
            str(crashed_root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no records" not in done.stdout + done.stderr
    assert len(list(read_records(crashed_root, recover=False).records())) > 0


def test_a_read_from_t0_sees_records_of_a_writer_killed_before_it_rolled(crashed_root: Path):
    start = time.time_ns() - 3_600_000_000_000
    records = list(read_records(crashed_root, start).records())
    assert records and [r.seq for r in records] == list(range(len(records)))
