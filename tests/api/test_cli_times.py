"""The command line keeps a time's nanoseconds: a window ending on the last record's
``recv_ns`` includes that record (issue 12.1: the demo's printed replay command lost it)."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from xle.store.reader import read_records
from xle.store.writer import LogWriter
from xle.timeutil import format_ns

from .conftest import DATA


def _write_log_ending_off_the_microsecond(root: Path) -> tuple[int, int, int]:
    """The golden records rewritten with the last one 915 ns past a whole microsecond."""
    records = list(read_records(DATA / "golden").records())
    last = records[-1]
    records[-1] = msgspec.structs.replace(last, recv_ns=last.recv_ns + 980_529_915)
    writer = LogWriter(root, records[0].run, roll_seconds=3600.0)
    try:
        for rec in records:
            writer.append(rec)
    finally:
        writer.close()
    return records[0].recv_ns, records[-1].recv_ns, len(records)


def test_replay_to_the_last_records_nanosecond_includes_it(tmp_path, cli):
    first, last, count = _write_log_ending_off_the_microsecond(tmp_path)
    assert last % 1_000 == 915
    result = cli("replay", "--data", tmp_path, "--from", format_ns(first), "--to", format_ns(last))
    assert result.exit_code == 0, result.stderr
    records = re.search(r"records\s+([\d,]+) ", result.stdout)
    assert records is not None, result.stdout
    assert int(records.group(1).replace(",", "")) == count


def test_replay_to_one_nanosecond_before_the_last_record_leaves_it_out(tmp_path, cli):
    first, last, count = _write_log_ending_off_the_microsecond(tmp_path)
    result = cli(
        "replay", "--data", tmp_path, "--from", format_ns(first), "--to", format_ns(last - 1)
    )
    assert result.exit_code == 0, result.stderr
    records = re.search(r"records\s+([\d,]+) ", result.stdout)
    assert records is not None, result.stdout
    assert int(records.group(1).replace(",", "")) == count - 1


def test_cli_time_with_ten_fraction_digits_is_a_one_line_error(tmp_path, cli):
    _write_log_ending_off_the_microsecond(tmp_path)
    result = cli(
        "replay", "--data", tmp_path, "--from", "2024-01-02T03:00:00Z",
        "--to", "2024-01-02T03:00:13.9805299151Z",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --to: not a time:")
    assert "nanoseconds are the finest resolution" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
