"""What feeds the dashboard's engine: the live recorder or a paced replay of the log.

Both sessions write the engine from exactly one thread and hand each record's outputs to
:meth:`DashboardState.ingest`; the web threads only read. The replay thread paces by
record time (``speed`` record-seconds per wall second, or flat out) and feeds in small
batches, releasing the lock between them, so the page stays responsive at any speed.
Scrubbing forward fast-forwards the same feed; scrubbing back starts over from the
range's start with a fresh engine. Either way the state after a scrub to T is the state
of a replay that played to T: books, chart histories, episodes and clock.
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

__all__ = ["LiveSession", "ReplaySession", "Session", "first_record_ns", "log_source"]

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

    Uses the replay command's own reader (``xle.store.reader.read_records``), so the
    dashboard sees exactly the records, order and warm-up that ``xle replay`` does.
    """
    from xle.store.reader import read_records

    def source(start_ns: int) -> Iterator[tuple[RawRecord, bool]]:
        return iter(read_records(data_root, start_ns, end_ns, exchanges=exchanges, symbols=symbols))

    return source


def first_record_ns(
    data_root: Path,
    start_ns: int,
    end_ns: int,
    exchanges: tuple[str, ...] | None = None,
    symbols: tuple[str, ...] | None = None,
) -> int | None:
    """Time of the first record in ``[start_ns, end_ns]``, None when the range is empty.

    A replay starts there rather than at ``start_ns``: before it there is nothing to see.
    Reads only as far as the first batch that holds a record (no warm-up).
    """
    from xle.store.reader import read_records

    read = read_records(
        data_root, start_ns, end_ns, exchanges=exchanges, symbols=symbols, warm_up=False
    )
    for chunk in read.chunks():
        if chunk:
            return chunk[0].recv_ns
    return None


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
        wait_for_viewer: bool = False,
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
        #: Until a page shows the replay, it stays at its start even when playing:
        #: started from the command line, nobody would see its first minutes.
        self.waiting_for_viewer = wait_for_viewer
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

    def viewer_connected(self) -> None:
        """A page is showing the replay: a replay waiting for one starts playing now."""
        if not self.waiting_for_viewer:
            return
        with self._cond:
            self.waiting_for_viewer = False
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
            if (
                not self._playing
                or self._speed is None
                or self.loading
                or self.finished
                or self.waiting_for_viewer
            ):
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
                paused_at = None if self._playing or self.finished else self._position
            if seek_to is not None:
                feed = self._seek(feed, seek_to)
                continue
            if feed is not None and paused_at is not None and feed.due(min(paused_at, self.end_ns)):
                # Paused between two batches: the books show everything up to the
                # paused time, as a replay scrubbed to it does.
                self._catch_up(feed, paused_at, alerts=True)
                continue
            if feed is None or self.finished or not self._playing or self.waiting_for_viewer:
                with self._cond:
                    if not self._stopped and self._seek_to is None:
                        self._cond.wait(0.1)
                continue
            self._play_step(feed)

    def _seek(self, feed: _Feed | None, t_ns: int) -> _Feed:
        """Bring the state to "played up to ``t_ns``": fast-forward from where the feed
        is, or, going back, start over from the range's start with a fresh engine.

        Replaying from the start (not warming up from a snapshot near ``t_ns``) is what
        gives the charts their history, the episode table its episodes and the clock its
        time, exactly as a replay that played to ``t_ns``. Alerts are not raised for the
        episodes skipped over: they are in the table, not news.
        """
        if feed is None or feed.closed or t_ns < feed.last_ns:
            self.state.reset(self._engine_factory())
            feed = _Feed(self._source(self.start_ns))
        if not self._catch_up(feed, t_ns, alerts=False):
            return feed  # a newer seek (or stop) interrupted this one; it decides
        with self._cond:
            self.finished = False
            self.loading = False
            self._position = t_ns
            self._reanchor()
        return feed

    def _catch_up(self, feed: _Feed, t_ns: int, *, alerts: bool) -> bool:
        """Feed every record up to ``t_ns`` inclusive in batches; False if interrupted."""
        start_ns, end_ns = self.start_ns, min(t_ns, self.end_ns)
        while True:
            if self._stopped or self._seek_to is not None:
                return False
            with self.state.lock:
                engine, deadline = self.state.engine, time.monotonic() + BATCH_SECONDS
                for _ in range(BATCH_RECORDS):
                    rec = feed.peek()
                    if rec is None or rec.recv_ns > end_ns:
                        return True
                    feed.take()
                    warmup = rec.recv_ns < start_ns
                    self.state.ingest(rec, engine.on_record(rec), warmup=warmup, alerts=alerts)
                    if time.monotonic() > deadline:
                        break
            time.sleep(0)  # let the web threads have the interpreter

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
                        self._finish(engine, feed)
                        return
                    break
                if rec.recv_ns > target:
                    break
                feed.take()
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

    def _finish(self, engine: Engine, feed: _Feed) -> None:
        self.state.ingest_outputs(engine.finish())
        feed.closed = True  # the engine has closed its episodes: going back rebuilds it
        with self._cond:
            self.finished = True
            self._playing = False
            self._position = self.end_ns


class _Feed:
    """The replay's records from the range's start, with one record of look-ahead.

    ``last_ns`` is the time of the last record fed: a seek at or after it can go on
    from here, one before it has to start over.
    """

    __slots__ = ("closed", "exhausted", "last_ns", "pending", "records")

    def __init__(self, records: Iterator[tuple[RawRecord, bool]]) -> None:
        self.records = records
        self.pending: RawRecord | None = None
        self.exhausted = False
        self.closed = False
        self.last_ns = -1

    def peek(self) -> RawRecord | None:
        if self.pending is None and not self.exhausted:
            item = next(self.records, None)
            if item is None:
                self.exhausted = True
            else:
                self.pending = item[0]
        return self.pending

    def take(self) -> None:
        """The peeked record has been fed."""
        assert self.pending is not None
        self.last_ns = self.pending.recv_ns
        self.pending = None

    def due(self, t_ns: int) -> bool:
        """Whether a record at or before ``t_ns`` is still to be fed."""
        if self.closed:
            return False
        rec = self.peek()
        return rec is not None and rec.recv_ns <= t_ns


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
