"""What feeds the dashboard's engine: the live recorder or a paced replay of the log.

Both sessions write the engine from exactly one thread and hand each record's outputs to
:meth:`DashboardState.ingest`; the web threads only read. The replay thread paces by
record time (``speed`` record-seconds per wall second, or flat out) and feeds in small
batches, releasing the lock between them, so the page stays responsive at any speed.
Scrubbing rebuilds the engine from the log at the new time (``replay_from`` warms every
book up from its latest snapshot before that time), which is exactly the state a full
replay has there.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from xle.analytics.engine import Engine
from xle.dashboard.state import DashboardState
from xle.records import RawRecord

__all__ = ["LiveSession", "ReplaySession", "Session", "log_source"]

Source = Callable[[int], Iterator[tuple[RawRecord, bool]]]
"""``source(start_ns)`` -> (record, warmup) pairs from ``start_ns`` to the range's end."""

#: Records fed per lock hold; small enough that a web request never waits long.
BATCH_RECORDS = 256
#: Longest the feeder holds the lock in one go (seconds).
BATCH_SECONDS = 0.004


class Session(Protocol):
    """What the callbacks need from a session."""

    state: DashboardState
    mode: str  # "live" | "replay"

    def stop(self) -> None: ...


def log_source(
    data_root: Path,
    end_ns: int,
    exchanges: tuple[str, ...] | None = None,
    symbols: tuple[str, ...] | None = None,
) -> Source:
    """A replay source over the raw log under ``data_root``, up to ``end_ns`` inclusive.

    Uses the replay command's own reader (``xle.replay.session.replay_records``), so the
    dashboard sees exactly the records, order and warm-up that ``xle replay`` does.
    """
    from xle.replay.session import replay_records

    def source(start_ns: int) -> Iterator[tuple[RawRecord, bool]]:
        return iter(replay_records(data_root, start_ns, end_ns, exchanges, symbols))

    return source


