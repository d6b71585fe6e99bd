"""The Python API reads a log on S3 exactly as the same log on local disk."""

from __future__ import annotations

import xle
from tests.s3.conftest import REAL_FROM, REAL_TO
from xle.store.reader import read_records

MIDDLE = "2021-10-12T00:28:45Z"  # after every book's first snapshot: a warm-up read


def test_read_records_of_the_whole_log_are_the_local_ones(real_local, real_s3):
    remote = read_records(real_s3)
    assert list(remote.records()) == list(read_records(real_local).records())
    assert remote.notices == []


def test_a_read_from_the_middle_warms_up_from_the_same_snapshots(real_local, real_s3):
    start = xle.to_ns(MIDDLE)
    local, remote = read_records(real_local, start), read_records(real_s3, start)
    assert remote.read_from_ns == local.read_from_ns < start
    assert list(remote) == list(local)


def test_the_files_of_a_read_are_named_by_their_s3_uris(real_s3):
    files = [str(p) for p in read_records(real_s3).files()]
    assert files == [
        f"{real_s3}/raw/exchange=binance/date=2021-10-12/hour=00/cryptofeed-sample-0.parquet",
        f"{real_s3}/raw/exchange=binanceus/date=2021-10-12/hour=00/cryptofeed-sample-0.parquet",
    ]


def test_xle_open_replays_a_log_on_s3_like_the_local_one(real_local, real_s3):
    local, remote = xle.open(real_local), xle.open(real_s3)
    assert remote.exchanges == local.exchanges == ["binance", "binanceus"]
    assert list(remote.replay(REAL_FROM, REAL_TO)) == list(local.replay(REAL_FROM, REAL_TO))


def test_log_tables_and_sql_on_s3_equal_the_local_ones(real_local, real_s3):
    local, remote = xle.open(real_local), xle.open(real_s3)
    assert remote.raw().equals(local.raw())
    query = "SELECT exchange, symbol, count(*), sum(seq) FROM raw GROUP BY ALL ORDER BY ALL"
    assert remote.sql(query).equals(local.sql(query))


def test_book_at_and_audit_on_s3_equal_the_local_ones(real_local, real_s3):
    local, remote = xle.open(real_local), xle.open(real_s3)
    book = remote.book_at("binance", "NKNUSDT", REAL_TO)
    assert book.status == "synced"
    assert book.to_dict() == local.book_at("binance", "NKNUSDT", REAL_TO).to_dict()
    assert remote.audit().rows == local.audit().rows


def test_write_derived_stores_on_s3_what_it_stores_locally(real_local, real_s3):
    local, remote = xle.open(real_local), xle.open(real_s3)
    local.write_derived(REAL_FROM, REAL_TO)
    remote.write_derived(REAL_FROM, REAL_TO)
    for table in ("quotes", "integrity"):
        assert remote.sql(f"SELECT count(*) FROM {table}").to_pylist()[0]["count_star()"] > 0
        assert getattr(remote, table)().equals(getattr(local, table)())
