"""Server-side dashboard state: the engine, its lock, and bounded histories of what it said.

The browser never holds the truth. One feeder thread (the live recorder or a replay
session) is the only writer of the engine; it calls :meth:`DashboardState.ingest` after
each record with the outputs the engine produced. Dash callbacks, running in the web
server's threads, take the same lock for the short moment they read a ladder or walk a
book, so they always see a consistent engine between two records.

Histories are sampled in *record* time (every ``sample_ns`` of ``recv_ns``), never wall
time, so a replay at 100x draws the same curves as at 1x. Each sample is a ``Frame``
numbered by a counter that only grows; a browser keeps the number of the last frame it
drew and asks only for newer ones (``extendData``), and a ``generation`` counter tells it
when everything was reset (a replay scrub rebuilt the engine).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xle.analytics.engine import Engine
from xle.records import ArbitrageEpisode, IntegrityEvent, RawRecord

if TYPE_CHECKING:
    from xle.dashboard.fills import Fills

__all__ = [
    "Alert",
    "BookKey",
    "BookSample",
    "DashboardState",
    "Frame",
    "PairKey",
]

BookKey = tuple[str, str]  # (exchange, symbol)
PairKey = tuple[str, str, str]  # (market, buy "exchange:SYMBOL", sell "exchange:SYMBOL")

#: Record time between two history samples (250 ms).
DEFAULT_SAMPLE_NS = 250_000_000
#: Samples kept (at 250 ms: 10 minutes of record time).
DEFAULT_HISTORY = 2400


@dataclass(frozen=True, slots=True)
class BookSample:
    mid: float | None
    spread_bps: float | None
    imbalance: float | None


@dataclass(frozen=True, slots=True)
class Frame:
    """Everything the time-series charts need at one record-time instant."""

    frame_id: int
    t_ns: int
    books: dict[BookKey, BookSample]
    edges: dict[PairKey, float]


@dataclass(frozen=True, slots=True)
class Alert:
    """An arbitrage episode opened; ``wall`` is when the dashboard learned of it."""

    alert_id: int
    episode: ArbitrageEpisode
    wall: float


@dataclass(slots=True)
class _Counters:
    records: int = 0
    last_recv_ns: int | None = None
    first_recv_ns: int | None = None
    rate_window: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))


class DashboardState:
    """The engine plus bounded, versioned histories for the browser to poll."""

    def __init__(
        self,
        engine: Engine,
        *,
        lock: threading.RLock | None = None,
        sample_ns: int = DEFAULT_SAMPLE_NS,
        history: int = DEFAULT_HISTORY,
        max_events: int = 500,
    ) -> None:
        # Re-entrant: the live recorder may call the listener while it still holds the
        # lock it fed the engine under, and the listener takes it again.
        self.lock: threading.RLock = lock if lock is not None else threading.RLock()
        self.engine = engine
        self.sample_ns = sample_ns
        self._history = history
        self._max_events = max_events
        self.generation = 0
        self._frame_counter = 0
        self._alert_counter = 0
        self.episode_version = 0
        self.integrity_version = 0
        #: A backtest's fills drawn over the replay (``--backtest RUN``), else None.
        self.fills: Fills | None = None
        self._reset_buffers()

    # ------------------------------------------------------------------ writing

    def _reset_buffers(self) -> None:
        self.frames: deque[Frame] = deque(maxlen=self._history)
        self.integrity: deque[IntegrityEvent] = deque(maxlen=self._max_events)
        self.closed_episodes: deque[ArbitrageEpisode] = deque(maxlen=self._max_events)
        self.open_episodes: dict[PairKey, ArbitrageEpisode] = {}
        #: Episodes closed since the last reset (``closed_episodes`` keeps the newest).
        self.closed_total = 0
        self.alerts: deque[Alert] = deque(maxlen=32)
        self.counters = _Counters()
        self._next_sample_ns: int | None = None

    def reset(self, engine: Engine) -> None:
        """Start over with a fresh engine (a replay scrub): every history is dropped."""
        with self.lock:
            self.engine = engine
            self.generation += 1
            self.episode_version += 1
            self.integrity_version += 1
            self._reset_buffers()

    def ingest(
        self,
        rec: RawRecord,
        outputs: Sequence[object],
        warmup: bool = False,
        *,
        alerts: bool = True,
    ) -> None:
        """Account for one record the engine just consumed (called by the feeder thread).

        Warm-up records (a replay fast-forwarding to its start) only move the engine: no
        samples, alerts or events, because they happened before the range on screen.
        ``alerts=False`` (a scrub fast-forwarding) keeps everything but the toasts.
        """
        with self.lock:
            counters = self.counters
            counters.records += 1
            if warmup:
                return
            recv_ns = rec.recv_ns
            if counters.first_recv_ns is None:
                counters.first_recv_ns = recv_ns
            counters.last_recv_ns = recv_ns
            self._take(outputs, alerts)
            next_sample = self._next_sample_ns
            if next_sample is None or recv_ns >= next_sample:
                self._sample(recv_ns)
                self._next_sample_ns = (recv_ns // self.sample_ns + 1) * self.sample_ns

    def _take(self, outputs: Iterable[object], alerts: bool = True) -> None:
        """Keep what the page shows of the engine's outputs (caller holds the lock)."""
        for out in outputs:
            if isinstance(out, ArbitrageEpisode):
                self._episode(out, alerts)
            elif isinstance(out, IntegrityEvent):
                self.integrity.append(out)
                self.integrity_version += 1

    def ingest_outputs(self, outputs: Iterable[object]) -> None:
        """Outputs that belong to no record (``Engine.finish`` at the end of a replay)."""
        with self.lock:
            self._take(outputs)
            if self.counters.last_recv_ns is not None:
                self._sample(self.counters.last_recv_ns)

    def _episode(self, episode: ArbitrageEpisode, alert: bool) -> None:
        key = (episode.market, episode.buy_venue, episode.sell_venue)
        self.episode_version += 1
        if episode.status == "open":
            self.open_episodes[key] = episode
            if not alert:
                return
            self._alert_counter += 1
            self.alerts.append(Alert(self._alert_counter, episode, time.monotonic()))
        else:
            self.open_episodes.pop(key, None)
            self.closed_episodes.append(episode)
            self.closed_total += 1

    def _sample(self, t_ns: int) -> None:
        engine = self.engine
        books: dict[BookKey, BookSample] = {}
        for exchange, symbol in engine.book_keys():
            book = engine.book(exchange, symbol)
            if book is None or not engine.is_synced(exchange, symbol):
                books[(exchange, symbol)] = BookSample(None, None, None)
                continue
            bid, ask = book.best_bid(), book.best_ask()
            mid = spread_bps = None
            if bid is not None and ask is not None:
                mid = (bid + ask) / 2.0
                spread_bps = (ask - bid) / mid * 1e4
            books[(exchange, symbol)] = BookSample(
                mid, spread_bps, engine.imbalance(exchange, symbol)[0]
            )
        self._frame_counter += 1
        edges = dict(engine.arbitrage.last_edge)
        self.frames.append(Frame(self._frame_counter, t_ns, books, edges))

    # ------------------------------------------------------------------ reading

    def frames_after(self, frame_id: int) -> list[Frame]:
        """Frames newer than ``frame_id`` (all kept frames for 0), oldest first."""
        with self.lock:
            frames = self.frames
            if not frames or frames[-1].frame_id <= frame_id:
                return []
            if frame_id < frames[0].frame_id:
                return list(frames)
            start = len(frames) - (frames[-1].frame_id - frame_id)
            return [frames[i] for i in range(start, len(frames))]

    def last_frame_id(self) -> int:
        with self.lock:
            return self.frames[-1].frame_id if self.frames else 0

    def markets(self) -> list[str]:
        """Canonical markets of every book seen, most venues first, then by name."""
        with self.lock:
            venues: dict[str, int] = {}
            for exchange, symbol in self.engine.book_keys():
                market = self.engine.market_of(exchange, symbol)
                if market is not None:
                    venues[market] = venues.get(market, 0) + 1
        return sorted(venues, key=lambda m: (-venues[m], m))

    def books_of(self, market: str | None) -> list[BookKey]:
        """Books of one canonical market, in exchange order."""
        if market is None:
            return []
        with self.lock:
            engine = self.engine
            return [key for key in engine.book_keys() if engine.market_of(*key) == market]

    def pairs_of(self, market: str | None) -> list[PairKey]:
        """Ordered venue pairs (buy, sell) of a market, from its books."""
        labels = [f"{ex}:{sym}" for ex, sym in self.books_of(market)]
        return [(market, a, b) for a in labels for b in labels if a != b] if market else []

    def alerts_after(self, alert_id: int) -> list[Alert]:
        with self.lock:
            return [a for a in self.alerts if a.alert_id > alert_id]

    def last_alert_id(self) -> int:
        with self.lock:
            return self._alert_counter

    def episodes(self) -> list[ArbitrageEpisode]:
        """Open episodes, then closed ones, newest first."""
        with self.lock:
            opened = sorted(self.open_episodes.values(), key=lambda e: -e.start_ns)
            closed = sorted(self.closed_episodes, key=lambda e: -e.start_ns)
        return opened + closed

    def integrity_events(self, limit: int = 200) -> list[IntegrityEvent]:
        """Newest first."""
        with self.lock:
            events = list(self.integrity)
        return events[::-1][:limit]

    def records_per_second(self) -> float:
        """Records ingested per wall second over the last few polls (live feed health)."""
        with self.lock:
            window = self.counters.rate_window
            now = time.monotonic()
            window.append((now, self.counters.records))
            old_t, old_n = window[0]
            while len(window) > 2 and now - window[0][0] > 5.0:
                window.popleft()
                old_t, old_n = window[0]
            elapsed = now - old_t
            return (self.counters.records - old_n) / elapsed if elapsed > 0 else 0.0
