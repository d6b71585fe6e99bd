"""read_records: replay order, pruning, filters, unreadable files.

See docs/design.md, "Reading the log".
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.realdata import require_real
from xle.store.layout import partition_dir
from xle.store.paths import journal_dir
from xle.store.reader import check_files, read_records

from .conftest import (
    DAY0,
    HOUR,
    SECOND,
    make_records,
    replay_key,
    write_log_file,
    write_random_runs,
)


def corrupt_page_of_row_group(path: Path, group: int) -> None:
    """Overwrite the start of a payload page of one row group (a bad disk block)."""
    column = pq.ParquetFile(path).metadata.row_group(group).column(7)
    data = bytearray(path.read_bytes())
    start = column.data_page_offset + 40
    data[start : start + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))


def test_files_of_several_exchanges_and_runs_merge_in_replay_order(root: Path):
    a = make_records(500, run="runA", step_ns=SECOND // 100)
    b = make_records(300, run="runB", start_ns=DAY0 + 7, step_ns=SECOND // 60)
    c = make_records(400, exchange="coinbase", run="runA", start_ns=DAY0, step_ns=SECOND // 80)
    write_log_file(root, a[:250], "runA-0.parquet")
    write_log_file(root, a[250:], "runA-1.parquet")
    write_log_file(root, b, "runB-0.parquet")
    write_log_file(root, c, "runA-0.parquet")
    assert list(read_records(root).records()) == sorted(a + b + c, key=replay_key)


def test_equal_recv_ns_are_ordered_by_exchange_then_run_then_seq(root: Path):
    same = DAY0 + SECOND
    recs = [
        *make_records(3, exchange="coinbase", run="r1", start_ns=same, step_ns=0),
        *make_records(3, exchange="binance", run="r2", start_ns=same, step_ns=0),
        *make_records(3, exchange="binance", run="r1", start_ns=same, step_ns=0, first_seq=5),
    ]
    write_log_file(root, recs[0:3], "r1-0.parquet")
    write_log_file(root, recs[3:6], "r2-0.parquet")
    write_log_file(root, recs[6:9], "r1-0.parquet")
    got = [(r.exchange, r.run, r.seq) for r in read_records(root, batch_size=2).records()]
    assert got == [
        ("binance", "r1", 5),
        ("binance", "r1", 6),
        ("binance", "r1", 7),
        ("binance", "r2", 0),
        ("binance", "r2", 1),
        ("binance", "r2", 2),
        ("coinbase", "r1", 0),
        ("coinbase", "r1", 1),
        ("coinbase", "r1", 2),
    ]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    files=st.integers(1, 5),
    batch_size=st.sampled_from([1, 2, 3, 7, 64, 4096]),
)
def test_merge_matches_a_full_sort_for_any_overlap_and_batch_size(seed, files, batch_size):
    """Random runs with clustered timestamps (many ties) against ``sorted``."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        expected = write_random_runs(root, rng, files)
        got = list(read_records(root, batch_size=batch_size).records())
        assert got == sorted(expected, key=replay_key)


@pytest.mark.parametrize("batch_size", [1, 2, 5, 64])
def test_names_and_nulls_decode_row_by_row_for_any_batch_split(root: Path, batch_size: int):
    """Batches with one name, several names and null symbols (control events) alike."""
    recs = make_records(40, symbols=("BTCUSDT", "BTCUSDT", None, "ETHUSDT", "ETHUSDT"))
    recs += make_records(20, start_ns=DAY0 + SECOND, first_seq=40, symbols=("BTCUSDT",), run="run1")
    write_log_file(root, recs, "run1-0.parquet", row_group_size=7)
    assert list(read_records(root, batch_size=batch_size).records()) == recs


def test_repeated_names_are_one_shared_object_across_batches(root: Path):
    """The engine hashes ``stream`` for every record; a shared str is hashed once."""
    recs = make_records(50, step_ns=SECOND, symbols=("BTCUSDT",))
    recs += make_records(50, exchange="coinbase", step_ns=SECOND, symbols=("BTC-USD",))
    write_log_file(root, recs[:50], "run1-0.parquet", row_group_size=10)
    write_log_file(root, recs[50:], "run1-0.parquet", row_group_size=10)
    got = list(read_records(root, batch_size=3).records())
    assert got == sorted(recs, key=replay_key)
    for field in ("run", "kind", "stream", "symbol"):
        values = [getattr(r, field) for r in got]
        assert len({id(v) for v in values}) == len(set(values)), field


