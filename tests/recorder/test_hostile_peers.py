"""The recorder against hostile peers: its memory stays bounded and each case is logged.

Each test starts ``tests/recorder/hostile_peer.py`` in its own process (so only the
recorder's memory is in this process) and records from it with small limits, a few MB
over which the peer goes far (hundreds of MB, or without end). The resident set size of
this process is sampled while recording; its growth over the value before the run must
stay far below what the peer sent. The ``slow`` variants run each case for a minute with
the default limits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
import pytest

from tests.recorder.conftest import FAST, read_log
from xle.analytics.engine import Engine
from xle.config import load_config
from xle.recorder.feedbase import FeedOptions
from xle.recorder.live import Recorder, RecorderConfig
from xle.records import RawRecord

MB = 1 << 20

#: Small limits so that each hostile case is over them within a second.
SMALL = replace(
    FAST,
    binance_max_frame=1 * MB,
    coinbase_max_frame=1 * MB,
    queue_bytes=4 * MB,
    rest_max_bytes=1 * MB,
    rest_deadline=1.0,
    retry_after_max=0.5,
)


@contextmanager
def hostile_peer(ws: str, rest: str, size: int) -> Iterator[int]:
    """``hostile_peer.py`` in a subprocess; yields its port."""
    args = ["--ws", ws, "--rest", rest, "--size", str(size)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.recorder.hostile_peer", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), f"hostile peer did not start: {line!r}"
        yield int(line.split()[1])
    finally:
        proc.kill()
        proc.wait(10)


@dataclass
class Outcome:
    recorder: Recorder
    records: list[RawRecord]
    rss_growth_mb: float  # peak RSS during the run minus RSS before it
    seconds: float

    def events(self, name: str) -> list[dict]:
        events = [r for r in self.records if r.kind == "event" and r.stream == name]
        return [json.loads(r.payload) for r in events]


def record_from(
    tmp_path: Path,
    ws: str,
    rest: str,
    size: int,
    options: FeedOptions,
    done: Callable[[Recorder], bool],
    *,
    min_seconds: float = 0.0,
    timeout: float = 30.0,
    resync_timeout: float = 10.0,
    unflushed_bytes: int = 8 * MB,
    roll_seconds: float = 60.0,
    read_back: bool = True,
    measure_close: bool = True,
) -> Outcome:
    """Record BTCUSDT from a hostile peer (engine on) until ``done`` and ``min_seconds``.

    RSS is sampled until the recorder has stopped, or, without ``measure_close``, until
    it is asked to (leaving out the log writer's final Parquet conversion)."""
    data = tmp_path / "data"
    me = psutil.Process()
    with hostile_peer(ws, rest, size) as port:
        cfg = RecorderConfig(
            data_root=data,
            symbols={"binance": ["BTCUSDT"]},
            simulator=f"127.0.0.1:{port}",
            options=options,
            resync_timeout=resync_timeout,
            unflushed_bytes=unflushed_bytes,
            roll_seconds=roll_seconds,
        )
        recorder = Recorder(cfg, engine=Engine(load_config()))
        before = me.memory_info().rss
        peak = before
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.wait(0.02):
                peak = max(peak, me.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        handle = recorder.start_in_thread()
        started = time.monotonic()
        limit = max(timeout, min_seconds + 10)
        try:
            while time.monotonic() - started < min_seconds or not done(recorder):
                assert handle.is_alive(), f"recorder died: {handle.error!r}"
                assert time.monotonic() - started < limit, "condition not met in time"
                time.sleep(0.05)
        finally:
            if not measure_close:
                stop.set()
                sampler.join()
            handle.stop()
            assert handle.join(120), "recorder did not stop"
            stop.set()
            sampler.join()
        elapsed = time.monotonic() - started
    assert handle.error is None
    print(f"{ws}/{rest}: RSS growth {(peak - before) / MB:.0f} MB in {elapsed:.1f} s")
    records = read_log(data) if read_back else []
    return Outcome(recorder, records, (peak - before) / MB, elapsed)


def _errors(recorder: Recorder) -> int:
    return recorder.stats["binance"].rest_errors


# ----------------------------------------------------------------------------- frames


def test_frame_over_the_cap_is_refused_unbuffered_logged_and_reconnected(tmp_path):
    out = record_from(
        tmp_path, "huge", "ok", 512 * MB, SMALL, lambda r: r.stats["binance"].connects >= 3
    )
    refused = out.events("frame_too_large")
    assert len(refused) >= 2 and refused[0]["max_frame"] == 1 * MB
    gone = out.events("disconnected")
    assert gone[0]["reason"] == "frame_too_large" and gone[0]["code"] == 1009
    assert gone[0]["retry_in"] > 0  # the usual backoff
    frames = [r for r in out.records if r.kind == "ws"]
    assert len(frames) >= 6 and all(len(r.payload) < 200 for r in frames)
    assert out.rss_growth_mb < 40, f"RSS grew {out.rss_growth_mb:.0f} MB"


def test_flood_of_frames_under_the_cap_keeps_memory_bounded(tmp_path):
    out = record_from(
        tmp_path,
        "flood",
        "ok",
        1 * MB - 16,
        SMALL,
        lambda r: r.stats["binance"].bytes > 300 * MB,
        timeout=60.0,
        measure_close=False,  # the slow soak measures the writer's conversions too
    )
    assert not out.events("frame_too_large")
    # 300 MB arrived faster than the disk takes it; memory holds ~8 MB of it at a time
    # plus the 4 MB frame queue, the frame being read and the Arrow copy of a flush
    assert out.rss_growth_mb < 100, f"RSS grew {out.rss_growth_mb:.0f} MB"
    frames = [r for r in out.records if r.kind == "ws"]
    assert len(frames) == out.recorder.stats["binance"].frames  # nothing lost


# ----------------------------------------------------------------------------- REST


def test_rest_body_over_the_cap_is_abandoned_logged_and_retried(tmp_path):
    out = record_from(tmp_path, "quiet", "huge", 1 << 30, SMALL, lambda r: _errors(r) >= 3)
    errors = out.events("error")
    assert errors[0]["what"] == "snapshot" and errors[0]["reason"] == "too_large"
    assert all(e["retry_in"] > 0 for e in errors)
    assert not [r for r in out.records if r.kind == "rest"]
    assert out.rss_growth_mb < 40, f"RSS grew {out.rss_growth_mb:.0f} MB"


def test_rest_body_that_never_ends_is_stopped_at_the_cap(tmp_path):
    out = record_from(tmp_path, "quiet", "endless", 0, SMALL, lambda r: _errors(r) >= 3)
    errors = out.events("error")
    assert {e["reason"] for e in errors} == {"too_large"}
    assert "over the cap of 1048576 bytes" in errors[0]["error"]
    assert out.rss_growth_mb < 40, f"RSS grew {out.rss_growth_mb:.0f} MB"


def test_rest_body_that_trickles_is_stopped_at_the_total_deadline(tmp_path):
    out = record_from(tmp_path, "quiet", "trickle", 0, SMALL, lambda r: _errors(r) >= 2)
    errors = out.events("error")
    assert {e["reason"] for e in errors} == {"deadline"}
    assert out.seconds < 6  # two 1 s deadlines and short backoffs, not the 10 s read timeout
    stamps = [r.recv_ns for r in out.records if r.stream == "error"]
    assert stamps[1] - stamps[0] >= 1.0e9


@pytest.mark.parametrize(
    "value", ["1e12", "inf", "-inf", "nan", "soon", "Fri, 01 Jan 9999 00:00:00 GMT"]
)
def test_absurd_retry_after_is_clamped_and_the_snapshot_retried(tmp_path, value):
    out = record_from(
        tmp_path,
        "quiet",
        f"retry:{value}",
        0,
        SMALL,
        lambda r: r.stats["binance"].snapshot_fetches >= 1,
        timeout=10.0,
    )
    error = out.events("error")[0]
    assert error["status"] == 429 and error["retry_after"] == value
    assert error["retry_in"] <= 0.5  # SMALL.retry_after_max
    rest = next(r for r in out.records if r.kind == "rest")
    assert rest.recv_ns - out.records[0].recv_ns < 3e9


# ----------------------------------------------------------------------------- watchdog


def test_watchdog_resyncs_a_book_left_unsynced_whatever_the_reason(tmp_path):
    # The connection stays up and the snapshot never completes (each try hits the 1 s
    # deadline, then backs off up to 60 s): no ResyncRequest ever comes from the engine.
    slow_retries = replace(SMALL, rest_retry_initial=60.0, rest_retry_max=60.0)
    out = record_from(
        tmp_path,
        "quiet",
        "trickle",
        0,
        slow_retries,
        lambda r: r.stats["binance"].resyncs >= 2,
        resync_timeout=1.5,
        timeout=15.0,
    )
    resyncs = out.events("resync")
    assert [e["reason"] for e in resyncs[:2]] == ["watchdog", "watchdog"]
    assert all(e["unsynced_s"] >= 1.5 for e in resyncs)
    stamps = [r.recv_ns for r in out.records if r.stream == "resync"]
    assert stamps[1] - stamps[0] >= 1.5e9  # watched again from the last resync
    assert _errors(out.recorder) >= 2  # each watchdog resync made a fresh request


def test_watchdog_does_not_cut_short_a_snapshot_request_in_flight(tmp_path):
    slow_ok = replace(SMALL, rest_deadline=5.0)
    out = record_from(
        tmp_path,
        "quiet",
        "slow",
        0,
        slow_ok,
        lambda r: r.stats["binance"].snapshot_fetches >= 1,
        resync_timeout=0.5,
    )
    assert not out.events("resync")
    assert out.recorder.engine is not None
    assert out.recorder.engine.is_synced("binance", "BTCUSDT")


def test_watchdog_leaves_synced_books_alone(tmp_path):
    out = record_from(
        tmp_path,
        "quiet",
        "ok",
        0,
        SMALL,
        lambda r: r.stats["binance"].snapshot_fetches >= 1,
        min_seconds=2.5,
        resync_timeout=0.5,
    )
    assert not out.events("resync")


# ----------------------------------------------------------------------------- soaks


def _stats(out: Outcome) -> dict[str, int]:
    return out.recorder.stats["binance"].as_dict()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ws", "rest", "size", "limit_mb", "happened"),
    [
        # the 200 MB frame against the default 16 MiB cap: refused, reconnected
        ("huge", "ok", 200 * MB, 80, lambda s: s["disconnects"] >= 10),
        # frames just under the default cap: ~100 MB in the recorder (queued frames, the
        # one being read, 16 MiB unflushed and its Arrow copy) and up to ~300 MB of Arrow
        # memory in the log writer while it converts a 10 s journal of such frames
        ("flood", "ok", 16 * MB - 64, 700, lambda s: s["bytes"] > 500 * MB),
        # the 1 GB snapshot against the default 16 MiB REST cap
        ("quiet", "huge", 1 << 30, 80, lambda s: s["rest_errors"] >= 10),
        ("quiet", "endless", 0, 80, lambda s: s["rest_errors"] >= 10),
        ("quiet", "trickle", 0, 40, lambda s: s["rest_errors"] >= 5),  # 5 s deadline
        ("quiet", "retry:inf", 0, 40, lambda s: s["snapshot_fetches"] >= 1),
    ],
)
def test_minute_soak_against_a_hostile_peer_keeps_memory_bounded(
    tmp_path, ws, rest, size, limit_mb, happened
):
    opts = replace(FAST, rest_deadline=5.0, retry_after_max=5.0, rest_retry_max=2.0)
    out = record_from(
        tmp_path,
        ws,
        rest,
        size,
        opts,
        lambda r: True,
        min_seconds=60.0,
        unflushed_bytes=16 * MB,
        roll_seconds=10.0,  # Parquet conversion while recording, as a long run does
        read_back=False,  # GBs of log after a flood; the short tests check the events
    )
    assert out.rss_growth_mb < limit_mb, f"RSS grew {out.rss_growth_mb:.0f} MB"
    assert happened(_stats(out)), _stats(out)
