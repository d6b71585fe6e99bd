"""``xle compact`` on S3: the merged object first, then the deletes; never a row twice."""

from __future__ import annotations

import shutil

from tests.clirunner import Cli
from tests.log.conftest import three_hours_of_files
from tests.s3.conftest import REAL_FROM, REAL_TO, keys, split_files, upload
from xle.store.compact import compact, compact_hour
from xle.store.reader import read_records

xle = Cli()
COUNT = "SELECT exchange, count(*) AS n, sum(seq) AS s FROM raw GROUP BY ALL ORDER BY ALL"


def _rows(root) -> list:
    result = xle("query", COUNT, "--format", "json", "--data", root)
    assert result.exit_code == 0, result.stderr
    return result.json()


def test_compaction_on_s3_merges_each_hour_into_one_object_and_deletes_the_rest(
    real_local, s3_root
):
    split_files(real_local)
    upload(real_local, s3_root)
    before = list(read_records(s3_root).records())
    assert len([k for k in keys(s3_root) if k.startswith("raw/")]) == 6

    result = xle("compact", "--data", s3_root)

    assert result.exit_code == 0, result.stderr
    assert "2 hours compacted (6 files, 755 rows)" in result.stdout
    assert [k for k in keys(s3_root) if k.startswith("raw/")] == [
        "raw/exchange=binance/date=2021-10-12/hour=00/compacted-1.parquet",
        "raw/exchange=binanceus/date=2021-10-12/hour=00/compacted-1.parquet",
    ]
    assert list(read_records(s3_root).records()) == before


def test_compaction_on_s3_prints_what_it_prints_locally(real_local, s3_root):
    split_files(real_local)
    upload(real_local, s3_root)
    on_disk = xle("compact", "--data", real_local)
    on_s3 = xle("compact", "--data", s3_root)
    assert on_s3.exit_code == on_disk.exit_code == 0
    assert on_s3.stdout == on_disk.stdout
    assert _rows(s3_root) == _rows(real_local)


def test_merged_object_beside_its_sources_counts_each_row_once(real_local, s3_root, tmp_path):
    """The moment between the upload of the merged object and the deletes of its sources
    (or a compactor killed there): readers skip the sources the merged file names."""
    split_files(real_local)
    expected = _rows(real_local)
    records = list(read_records(real_local).records())
    compacted = shutil.copytree(real_local, tmp_path / "compacted")
    compact(compacted)
    upload(real_local, s3_root)  # the three sources of each hour
    upload(compacted, s3_root)  # and the merged object of each hour
    assert len([k for k in keys(s3_root) if k.endswith(".parquet")]) == 8

    assert _rows(s3_root) == expected
    assert list(read_records(s3_root).records()) == records
    result = xle("replay", "--from", REAL_FROM, "--to", REAL_TO, "--data", s3_root)
    assert result.exit_code == 0, result.stderr
    assert "755" in result.stdout


def test_the_next_compaction_on_s3_deletes_the_sources_a_merged_object_holds(
    real_local, s3_root, tmp_path
):
    split_files(real_local)
    compacted = shutil.copytree(real_local, tmp_path / "compacted")
    compact(compacted)
    upload(real_local, s3_root)
    upload(compacted, s3_root)

    assert xle("compact", "--data", s3_root).exit_code == 0

    assert [k for k in keys(s3_root) if k.endswith(".parquet")] == [
        "raw/exchange=binance/date=2021-10-12/hour=00/compacted-1.parquet",
        "raw/exchange=binanceus/date=2021-10-12/hour=00/compacted-1.parquet",
    ]
    assert _rows(s3_root) == _rows(real_local)


def test_a_read_running_during_a_compaction_on_s3_reads_every_record_once(tmp_path, s3_root):
    """The files of the hour being read were fetched when it was opened (a deleted
    object cannot be read any more); later hours are listed again when their listed
    files are gone."""
    records = three_hours_of_files(tmp_path)
    upload(tmp_path, s3_root)
    read = read_records(s3_root, batch_size=500)
    reader = iter(read.records())
    got = [next(reader) for _ in range(1000)]  # part-way through hour 0
    for hour in range(3):
        compact_hour(s3_root, "binance", "2021-10-12", hour)
    got.extend(reader)
    assert got == records
    assert read.notices == []