def test_records_of_one_connection_keep_seq_order(root: Path):
    recs = make_records(200, step_ns=0, conn=3)  # every record at the same instant
    write_log_file(root, recs[:100], "run1-0.parquet")
    write_log_file(root, recs[100:], "run1-1.parquet")
    write_log_file(root, make_records(50, run="other", step_ns=0), "other-0.parquet")
    mine = [r.seq for r in read_records(root, batch_size=16).records() if r.run == "run1"]
    assert mine == list(range(200))


def test_a_one_hour_query_lists_only_that_hours_files(root: Path):
    for hour in range(4):
        for exchange in ("binance", "coinbase"):
            write_log_file(
                root, make_records(5, exchange=exchange, start_ns=DAY0 + hour * HOUR), "r-0.parquet"
            )
    files = read_records(root, DAY0 + 2 * HOUR, DAY0 + 3 * HOUR - 1, warm_up=False).files()
    assert [f.relative_to(root).as_posix() for f in files] == [
        "raw/exchange=binance/date=2021-10-12/hour=02/r-0.parquet",
        "raw/exchange=coinbase/date=2021-10-12/hour=02/r-0.parquet",
    ]


def test_a_one_hour_query_never_opens_other_hours_files(root: Path):
    """Other hours hold garbage: opening any of them would yield a corrupt_file record."""
    for hour in (0, 1, 3):
        directory = partition_dir(root, "binance", DAY0 + hour * HOUR)
        directory.mkdir(parents=True)
        (directory / "bad-0.parquet").write_bytes(b"not parquet at all")
    good = make_records(20, start_ns=DAY0 + 2 * HOUR)
    write_log_file(root, good, "good-0.parquet")
    got = read_records(root, DAY0 + 2 * HOUR, DAY0 + 3 * HOUR - 1, warm_up=False).records()
    assert list(got) == good


def test_exchange_filter_prunes_other_exchanges(root: Path):
    write_log_file(root, make_records(5, exchange="coinbase"), "r-0.parquet")
    binance = make_records(5)
    write_log_file(root, binance, "r-0.parquet")
    reader = read_records(root, exchanges=["binance"])
    assert all("exchange=binance" in f.as_posix() for f in reader.files())
    assert list(reader.records()) == binance


def test_time_range_includes_both_ends(root: Path):
    recs = make_records(100, step_ns=SECOND)
    write_log_file(root, recs, "r-0.parquet", row_group_size=10)
    read = read_records(root, DAY0 + 10 * SECOND, DAY0 + 20 * SECOND, warm_up=False)
    assert [r.seq for r in read.records()] == list(range(10, 21))


def test_a_range_without_warm_up_flags_no_record(root: Path):
    write_log_file(root, make_records(100, step_ns=SECOND), "r-0.parquet")
    pairs = list(read_records(root, DAY0 + 10 * SECOND, None, warm_up=False))
    assert [rec.seq for rec, _ in pairs] == list(range(10, 100))
    assert not any(warm for _, warm in pairs)


