"""Helpers shared by the recorder tests: run a recorder until a condition, read its log."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.s3server import s3_endpoint, s3_env, s3_root  # noqa: F401
from xle.recorder.feedbase import FeedOptions
from xle.recorder.live import Recorder
from xle.records import RawRecord
from xle.store.reader import read_records

#: Reconnect fast in tests; everything else as in production.
FAST = FeedOptions(
    backoff_initial=0.05,
    backoff_max=0.2,
    rest_retry_initial=0.05,
    rest_retry_max=0.2,
    rate_limit_backoff=0.3,
    ban_backoff=0.3,
)


def read_log(root: Path) -> list[RawRecord]:
    """Every record of the raw log under ``root``, in seq order per run."""
    return sorted(read_records(root).records(), key=lambda r: (r.run, r.seq))


def run_until(
    recorder: Recorder, done: Callable[[], bool], timeout: float = 20.0, settle: float = 0.0
) -> None:
    """Run ``recorder`` in its thread until ``done()`` holds (then ``settle`` s more)."""
    handle = recorder.start_in_thread()
    deadline = time.monotonic() + timeout
    try:
        while not done():
            if not handle.is_alive():
                break
            assert time.monotonic() < deadline, f"condition not met in {timeout} s"
            time.sleep(0.02)
        time.sleep(settle)
    finally:
        handle.stop()
        assert handle.join(30), "recorder did not stop"
    if handle.error is not None:
        raise handle.error


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    return tmp_path / "data"
