"""The raw-log schema and partition paths (docs/design.md, "The raw event log")."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.realdata import require_real
from xle.store.layout import (
    HOUR_NS,
    RAW_SCHEMA,
    Partition,
    is_log_file,
    parse_partition,
    partition_dir,
    partition_of,
    temp_path,
    validate_run,
)

from .conftest import DAY0, HOUR


def test_schema_matches_the_real_captures():
    files = sorted((require_real("real") / "raw").rglob("*.parquet"))
    assert files
    for path in files:
        assert pq.ParquetFile(path).schema_arrow.equals(RAW_SCHEMA)


def test_partition_dir_uses_the_utc_hour_of_recv_ns(tmp_path: Path):
    recv_ns = DAY0 + 13 * HOUR + 59 * 60 * 10**9 + 999
    assert partition_dir(tmp_path, "coinbase", recv_ns) == (
        tmp_path / "raw" / "exchange=coinbase" / "date=2021-10-12" / "hour=13"
    )


def test_last_nanosecond_of_a_day_and_the_next_one_land_in_different_dates():
    last = partition_of("binance", DAY0 + 24 * HOUR - 1)
    first = partition_of("binance", DAY0 + 24 * HOUR)
    assert (last.date, last.hour) == ("2021-10-12", 23)
    assert (first.date, first.hour) == ("2021-10-13", 0)
    assert first.hour_index == last.hour_index + 1


def test_parse_partition_reads_back_what_partition_dir_wrote(tmp_path: Path):
    recv_ns = DAY0 + 5 * HOUR + 17
    path = partition_dir(tmp_path, "binanceus", recv_ns) / "run-3.parquet"
    assert parse_partition(path) == Partition("binanceus", "2021-10-12", 5)
    assert parse_partition(path).start_ns == DAY0 + 5 * HOUR
    assert parse_partition(path).end_ns - parse_partition(path).start_ns == HOUR_NS


@pytest.mark.parametrize(
    "path",
    [
        "raw/exchange=binance/date=2021-10-12/run-1.parquet",
        "raw/exchange=binance/date=2021-13-12/hour=01/run-1.parquet",
        "raw/exchange=binance/date=2021-10-12/hour=24/run-1.parquet",
    ],
)
def test_parse_partition_rejects_incomplete_or_impossible_paths(path: str):
    assert parse_partition(path) is None


@pytest.mark.parametrize(
    ("name", "is_file"),
    [
        ("run-1.parquet", True),
        ("compacted-2.parquet", True),
        (".run-1.parquet.123.tmp", False),
        ("_hidden.parquet", False),
        ("run-1.parquet.tmp", False),
        ("notes.txt", False),
    ],
)
def test_is_log_file_skips_temporary_and_hidden_names(name: str, is_file: bool):
    assert is_log_file(Path("raw/exchange=binance/date=2021-10-12/hour=00") / name) is is_file


def test_journal_files_are_never_log_files():
    assert not is_log_file(Path("raw/_journal/run-000001.parquet"))


def test_temp_path_is_hidden_and_not_a_parquet_name():
    temp = temp_path(Path("/x/run-1.parquet"))
    assert temp.parent == Path("/x")
    assert temp.name.startswith(".") and temp.name.endswith(".tmp")


@pytest.mark.parametrize("run", ["", "../escape", "a/b", ".hidden", "with space"])
def test_unsafe_run_ids_are_refused(run: str):
    with pytest.raises(ValueError):
        validate_run(run)