def test_chunks_hold_the_records_in_order(root: Path):
    recs = make_records(10_000, step_ns=SECOND // 10)
    write_log_file(root, recs, "r-0.parquet")
    chunks = list(read_records(root).chunks())
    assert len(chunks) > 1 and [r for chunk in chunks for r in chunk] == recs


def test_time_range_spanning_hours_reads_across_partitions(root: Path):
    recs = make_records(7200, step_ns=SECOND)
    first, second = recs[:3600], recs[3600:]
    write_log_file(root, first, "r-0.parquet")
    write_log_file(root, second, "r-0.parquet")
    read = read_records(root, DAY0 + 3000 * SECOND, DAY0 + 3999 * SECOND, warm_up=False)
    got = list(read.records())
    assert [r.seq for r in got] == list(range(3000, 4000))


def test_symbol_filter_keeps_control_events(root: Path):
    recs = make_records(30, symbols=("BTCUSDT", "ETHUSDT", None))
    write_log_file(root, recs, "r-0.parquet")
    got = list(read_records(root, symbols=["ETHUSDT"]).records())
    assert {r.symbol for r in got} == {"ETHUSDT", None}
    assert len(got) == 20


def test_a_symbol_filter_does_not_prune_coinbase_frames(root: Path):
    """Coinbase counts sequence_num per connection across products: another product's
    frames dropped would look like gaps."""
    recs = make_records(30, exchange="coinbase", symbols=("BTC-USD", "ETH-USD"))
    write_log_file(root, recs, "r-0.parquet")
    got = list(read_records(root, symbols=["ETH-USD"]).records())
    assert got == recs


def test_without_exchanges_an_unknown_exchange_partition_is_not_read(root: Path):
    known = make_records(5)
    write_log_file(root, known, "r-0.parquet")
    write_log_file(root, make_records(5, exchange="kraken"), "r-0.parquet")
    assert list(read_records(root).records()) == known
    assert [r.exchange for r in read_records(root, exchanges=["kraken"]).records()] == [
        "kraken"
    ] * 5


def test_a_truncated_file_yields_a_corrupt_file_record_and_the_rest_still_reads(root: Path):
    good = make_records(50, exchange="coinbase", start_ns=DAY0 + 5 * SECOND)
    write_log_file(root, good, "r-0.parquet")
    bad = write_log_file(root, make_records(50, start_ns=DAY0 + 5 * SECOND), "r-0.parquet")
    bad.write_bytes(bad.read_bytes()[:-100])
    got = list(read_records(root).records())
    assert got[1:] == good
    marker = got[0]
    assert (marker.kind, marker.stream, marker.exchange) == ("event", "corrupt_file", "binance")
    assert (marker.run, marker.conn, marker.seq, marker.symbol) == ("", 0, 0, None)
    assert marker.recv_ns == DAY0  # start of the file's hour
    body = json.loads(marker.payload)
    assert body["file"] == "raw/exchange=binance/date=2021-10-12/hour=00/r-0.parquet"
    assert body["error"]


def test_a_file_failing_part_way_keeps_its_good_rows_and_time_order(root: Path):
    recs = make_records(15_000)
    path = write_log_file(root, recs, "r-0.parquet", row_group_size=5000)
    corrupt_page_of_row_group(path, 2)
    later = make_records(10, start_ns=DAY0 + HOUR, run="next")
    write_log_file(root, later, "next-0.parquet")
    reader = read_records(root)
    got = list(reader.records())
    markers = [r for r in got if r.stream == "corrupt_file"]
    assert len(markers) == 1 and len(reader.problems) == 1
    before = got[: got.index(markers[0])]
    assert before == recs[: len(before)] and len(before) >= 5000
    assert json.loads(markers[0].payload)["rows_read"] >= len(before)
    assert [r.recv_ns for r in got] == sorted(r.recv_ns for r in got)
    assert got[-10:] == later


def test_check_files_names_the_bad_file_in_one_line(root: Path):
    write_log_file(root, make_records(5), "good-0.parquet")
    bad = write_log_file(root, make_records(5, run="bad"), "bad-0.parquet")
    bad.write_bytes(b"PAR1garbage")
    (problem,) = check_files(root)
    assert problem.path == bad
    assert "\n" not in problem.message() and "bad-0.parquet" in problem.message()


def test_check_files_deep_finds_a_bad_page_the_footer_does_not_show(root: Path):
    path = write_log_file(root, make_records(15_000), "r-0.parquet", row_group_size=5000)
    corrupt_page_of_row_group(path, 2)
    assert check_files(root) == []
    assert [p.path for p in check_files(root, deep=True)] == [path]


def test_temporary_journal_and_hidden_files_are_ignored(root: Path):
    recs = make_records(5)
    path = write_log_file(root, recs, "r-0.parquet")
    (path.parent / ".r-1.parquet.123.tmp").write_bytes(b"half written")
    (path.parent / "_partial.parquet").write_bytes(b"x")
    journal_dir(root).mkdir(parents=True)
    (journal_dir(root) / "r-000001.arrow").write_bytes(b"journal")
    reader = read_records(root)
    assert reader.files() == [path]
    assert list(reader.records()) == recs


def test_an_empty_or_missing_data_root_reads_nothing(tmp_path: Path):
    assert list(read_records(tmp_path / "nowhere").records()) == []
    assert read_records(tmp_path / "nowhere").files() == []


def test_reads_the_real_captures_in_replay_order():
    records = list(read_records(require_real("real")).records())
    assert len(records) == 270 + 485
    assert [replay_key(r) for r in records] == sorted(replay_key(r) for r in records)
    assert {r.exchange for r in records} == {"binance", "binanceus"}
    rest = [r for r in records if r.kind == "rest"]
    assert len(rest) == 8 and all(r.payload.startswith(b'{"lastUpdateId"') for r in rest)
