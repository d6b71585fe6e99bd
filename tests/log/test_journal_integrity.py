"""Journal batches carry a checksum: a damaged batch is dropped and reported, never replayed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from xle.store.layout import JOURNAL_SCHEMA, journal_path
from xle.store.paths import journal_dir
from xle.store.reader import read_records
from xle.store.writer import LogWriter, batch_crc, read_journal, recover_journals

from .conftest import make_records

CHILD = Path(__file__).with_name("writer_child.py")


def _crashed_journal(root: Path, records: int = 300, every: int = 100) -> Path:
    """A journal of ``records // every`` batches left by a writer that died after flushing."""
    args = ["victim", "100000", "60", "3600", str(records), "--exit-after-flush"]
    subprocess.run(
        [sys.executable, str(CHILD), str(root), *args, "--flush-every", str(every)],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
    )
    (segment,) = journal_dir(root).glob("victim-*.arrow")
    return segment


def _batch_spans(segment: Path) -> list[tuple[int, int]]:
    """(start, end) byte offsets of each batch message in a journal."""
    spans = []
    with pa.OSFile(str(segment)) as source:
        reader = ipc.open_stream(source)
        while True:
            start = source.tell()
            try:
                reader.read_next_batch()
            except StopIteration:
                return spans
            spans.append((start, source.tell()))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_writer_stores_a_checksum_of_every_journal_batch(root: Path):
    segment = _crashed_journal(root)
    with pa.OSFile(str(segment)) as source:
        reader = ipc.open_stream(source)
        checked = 0
        while True:
            try:
                batch, custom = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            assert int(custom[b"xle.crc32"]) == batch_crc(batch)
            checked += 1
    assert checked == 3


def test_flipped_bytes_in_a_journal_batch_are_dropped_and_reported(root: Path):
    segment = _crashed_journal(root)
    _start, end = _batch_spans(segment)[1]
    _flip(segment, end - 40)  # inside the payload of the second batch
    recovery = recover_journals(root)
    assert recovery.records == 200 + 2  # two batches, and a corrupt_file record per exchange
    (damaged,) = [n for n in recovery.notices if n.kind == "damaged_batch"]
    assert "journal batch 1 dropped" in damaged.detail
    assert "checksum mismatch" in damaged.detail
    records = list(read_records(root).records())
    assert [r.seq for r in records if r.kind == "ws"] == [*range(100), *range(200, 300)]
    holes = [r for r in records if r.stream == "corrupt_file"]
    assert sorted(r.exchange for r in holes) == ["binance", "coinbase"]
    body = json.loads(holes[0].payload)
    assert body["file"] == "raw/_journal/victim-000000.arrow"
    assert "batch 1 dropped" in body["error"]
    last_before = max(r.recv_ns for r in records if r.kind == "ws" and r.seq < 100)
    assert all(r.recv_ns == last_before for r in holes)


def test_damaged_first_batch_is_logged_at_the_first_record_after_it(root: Path):
    segment = _crashed_journal(root)
    _start, end = _batch_spans(segment)[0]
    _flip(segment, end - 40)
    assert recover_journals(root).records == 200 + 2
    records = list(read_records(root).records())
    first_after = min(r.recv_ns for r in records if r.kind == "ws")
    holes = [r for r in records if r.stream == "corrupt_file"]
    assert len(holes) == 2 and all(r.recv_ns == first_after for r in holes)


def test_incomplete_last_batch_is_reported_but_not_logged_as_damage(root: Path):
    segment = _crashed_journal(root)
    start, end = _batch_spans(segment)[2]
    with open(segment, "r+b") as handle:
        handle.truncate(start + (end - start) // 2)  # a kill -9 in the middle of a write
    notices = []
    assert sum(b.num_rows for b in read_journal(segment, notices)) == 200
    assert [n.kind for n in notices] == ["damaged_batch"]
    assert "an incomplete last batch" in notices[0].detail
    assert LogWriter.recover(root) == 200
    assert not [r for r in read_records(root).records() if r.stream == "corrupt_file"]


def test_undecodable_bytes_in_a_closed_journal_are_logged_as_damage(root: Path):
    segment = _crashed_journal(root)
    # A rolled segment ends with the end-of-stream marker: what follows a decoding error
    # is damage, not the torn tail of a crash.
    segment.write_bytes(segment.read_bytes() + b"\xff\xff\xff\xff\x00\x00\x00\x00")
    start, _end = _batch_spans(segment)[1]
    _flip(segment, start + 5)  # the metadata length of the second message
    notices = []
    assert sum(b.num_rows for b in read_journal(segment, notices)) == 100
    assert [n.kind for n in notices] == ["damaged_batch"]
    assert "undecodable from byte" in notices[0].detail
    assert recover_journals(root).records == 100 + 2
    assert len([r for r in read_records(root).records() if r.stream == "corrupt_file"]) == 2


def test_journal_without_checksums_is_recovered_and_flagged_unverified(root: Path):
    records = make_records(50, run="old")
    segment = journal_path(root, "old", 0)
    segment.parent.mkdir(parents=True)
    with pa.OSFile(str(segment), "wb") as sink, ipc.new_stream(sink, JOURNAL_SCHEMA) as out:
        out.write_batch(
            pa.RecordBatch.from_pylist(
                [{name: getattr(r, name) for name in JOURNAL_SCHEMA.names} for r in records],
                schema=JOURNAL_SCHEMA,
            )
        )
    recovery = recover_journals(root)
    assert recovery.records == 50
    assert "unverified_journal" in [n.kind for n in recovery.notices]
    assert [r.seq for r in read_records(root).records()] == list(range(50))


def test_damaged_journal_header_is_reported_not_taken_for_an_empty_journal(root: Path):
    segment = _crashed_journal(root)
    _flip(segment, 0)  # the continuation marker of the schema message
    notices = []
    assert list(read_journal(segment, notices)) == []
    assert [n.kind for n in notices] == ["damaged_batch"]
    assert "journal header undecodable" in notices[0].detail


def test_journal_cut_inside_its_header_holds_nothing_to_report(root: Path):
    segment = _crashed_journal(root)
    with open(segment, "r+b") as handle:
        handle.truncate(100)  # killed while the schema was being written
    notices = []
    assert list(read_journal(segment, notices)) == []
    assert notices == []
