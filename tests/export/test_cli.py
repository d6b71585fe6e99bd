"""``xle export`` on the command line: what went in and out, and one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    root = tmp_path / "log"
    shutil.copytree(GOLDEN, root)
    return root


def _one_error_line(result) -> str:
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_export_prints_rows_in_and_rows_out_per_file(cli, golden, tmp_path):
    out = tmp_path / "out"
    result = cli("export", "--data", golden, "--format", "tardis", "--out", out)
    assert result.exit_code == 0, result.stderr
    for path in sorted(out.iterdir()):
        assert path.name in result.stdout
    assert "events in" in result.stdout and "rows out" in result.stdout
    assert "rows in: 30 records, 26 book and trade events" in result.stdout
    # 54: the diff Binance buffered before its snapshot is inside the snapshot, not after it
    assert "rows out: 54 in 6 files" in result.stdout


def test_export_hftbacktest_of_one_book_writes_one_array_per_day(cli, golden, tmp_path):
    out = tmp_path / "out"
    result = cli(
        "export",
        "--data",
        golden,
        "-f",
        "hftbacktest",
        "--kind",
        "depth",
        "--exchange",
        "binance",
        "--symbol",
        "btcusdt",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in out.iterdir()] == ["binance_BTCUSDT_2024-01-02.npz"]
    assert "binance_BTCUSDT_2024-01-02.npz" in result.stdout


def test_export_unknown_kind_is_one_error_line(cli, golden, tmp_path):
    line = _one_error_line(
        cli(
            "export",
            "--data",
            golden,
            "-f",
            "hftbacktest",
            "-k",
            "book_snapshot_25",
            "--out",
            tmp_path / "out",
        )
    )
    assert "unknown kind 'book_snapshot_25' for --format hftbacktest" in line
    assert "depth, trades" in line
    assert not (tmp_path / "out").exists()


def test_export_empty_range_is_one_error_line(cli, golden, tmp_path):
    line = _one_error_line(
        cli(
            "export",
            "--data",
            golden,
            "-f",
            "tardis",
            "--out",
            tmp_path / "out",
            "--from",
            "2024-01-02T04:00:00Z",
            "--to",
            "2024-01-02T03:00:00Z",
        )
    )
    assert "empty time range" in line


def test_export_window_without_records_is_one_error_line_and_writes_nothing(cli, golden, tmp_path):
    out = tmp_path / "out"
    line = _one_error_line(
        cli(
            "export",
            "--data",
            golden,
            "-f",
            "tardis",
            "--out",
            out,
            "--from",
            "2030-01-01",
            "--to",
            "2030-01-02",
        )
    )
    assert "no records between" in line
    assert list(out.iterdir()) == []


def test_export_unknown_exchange_is_one_error_line(cli, golden, tmp_path):
    line = _one_error_line(
        cli("export", "--data", golden, "-f", "tardis", "-e", "kraken", "--out", tmp_path / "o")
    )
    assert "unknown exchange 'kraken'" in line


def test_export_symbol_the_log_lacks_is_one_error_line(cli, golden, tmp_path):
    line = _one_error_line(
        cli("export", "--data", golden, "-f", "tardis", "-s", "DOGEUSDT", "--out", tmp_path / "o")
    )
    assert "no book for DOGEUSDT" in line and "BTCUSDT" in line


def test_export_into_a_file_is_one_error_line(cli, golden, tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a directory")
    line = _one_error_line(cli("export", "--data", golden, "-f", "tardis", "--out", target))
    assert f"--out {target} is a file" in line


def test_export_of_a_missing_data_root_is_one_error_line(cli, tmp_path):
    line = _one_error_line(
        cli("export", "--data", tmp_path / "nowhere", "-f", "tardis", "--out", tmp_path / "o")
    )
    assert "data directory not found" in line
