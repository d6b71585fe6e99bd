"""Receive timestamps (``recv_ns``) for the live recorder.

``recv_ns`` (docs/design.md, "The raw event log") is UTC nanoseconds, but a plain
``time.time_ns()`` can jump backwards when NTP steps the wall clock, which would break
the replay order of one run. So the wall clock is read once, when the run starts, and
from then on advanced by ``time.monotonic_ns()``, which never goes back. Within a run
the timestamps keep the exact spacing the monotonic clock measured; across runs they are
anchored to UTC.
"""

from __future__ import annotations

import time

__all__ = ["RecvClock"]


class RecvClock:
    """UTC nanoseconds anchored once, advanced by the monotonic clock; never goes back.

    Call the instance (``clock()``) for the current receive time; it is one
    ``monotonic_ns`` call and an addition, cheap enough for every frame.
    """

    __slots__ = ("anchor_mono_ns", "anchor_wall_ns", "offset_ns")

    def __init__(self, wall_ns: int | None = None, mono_ns: int | None = None) -> None:
        self.anchor_wall_ns = time.time_ns() if wall_ns is None else wall_ns
        self.anchor_mono_ns = time.monotonic_ns() if mono_ns is None else mono_ns
        #: recv_ns = monotonic_ns() + offset_ns
        self.offset_ns = self.anchor_wall_ns - self.anchor_mono_ns

    def __call__(self) -> int:
        return time.monotonic_ns() + self.offset_ns

    def at(self, mono_ns: int) -> int:
        """The receive time of a moment measured earlier with ``time.monotonic_ns()``."""
        return mono_ns + self.offset_ns
