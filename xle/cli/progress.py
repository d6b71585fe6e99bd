"""How far a replay is, shown to the person waiting on it (``xle replay``).

The library reports progress through a callback; this module turns the calls into a bar
on a terminal or a plain line every so often on a log file or a pipe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from xle.timeutil import format_ns

__all__ = ["ReplayProgress"]


def _clock_text(seconds: float) -> str:
    whole = max(round(seconds), 0)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ReplayProgress:
    """How far a replay is, for a person waiting on it: a bar on a terminal, else a plain
    line every ``every`` seconds (a log file or a pipe gets no escape codes).

    The estimate of the time left uses record time: at ``--speed N`` it is the record
    time still to go divided by N; flat out it extrapolates the elapsed wall time.
    """

    def __init__(
        self,
        console: Console,
        start_ns: int,
        end_ns: int,
        *,
        speed: float | None = None,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.start_ns = start_ns
        self.span = max(end_ns - start_ns, 1)
        self.speed = speed
        self.every = every
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._bar: Progress | None = None
        self._task: int | None = None

    def __enter__(self) -> ReplayProgress:
        if self.console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]replay[/bold]"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TextColumn("{task.fields[records]:,} records"),
                TextColumn("{task.fields[at]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("replay", total=self.span, records=0, at="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def update(self, recv_ns: int, records: int) -> None:
        done = min(max(recv_ns - self.start_ns, 0), self.span)
        if self._bar is not None and self._task is not None:
            at = format_ns(recv_ns)[:19]
            self._bar.update(self._task, completed=done, records=records, at=at)
            return
        if self.every <= 0:
            return
        now = self._clock()
        if now - self._last_line < self.every:
            return
        self._last_line = now
        self.console.print(self.line(recv_ns, records, now), highlight=False, markup=False)

    def line(self, recv_ns: int, records: int, now: float) -> str:
        done = min(max(recv_ns - self.start_ns, 0), self.span)
        fraction = done / self.span
        elapsed = now - self._started
        if self.speed is not None:
            eta = _clock_text((self.span - done) / 1e9 / self.speed)
        elif fraction > 0:
            eta = _clock_text(elapsed * (1 - fraction) / fraction)
        else:
            eta = "unknown"
        return (
            f"replay {fraction * 100:5.1f}%  at {format_ns(recv_ns)[:19]}Z"
            f"  {records:,} records  elapsed {_clock_text(elapsed)}  ETA {eta}"
        )
