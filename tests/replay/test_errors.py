"""Bad input: one line on stderr, exit status 2, never a traceback; bad files mid-replay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.replay.conftest import Cli, Result
from tests.replay.golden import export

T0 = "2024-01-02T03:00:00Z"
T1 = "2024-01-02T03:01:00Z"
BINANCE_FILE = "raw/exchange=binance/date=2024-01-02/hour=03/golden-0.parquet"


def _fails(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in result.stderr, result.stderr
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, line
    return line


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "args",
    [
        ("replay", "--from", T0, "--to", T1),
        ("book", "--exchange", "binance", "--symbol", "BTCUSDT", "--at", T0),
        ("query", "SELECT 1"),
        ("arb",),
        ("audit",),
    ],
)
def test_missing_data_directory_is_one_line(cli: Cli, tmp_path: Path, args: tuple) -> None:
    missing = tmp_path / "nowhere"
    _fails(cli(*args, "--data", missing), "data directory not found", str(missing))


def test_data_directory_without_raw_log_is_named(cli: Cli, tmp_path: Path) -> None:
    _fails(cli("replay", "--data", tmp_path, "--from", T0, "--to", T1), "no raw log in")


@pytest.mark.parametrize(("start", "end"), [(T1, T0), (T0, T0)])
def test_empty_time_range_is_refused(cli: Cli, golden_root: Path, start: str, end: str) -> None:
    _fails(cli("replay", "--data", golden_root, "--from", start, "--to", end), "empty time range")
    assert not (golden_root / "derived").exists()


def test_range_without_records_is_refused_and_writes_nothing(cli: Cli, golden_root: Path) -> None:
    result = cli("replay", "--data", golden_root, "--from", "2030-01-01", "--to", "2030-01-02")
    _fails(result, "no records between 2030-01-01T00:00:00")
    assert not list(golden_root.rglob("derived/**/*.parquet"))


def test_audit_of_a_range_without_records_is_refused(cli: Cli, golden_root: Path) -> None:
    result = cli("audit", "--data", golden_root, "--from", "2030-01-01", "--to", "2030-01-02")
    _fails(result, "no records between")


@pytest.mark.parametrize(
    "args",
    [
        ("replay", "--from", "yesterday", "--to", T1),
        ("replay", "--from", T0, "--to", "2024-13-01"),
        ("book", "--exchange", "binance", "--symbol", "BTCUSDT", "--at", "noon"),
        ("arb", "--since", "last week"),
        ("audit", "--from", "soon"),
    ],
)
def test_bad_time_string_is_one_line(cli: Cli, golden_root: Path, args: tuple) -> None:
    _fails(cli(*args, "--data", golden_root), "not a time")


@pytest.mark.parametrize(
    "args",
    [
        ("replay", "--from", T0, "--to", T1, "--exchange", "kraken"),
        ("book", "--exchange", "kraken", "--symbol", "BTCUSDT", "--at", T1),
        ("audit", "--exchange", "kraken"),
    ],
)
def test_unknown_exchange_is_one_line(cli: Cli, golden_root: Path, args: tuple) -> None:
    _fails(cli(*args, "--data", golden_root), "unknown exchange 'kraken'", "binance")


def test_bad_speed_is_one_line(cli: Cli, golden_root: Path) -> None:
    args = ("replay", "--data", golden_root, "--from", T0, "--to", T1)
    _fails(cli(*args, "--speed", "fast"), "--speed")
    _fails(cli(*args, "--speed", "0"), "--speed must be positive")


def test_book_of_an_unknown_symbol_is_one_line(cli: Cli, golden_root: Path) -> None:
    result = cli(
        "book", "--data", golden_root, "--exchange", "binance", "--symbol", "ETHUSDT", "--at", T1
    )
    _fails(result, "no book for binance ETHUSDT")


def test_book_over_a_truncated_file_names_the_file(cli: Cli, golden_root: Path) -> None:
    _truncate(golden_root / BINANCE_FILE)
    result = cli(
        "book", "--data", golden_root, "--exchange", "binance", "--symbol", "BTCUSDT", "--at", T1
    )
    _fails(result, "cannot read", BINANCE_FILE)


def test_query_over_a_truncated_raw_file_skips_it(cli: Cli, golden_root: Path) -> None:
    """The views skip an unreadable file as replay does (``open_views`` names it)."""
    _truncate(golden_root / BINANCE_FILE)
    result = cli("query", "--data", golden_root, "-f", "json", "SELECT count(*) AS n FROM raw")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"n": 17}]  # the coinbase rows
    assert "warning: " in result.stderr and BINANCE_FILE in result.stderr


def test_query_over_a_corrupt_derived_file_skips_it(cli: Cli, golden_root: Path) -> None:
    assert cli("replay", "--data", golden_root, "--from", T0, "--to", T1).exit_code == 0
    files = sorted((golden_root / "derived" / "quotes").rglob("*.parquet"))
    kept = sum(pq.read_metadata(path).num_rows for path in files[1:])
    files[0].write_bytes(b"PAR1 not really parquet")
    result = cli("query", "--data", golden_root, "-f", "json", "SELECT count(*) AS n FROM quotes")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"n": kept}]
    assert "warning: " in result.stderr and files[0].name in result.stderr


def test_replay_over_a_truncated_file_reports_it_and_goes_on(cli: Cli, golden_root: Path) -> None:
    _truncate(golden_root / BINANCE_FILE)
    result = cli("replay", "--data", golden_root, "--from", T0, "--to", T1)
    assert result.exit_code == 0, result.stderr
    assert "warning: cannot read" in result.stderr and BINANCE_FILE in result.stderr
    assert "unreadable" in result.stdout
    events = [json.loads(line) for line in export(golden_root, "integrity").splitlines()]
    corrupt = [e for e in events if e["kind"] == "corrupt_file"]
    assert len(corrupt) == 1 and corrupt[0]["exchange"] == "binance"
    assert BINANCE_FILE in corrupt[0]["detail"]
    quotes = [json.loads(line) for line in export(golden_root, "quotes").splitlines()]
    assert {q["exchange"] for q in quotes} == {"coinbase"}


def test_unknown_exchange_partition_is_skipped_with_a_warning(
    cli: Cli, golden_root: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean"
    shutil.copytree(golden_root, clean)
    alien = golden_root / "raw/exchange=kraken/date=2024-01-02/hour=03"
    alien.mkdir(parents=True)
    shutil.copy(golden_root / BINANCE_FILE, alien / "golden-0.parquet")
    result = cli("replay", "--data", golden_root, "--from", T0, "--to", T1)
    assert result.exit_code == 0, result.stderr
    assert "skipping raw partition exchange=kraken" in result.stderr
    assert cli("replay", "--data", clean, "--from", T0, "--to", T1).exit_code == 0
    for table in ("quotes", "arbitrage", "integrity"):
        assert export(golden_root, table) == export(clean, table)
    audit = cli("audit", "--data", golden_root, "--json")
    assert json.loads(audit.stdout)["skipped_exchanges"] == ["kraken"]


def test_bad_sql_is_one_line(cli: Cli, golden_root: Path) -> None:
    _fails(cli("query", "--data", golden_root, "SELEC 1"), "Parser Error")
    _fails(cli("query", "--data", golden_root, "SELECT * FROM nope"), "nope")


def test_replay_refuses_to_publish_over_an_unreadable_derived_file(
    cli: Cli, golden_root: Path
) -> None:
    args = ("replay", "--data", golden_root, "--from", T0, "--to", T1)
    assert cli(*args).exit_code == 0
    victim = next((golden_root / "derived" / "integrity").rglob("*.parquet"))
    victim.write_bytes(b"garbage")
    assert cli(*args).exit_code == 0  # the same scope simply replaces its own files
    victim.write_bytes(b"garbage")
    overlapping = ("replay", "--data", golden_root, "--from", "2024-01-02T03:00:05Z", "--to", T1)
    _fails(cli(*overlapping), "cannot read derived file", victim.name, "delete it")
    leftovers = [p.name for p in (golden_root / "derived").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_missing_config_file_is_one_line(cli: Cli, golden_root: Path, tmp_path: Path) -> None:
    args = ("replay", "--data", golden_root, "--from", T0, "--to", T1)
    _fails(cli(*args, "--config", tmp_path / "none.toml"), "config file not found")


def test_config_file_changes_the_replay(cli: Cli, golden_root: Path, tmp_path: Path) -> None:
    config = tmp_path / "fees.toml"
    config.write_text("arb_threshold_bps = 40.0\n")
    args = ("replay", "--data", golden_root, "--from", T0, "--to", T1, "--config", config)
    assert "1 opened, 1 closed" in cli(*args).stdout
