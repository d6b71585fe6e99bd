"""The public surface is ``xle.__all__`` (pinned in tests/log/test_public_api.py); the
modules behind it are internal. What stays pinned here is the raw record layout, which
the log files on disk depend on."""

from __future__ import annotations

import xle


def test_raw_record_fields_follow_the_log_layout():
    assert xle.RawRecord.__struct_fields__ == (
        "recv_ns",
        "exchange",
        "run",
        "conn",
        "seq",
        "kind",
        "stream",
        "symbol",
        "payload",
    )
