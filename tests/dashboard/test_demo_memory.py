"""Soak: the live dashboard's memory stays flat over minutes with a page open.

``xle simulate`` runs in its own process, so the resident size measured is the
dashboard's alone (recorder, engine, state, web server). The log rolls every 20 s: the
first rolls grow the Parquet writer's pools once, so the baseline is taken after them.
Excluded from the default run: ``pytest -m slow tests/dashboard/test_demo_memory.py``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xle.config import demo_config_path

from .conftest import new_page

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: Seconds of the soak, when its baseline is taken, and the growth allowed after it.
SOAK_S = 240.0
BASELINE_S = 90.0
MAX_GROWTH_KB = 12_000


def _rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def _start(*args: str, pattern: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "xle.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return proc, found.group(1)
    proc.kill()
    raise AssertionError("".join(seen))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_live_dashboard_memory_stays_flat_with_a_page_open(browser, tmp_path):
    sim, address = _start("simulate", "--port", "0", pattern=r"--simulator (127\.0\.0\.1:\d+)")
    dash = None
    try:
        dash, url = _start(
            "dashboard", "--live", "--simulator", address, "--port", "0",
            "--data", str(tmp_path), "--roll-seconds", "20",
            "--config", str(demo_config_path()),
            pattern=r"dashboard: (http://\S+)",
        )  # fmt: skip
        page = new_page(browser)
        page.goto(url)
        start = time.monotonic()
        samples: list[tuple[float, int]] = []
        while (elapsed := time.monotonic() - start) < SOAK_S:
            page.wait_for_timeout(5000)
            samples.append((elapsed, _rss_kb(dash.pid)))
        page.context.close()
        baseline = max(kb for t, kb in samples if BASELINE_S - 15 <= t <= BASELINE_S)
        late = max(kb for t, kb in samples if t >= SOAK_S - 30)
        assert late - baseline < MAX_GROWTH_KB, samples
    finally:
        if dash is not None:
            _stop(dash)
        _stop(sim)