class ReplaySession:
    """A replay of ``[start_ns, end_ns]`` with play, pause, speed and seek.

    ``position_ns`` is the record time on screen: while playing at speed ``s`` it moves
    ``s`` record-seconds per wall second (even across quiet stretches of the log); at
    ``speed=None`` ("max") it is the time of the last record fed.
    """

    mode = "replay"

    def __init__(
        self,
        state: DashboardState,
        source: Source,
        start_ns: int,
        end_ns: int,
        engine_factory: Callable[[], Engine],
        *,
        speed: float | None = 1.0,
        playing: bool = False,
    ) -> None:
        self.state = state
        self.start_ns = start_ns
        self.end_ns = end_ns
        self._source = source
        self._engine_factory = engine_factory
        self._cond = threading.Condition()
        self._speed = speed
        self._playing = playing
        self._seek_to: int | None = start_ns
        self._position = start_ns
        self._anchor_pos = start_ns
        self._anchor_wall = time.monotonic()
        self._stopped = False
        self.finished = False
        self.loading = True
        self._thread = threading.Thread(target=self._run, name="xle-replay", daemon=True)

    # ------------------------------------------------------------------ control

    def start(self) -> ReplaySession:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)

    def play(self) -> None:
        with self._cond:
            if self.finished:
                self._seek_to = self.start_ns
            self._playing = True
            self._reanchor()
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._position = self.position_ns
            self._playing = False
            self._reanchor()
            self._cond.notify_all()

    def set_speed(self, speed: float | None) -> None:
        """Record-seconds per wall second, or None to run flat out."""
        if speed is not None and (not math.isfinite(speed) or speed <= 0):
            raise ValueError(f"speed must be positive, not {speed!r}")
        with self._cond:
            self._position = self.position_ns
            self._speed = speed
            self._reanchor()
            self._cond.notify_all()

    def seek(self, t_ns: int) -> None:
        """Jump to ``t_ns`` (clamped to the range); play/pause state is kept."""
        with self._cond:
            self._seek_to = min(max(int(t_ns), self.start_ns), self.end_ns)
            self._position = self._seek_to
            self.loading = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ reading

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def position_ns(self) -> int:
        with self._cond:
            if not self._playing or self._speed is None or self.loading or self.finished:
                return self._position
            elapsed = time.monotonic() - self._anchor_wall
            return min(self.end_ns, self._anchor_pos + int(elapsed * 1e9 * self._speed))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until a pending seek has been applied (tests and the demo use it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.loading:
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------------ the thread

    def _reanchor(self) -> None:
        self._anchor_pos = self._position
        self._anchor_wall = time.monotonic()

    def _run(self) -> None:
        feed: _Feed | None = None
        while True:
            with self._cond:
                if self._stopped:
                    return
                seek_to, self._seek_to = self._seek_to, None
            if seek_to is not None:
                feed = self._rebuild(seek_to)
                continue
            if feed is None or self.finished or not self._playing:
                with self._cond:
                    if not self._stopped and self._seek_to is None:
                        self._cond.wait(0.1)
                continue
            self._play_step(feed)

    def _rebuild(self, t_ns: int) -> _Feed:
        """Fresh engine, then feed the warm-up records (fast, in batches) up to ``t_ns``."""
        self.state.reset(self._engine_factory())
        feed = _Feed(self._source(t_ns))
        while feed.pending is None and not feed.exhausted:
            if self._stopped or self._seek_to is not None:
                break
            with self.state.lock:
                engine, deadline = self.state.engine, time.monotonic() + BATCH_SECONDS
                for _ in range(BATCH_RECORDS):
                    item = next(feed.records, None)
                    if item is None:
                        feed.exhausted = True
                        break
                    rec, warmup = item
                    if not warmup:
                        feed.pending = rec
                        break
                    self.state.ingest(rec, engine.on_record(rec), warmup=True)
                    if time.monotonic() > deadline:
                        break
            time.sleep(0)
        with self._cond:
            self.finished = False
            self.loading = False
            self._position = t_ns
            self._reanchor()
        return feed

    def _play_step(self, feed: _Feed) -> None:
        """Feed what is due by now, one batch at most, then wait for the next record."""
        with self._cond:
            speed = self._speed
            target = math.inf if speed is None else self.position_ns
        fed_ns: int | None = None
        with self.state.lock:
            engine, deadline = self.state.engine, time.monotonic() + BATCH_SECONDS
            for _ in range(BATCH_RECORDS):
                rec = feed.peek()
                if rec is None or rec.recv_ns > self.end_ns:
                    if speed is None or target >= self.end_ns:
                        self._finish(engine)
                        return
                    break
                if rec.recv_ns > target:
                    break
                feed.pending = None
                self.state.ingest(rec, engine.on_record(rec))
                fed_ns = rec.recv_ns
                if time.monotonic() > deadline:
                    break
        if speed is None:
            if fed_ns is not None:
                with self._cond:
                    self._position = fed_ns
            time.sleep(0.002)  # let the web threads have the interpreter
        elif fed_ns is None:
            due = feed.pending.recv_ns if feed.pending is not None else self.end_ns
            wait = (min(due, self.end_ns) - target) / 1e9 / speed
            with self._cond:
                self._cond.wait(min(0.05, max(wait, 0.001)))

    def _finish(self, engine: Engine) -> None:
        self.state.ingest_outputs(engine.finish())
        with self._cond:
            self.finished = True
            self._playing = False
            self._position = self.end_ns


class _Feed:
    """The replay's record iterator with one record of look-ahead."""

    __slots__ = ("exhausted", "pending", "records")

    def __init__(self, records: Iterator[tuple[RawRecord, bool]]) -> None:
        self.records = records
        self.pending: RawRecord | None = None
        self.exhausted = False

    def peek(self) -> RawRecord | None:
        if self.pending is None and not self.exhausted:
            item = next(self.records, None)
            if item is None:
                self.exhausted = True
            else:
                self.pending = item[0]
        return self.pending


class LiveSession:
    """The in-process recorder feeding the engine; ``recorder_factory`` builds it.

    The recorder calls ``state.ingest`` as its listener, holding (or after releasing)
    ``state.lock``; the lock is re-entrant so both work.
    """

    mode = "live"

    def __init__(self, state: DashboardState, recorder: Any) -> None:
        self.state = state
        self.recorder = recorder
        self._handle: Any = None

    @classmethod
    def from_config(cls, state: DashboardState, config: Any) -> LiveSession:
        """Build the recorder (``xle.recorder.live``) wired to ``state``."""
        from xle.recorder.live import Recorder

        recorder = Recorder(
            config,
            engine=state.engine,
            listener=lambda rec, outputs: state.ingest(rec, outputs),
            lock=state.lock,
        )
        return cls(state, recorder)

    def start(self) -> LiveSession:
        self._handle = self.recorder.start_in_thread()
        return self

    def is_alive(self) -> bool:
        return self._handle is not None and bool(self._handle.is_alive())

    def stop(self) -> None:
        """Stop the recorder and wait for it to close its log."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.stop()
            handle.join()
