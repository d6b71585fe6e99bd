"""``xle`` commands with ``--data s3://…`` print what they print for the same log on disk."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.clirunner import Cli
from tests.s3.conftest import REAL_FROM, REAL_TO, keys, upload

xle = Cli()


def _words(text: str, root: str | Path) -> list[str]:
    """``text`` with the root named ``ROOT``, as words (table columns fit the longest
    path, so the padding differs)."""
    return text.replace(str(root), "ROOT").split()


def _same(local: Path, remote: str, *args: str) -> str:
    """Run ``xle *args`` on both roots; both succeed and print the same (roots aside)."""
    on_disk = xle(*args, "--data", local)
    on_s3 = xle(*args, "--data", remote)
    assert on_disk.exit_code == 0, on_disk.stderr
    assert on_s3.exit_code == 0, on_s3.stderr
    assert _words(on_s3.stdout, remote) == _words(on_disk.stdout, local)
    assert _words(on_s3.stderr, remote) == _words(on_disk.stderr, local)
    return on_s3.stdout


def test_replay_summary_and_derived_rows_equal_the_local_ones(real_local, real_s3):
    _same(real_local, real_s3, "replay", "--from", REAL_FROM, "--to", REAL_TO)
    for table in ("quotes", "arbitrage", "integrity"):
        query = f"SELECT * FROM {table} ORDER BY ALL"
        _same(real_local, real_s3, "query", query, "--format", "json", "--limit", "0")
    assert any(k.startswith("derived/quotes/exchange=binance/") for k in keys(real_s3))


def test_book_equals_the_local_one(real_local, real_s3):
    out = _same(real_local, real_s3, "book", "-e", "binance", "-s", "NKNUSDT", "--at", REAL_TO,
                "--json")  # fmt: skip
    assert json.loads(out)["bids"]


def test_query_of_the_raw_view_equals_the_local_one(real_local, real_s3):
    query = "SELECT exchange, date, hour, kind, count(*), sum(seq) FROM raw GROUP BY ALL"
    query += " ORDER BY ALL"
    out = _same(real_local, real_s3, "query", query, "--format", "csv")
    assert "binanceus" in out


def test_audit_equals_the_local_one(real_local, real_s3):
    out = _same(real_local, real_s3, "audit", "--json")
    assert json.loads(out)


def test_arb_after_a_replay_equals_the_local_one(real_local, real_s3):
    for root in (real_local, real_s3):
        assert xle("replay", "--from", REAL_FROM, "--to", REAL_TO, "--data", root).exit_code == 0
    _same(real_local, real_s3, "arb", "--format", "json")


def test_export_of_a_log_on_s3_writes_the_same_local_files(real_local, real_s3, tmp_path):
    on_disk, on_s3 = tmp_path / "from-disk", tmp_path / "from-s3"
    args = ("export", "--format", "tardis", "--from", REAL_FROM, "--to", REAL_TO)
    assert xle(*args, "--out", on_disk, "--data", real_local).exit_code == 0
    result = xle(*args, "--out", on_s3, "--data", real_s3)
    assert result.exit_code == 0, result.stderr
    written = sorted(p.relative_to(on_s3) for p in on_s3.rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(on_disk) for p in on_disk.rglob("*") if p.is_file())
    assert written
    for name in written:  # gzip headers carry the time of writing: compare the contents
        assert _content(on_s3 / name) == _content(on_disk / name)


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


@pytest.mark.parametrize("table", ["quotes", "integrity"])
def test_a_second_replay_of_the_same_window_replaces_its_rows_on_s3(real_s3, table):
    replay = ("replay", "--from", REAL_FROM, "--to", REAL_TO, "--data", real_s3)
    count = ("query", f"SELECT count(*) AS n FROM {table}", "--format", "json", "--data", real_s3)
    assert xle(*replay).exit_code == 0
    first = xle(*count).json()
    assert xle(*replay).exit_code == 0
    assert xle(*count).json() == first
    assert not [k for k in keys(real_s3) if k.rpartition("/")[2].startswith(".")]


def test_query_skips_unreadable_and_foreign_files_on_s3_with_the_local_warnings(
    real_local, s3_root
):
    import pyarrow as pa
    import pyarrow.parquet as pq

    hour = real_local / "raw" / "exchange=binance" / "date=2021-10-12" / "hour=00"
    (hour / "broken-0.parquet").write_bytes(b"not a parquet file")
    pq.write_table(pa.table({"x": [1]}), hour / "foreign-0.parquet")
    upload(real_local, s3_root)
    query = ("query", "SELECT exchange, count(*) AS n FROM raw GROUP BY ALL ORDER BY ALL")
    out = _same(real_local, s3_root, *query, "--format", "json")
    assert json.loads(out) == [
        {"exchange": "binance", "n": 270},
        {"exchange": "binanceus", "n": 485},
    ]
    warnings = xle(*query, "--data", s3_root).stderr
    assert f"{s3_root}/raw/exchange=binance/date=2021-10-12/hour=00/broken-0.parquet" in warnings
    assert "foreign-0.parquet: not a file of this table" in warnings
