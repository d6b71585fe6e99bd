"""``xle dashboard`` argument checks and ``xle demo`` end to end (a real process)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xle.cli import app
from xle.config import demo_config_path
from xle.replay.session import replay_records
from xle.timeutil import format_ns

from .conftest import T0_NS, T1_NS


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("flags", [[], ["--live", "--replay"]])
def test_dashboard_needs_exactly_one_mode(flags):
    result = _run("dashboard", *flags)
    assert result.exit_code == 2
    assert "choose one of --live or --replay" in result.output


def test_dashboard_replay_needs_a_time_range(golden_copy):
    result = _run("dashboard", "--replay", "--from", str(T0_NS), "--data", str(golden_copy))
    assert result.exit_code == 2
    assert "--replay needs --to" in result.output


def test_dashboard_replay_rejects_an_empty_range(golden_copy):
    result = _run(
        "dashboard", "--replay", "--from", str(T1_NS), "--to", str(T0_NS),
        "--data", str(golden_copy),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "empty time range" in result.output


def test_dashboard_replay_rejects_a_missing_data_dir(tmp_path):
    result = _run(
        "dashboard", "--replay", "--from", str(T0_NS), "--to", str(T1_NS),
        "--data", str(tmp_path / "nowhere"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "data directory not found" in result.output


def test_dashboard_rejects_a_bad_speed(golden_copy):
    result = _run(
        "dashboard", "--replay", "--from", str(T0_NS), "--to", str(T1_NS),
        "--speed", "fast", "--data", str(golden_copy),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--speed" in result.output


def _ignore_sigint() -> None:
    """What a shell does to a background job (``xle demo &``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _serve_then_interrupt(*args: str, background: bool = False) -> tuple[int, str]:
    """Run ``xle ARGS`` (which must print "dashboard: URL"), fetch the page, then Ctrl-C.

    ``background``: started the way a shell starts a background job, SIGINT ignored.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "xle.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=_ignore_sigint if background else None,
    )
    lines: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"dashboard: (http://127\.0\.0\.1:\d+/)", line)
            url = found.group(1) if found else None
        assert url is not None, "".join(lines)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert "xle" in response.read().decode()
        time.sleep(1.5)  # let the session feed its engine a little
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(lines) + rest


def test_dashboard_replay_serves_the_log_until_ctrl_c(golden_copy):
    code, output = _serve_then_interrupt(
        "dashboard", "--replay", "--from", str(T0_NS), "--to", str(T1_NS),
        "--data", str(golden_copy), "--port", "0", "--speed", "max",
    )  # fmt: skip
    assert code == 0, output
    assert "replaying" in output and "stopped" in output


def test_demo_serves_the_dashboard_and_closes_the_log_on_ctrl_c(tmp_path):
    code, output = _serve_then_interrupt("demo", "--port", "0", "--data", str(tmp_path))
    assert code == 0, output
    assert "log closed" in output
    assert f"--config {demo_config_path()}" in output, "its replay hint keeps the demo's fees"
    raw = Path(tmp_path) / "demo" / "raw"
    assert sorted(p.name for p in raw.glob("exchange=*")) == [
        "exchange=binance",
        "exchange=binanceus",
        "exchange=coinbase",
    ]
    assert list(raw.glob("exchange=*/date=*/hour=*/*.parquet"))
    assert not list(raw.glob("_journal/*.arrow")), "a closed log leaves no journal behind"


def test_dashboard_replay_refuses_a_range_without_records(golden_copy):
    later = T1_NS + 3600 * 10**9
    result = _run(
        "dashboard", "--replay", "--from", str(later), "--to", str(later + 60 * 10**9),
        "--data", str(golden_copy), "--port", "0",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: no records between 2024-01-02T04:00:12")
    assert "dashboard:" not in result.output


def test_dashboard_replay_starts_at_the_first_record_of_an_early_range(golden_copy):
    first = next(iter(replay_records(golden_copy, None, T1_NS, None, None)))[0].recv_ns
    code, output = _serve_then_interrupt(
        "dashboard", "--replay", "--from", str(first - 3600 * 10**9), "--to", str(T1_NS),
        "--data", str(golden_copy), "--port", "0", "--paused",
    )  # fmt: skip
    assert code == 0, output
    assert f"from {format_ns(first)} to {format_ns(T1_NS)}" in output
    assert "before the first record" in output


def test_demo_started_in_the_background_stops_on_sigint_and_closes_the_log(tmp_path):
    code, output = _serve_then_interrupt(
        "demo", "--port", "0", "--data", str(tmp_path), background=True
    )
    assert code == 0, output
    assert "log closed" in output
    assert not list((tmp_path / "demo" / "raw").glob("_journal/*.arrow"))


def test_dashboard_started_in_the_background_stops_on_sigint(golden_copy):
    code, output = _serve_then_interrupt(
        "dashboard", "--replay", "--from", str(T0_NS), "--to", str(T1_NS),
        "--data", str(golden_copy), "--port", "0", background=True,
    )  # fmt: skip
    assert code == 0, output
    assert "stopped" in output
