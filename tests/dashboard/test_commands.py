"""``xle dashboard`` argument checks and ``xle demo`` end to end (a real process)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xle.cli import app
from xle.config import demo_config_path
from xle.store.reader import read_records
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


def _serve_then_interrupt(
    *args: str, background: bool = False, shell: str | None = None, env: dict | None = None
) -> tuple[int, str]:
    """Run ``xle ARGS`` (which must print "dashboard: URL"), fetch the page, then Ctrl-C.

    ``background``: started the way a shell starts a background job, SIGINT ignored.
    ``shell``: run this command line (as a user would paste it) instead of ``xle ARGS``.
    """
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    argv = ["/bin/sh", "-c", f"exec {shell}"] if shell else [sys.executable, "-m", "xle.cli", *args]
    proc = subprocess.Popen(
        argv,
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
    assert "the replay plays once the page is open" in output


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
    first = next(iter(read_records(golden_copy, None, T1_NS)))[0].recv_ns
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


@pytest.mark.parametrize("command", ["demo", "dashboard"])
@pytest.mark.parametrize(
    ("port", "says"),
    [("99999", "less than or equal to 65535"), ("-1", "greater than or equal to 0")],
)
def test_a_port_outside_0_to_65535_is_refused(command, port, says):
    result = _run(command, "--port", port)
    assert result.exit_code == 2
    assert f"Invalid value for '--port': Input should be {says}" in result.output


def test_demo_on_a_busy_port_fails_with_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run("demo", "--port", str(port), "--data", str(tmp_path))
    assert result.exit_code == 2
    assert result.output == (
        f"error: cannot serve on 127.0.0.1:{port}: Address already in use\n"
    ), result.output


def test_demo_prints_a_status_line_every_few_seconds(tmp_path):
    code, output = _serve_then_interrupt(
        "demo", "--port", "0", "--data", str(tmp_path), "--status-seconds", "0.5"
    )
    assert code == 0, output
    lines = [line for line in output.splitlines() if line.startswith("status: ")]
    assert len(lines) >= 2, output
    found = re.search(
        r"status: ([\d,]+) records .*· books synced (\d+)/(\d+) · episodes", lines[-1]
    )
    assert found, lines[-1]
    assert int(found.group(1).replace(",", "")) > 0
    assert f"logging to {tmp_path}/demo/raw" in lines[-1]


def test_the_replay_command_the_demo_prints_runs_as_printed(tmp_path):
    code, output = _serve_then_interrupt("demo", "--port", "0", "--data", str(tmp_path))
    assert code == 0, output
    printed = next(line for line in output.splitlines() if line.startswith("replay it: "))
    command = printed.removeprefix("replay it: ")
    argv = shlex.split(command)
    assert argv[0] != "xle" and Path(argv[0]).is_file(), "runs without xle on PATH"
    recv = [rec.recv_ns for rec in read_records(tmp_path / "demo").records()]
    start, end = argv[argv.index("--from") + 1], argv[argv.index("--to") + 1]
    # To the nanosecond: ``--to`` parsed back includes the last record.
    assert (start, end) == (format_ns(min(recv)), format_ns(max(recv))), "first to last record"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    code, replayed = _serve_then_interrupt(shell=f"{command} --port 0 --paused", env=env)
    assert code == 0, replayed
    assert f"replaying {tmp_path}/demo/raw from " in replayed and "dashboard: http" in replayed
