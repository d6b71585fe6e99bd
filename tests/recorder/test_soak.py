"""Memory must not grow while recording: a short soak by default, a minute-long one as slow.

The simulator runs as its own process (``xle simulate``) at a high rate so that it does
not share this process's memory or GIL; the recorder, with the engine, runs here and the
resident set size of this process is sampled while it records. After a warm-up (books
filled, Arrow pools sized), the peak of the second half must not be much above the peak
of the first half.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest

from tests.recorder.conftest import FAST, read_log
from xle.analytics.engine import Engine
from xle.config import load_config
from xle.recorder.live import DEFAULT_SYMBOLS, Recorder, RecorderConfig

pytestmark = pytest.mark.e2e

MB = 1 << 20


@contextmanager
def simulator_process(*args: str) -> Iterator[str]:
    """``xle simulate --port 0 …`` in a subprocess; yields its ``HOST:PORT``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "xle.cli", "simulate", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = None
        deadline = time.monotonic() + 30
        while address is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"--simulator (127\.0\.0\.1:\d+)", line)
            address = found.group(1) if found else None
        assert address, "xle simulate did not print its address"
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining
        yield address
    finally:
        proc.terminate()
        proc.wait(10)


def soak(tmp_path, seconds: float, warmup: float, rate: str, roll_seconds: float) -> None:
    data = tmp_path / "data"
    with simulator_process("--rate", rate, "--coinbase-rate", rate, "--levels", "200") as sim:
        cfg = RecorderConfig(
            data_root=data,
            symbols=dict(DEFAULT_SYMBOLS),
            simulator=sim,
            roll_seconds=roll_seconds,
            options=FAST,
        )
        recorder = Recorder(cfg, engine=Engine(load_config()))
        me = psutil.Process()
        handle = recorder.start_in_thread()
        samples: list[float] = []
        try:
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                assert handle.is_alive(), f"recorder died: {handle.error!r}"
                time.sleep(0.25)
                if time.monotonic() - start >= warmup:
                    samples.append(me.memory_info().rss / MB)
        finally:
            handle.stop()
            assert handle.join(60)
    assert handle.error is None
    frames = sum(s.frames for s in recorder.stats.values())
    assert frames > 1000 * seconds  # it really was busy
    half = len(samples) // 2
    first, second = max(samples[:half]), max(samples[half:])
    grew = f"RSS grew: first half max {first:.0f} MB, then {second:.0f} MB"
    assert second <= first * 1.05 + 16, grew
    assert len([r for r in read_log(data) if r.kind == "ws"]) == frames


def test_short_soak_memory_does_not_grow(tmp_path):
    soak(tmp_path, seconds=6.0, warmup=2.0, rate="600", roll_seconds=2.0)


@pytest.mark.slow
def test_minute_soak_at_high_rate_memory_does_not_grow(tmp_path):
    soak(tmp_path, seconds=75.0, warmup=10.0, rate="1000", roll_seconds=10.0)
