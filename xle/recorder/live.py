"""The live recorder: venue feeds -> RawRecords -> raw log, and the engine in-process.

::

    cfg = RecorderConfig(data_root=Path("data"), symbols={"binance": ["BTCUSDT"]})
    recorder = Recorder(cfg, engine=Engine(load_config()), listener=on_record)
    await recorder.run()                 # until cfg.duration or recorder.stop()
    handle = recorder.start_in_thread()  # or: own event loop in a daemon thread

Every frame, REST response and control event becomes one ``RawRecord``: stamped with
``recv_ns`` from a clock anchored once per run, numbered with ``seq`` in arrival order
(one event loop, so arrival order is well defined), appended to the ``LogWriter``
*first* -- the log is the product, nothing may be lost because an analysis crashed --
then fed to the engine (under ``lock`` when the engine is shared with another thread),
so gaps are caught live. The engine's ``ResyncRequest`` outputs go back to the venue's
feed: a Binance snapshot refetch or a Coinbase level2 resubscribe.

Which venues exist, their endpoints, default symbols and feeds come from the venue
registry (``xle.exchanges.registry``): this module names no venue. A watchdog does the
same for any book left unsynced for ``resync_timeout`` seconds of connected time,
whatever kept it so (a snapshot that failed, a lost resubscribe, a peer that never
answers). ``listener(rec, outputs)`` runs after each record, in the recorder's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from xle.analytics.engine import Engine, Output
from xle.errors import UsageError
from xle.exchanges.registry import EXCHANGES, VenueSpec, find_venue
from xle.exchanges.registry import venue as venue_spec
from xle.recorder.clock import RecvClock
from xle.recorder.feedbase import Feed, FeedOptions, Sink, VenueStats, event_payload
from xle.recorder.shards import ShardClaim
from xle.records import RawRecord, ResyncRequest
from xle.store.layout import new_run_id
from xle.store.upload import Uploader, UploadStats, default_journal_dir, is_remote_root
from xle.store.writer import LogWriter

__all__ = [
    "DEFAULT_SYMBOLS",
    "FeedFactory",
    "Listener",
    "Recorder",
    "RecorderConfig",
    "RecorderHandle",
    "feed_factory",
    "venue_endpoints",
]

Listener = Callable[[RawRecord, list[Output]], None]


class _DefaultSymbols(Mapping[str, list[str]]):
    """Each registered venue's default symbols (a fresh list per lookup), read live from
    the registry so that a venue registered later has its entry too."""

    def __getitem__(self, name: str) -> list[str]:
        spec = find_venue(name)
        if spec is None:
            raise KeyError(name)
        return list(spec.default_symbols)

    def __iter__(self) -> Iterator[str]:
        return iter(EXCHANGES)

    def __len__(self) -> int:
        return len(EXCHANGES)

    def __repr__(self) -> str:
        return repr(dict(self))


#: What ``xle record`` captures when no symbol is given (also what the simulator serves):
#: every registered venue's ``default_symbols``; a venue without any is recorded only
#: when asked for.
DEFAULT_SYMBOLS: Mapping[str, list[str]] = _DefaultSymbols()


class FeedFactory(Protocol):
    """What a ``VenueSpec.feed`` path names: builds the venue's feed for one run."""

    def __call__(
        self,
        spec: VenueSpec,
        symbols: list[str],
        *,
        ws_url: str,
        rest_url: str | None,
        sink: Sink,
        stats: VenueStats,
        config: RecorderConfig,
    ) -> Feed: ...


#: Internal errors (engine or listener exceptions) recorded as "error" events, at most.
_MAX_ERROR_EVENTS = 20


@dataclass
class RecorderConfig:
    """What to record, where from and where to.

    ``simulator="127.0.0.1:P"`` points every venue at ``ws://127.0.0.1:P/<venue>`` and, when
    it has REST, ``http://127.0.0.1:P/<venue>`` (docs/design.md, "The simulator").
    ``ws_urls`` / ``rest_urls`` override single venues by name, in the form of the venue's
    ``VenueSpec.ws_url`` / ``rest_url``: for Binance venues the WebSocket base
    (``/stream?streams=…`` is appended) and the REST base (``/api/v3/depth…`` is
    appended), for Coinbase the full WebSocket URL.

    ``data_root`` is a local directory or an object-storage URI (``s3://bucket/prefix``).
    For a URI the journal and the rolled Parquet files are staged in ``journal_dir``
    (default ``xle.store.upload.default_journal_dir(uri)``) and each rolled file is
    uploaded as one object, then deleted locally (``xle.store.upload``); run
    ``xle.store.upload.recover_remote`` before a restart after a crash.
    """

    data_root: Path | str
    #: Staging directory of an object-storage ``data_root`` (ignored for a local root).
    journal_dir: Path | None = None
    symbols: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_SYMBOLS))
    simulator: str | None = None
    ws_urls: dict[str, str] = field(default_factory=dict)
    rest_urls: dict[str, str] = field(default_factory=dict)
    roll_seconds: float = 60.0
    duration: float | None = None
    run: str | None = None
    flush_seconds: float = 1.0
    options: FeedOptions = field(default_factory=FeedOptions)
    #: Tuning some feeds read (None: the venue's own default): streams per connection
    #: and snapshot depth of Binance venues, products per connection of Coinbase.
    streams_per_connection: int | None = None
    products_per_connection: int = 10
    snapshot_limit: int | None = None
    #: Bytes logged but not yet flushed to disk above which the feeds stop reading until
    #: a flush completes (backpressure against a peer that sends faster than the disk).
    unflushed_bytes: int = 16 << 20
    #: The watchdog: a book unsynced for this many seconds while its connection is open,
    #: for whatever reason, gets its snapshot re-requested (Binance) or its level2
    #: resubscribed (Coinbase), with a ``resync`` event of reason ``watchdog``. Needs an
    #: engine (it alone knows whether a book is synced).
    resync_timeout: float = 10.0


def venue_endpoints(config: RecorderConfig, name: str) -> tuple[str, str | None]:
    """(WebSocket base or URL, REST base or None) of one venue under ``config``: the
    spec's defaults, the simulator's, then ``ws_urls`` / ``rest_urls``. A venue without
    REST keeps None (``Recorder`` refuses a ``rest_urls`` entry for it)."""
    spec = venue_spec(name)
    ws, rest = spec.ws_url, spec.rest_url
    if config.simulator:
        host = config.simulator.removeprefix("ws://").removeprefix("http://").rstrip("/")
        ws = f"ws://{host}/{name}"
        rest = None if rest is None else f"http://{host}/{name}"
    ws = config.ws_urls.get(name, ws)
    if rest is not None:
        rest = config.rest_urls.get(name, rest)
    return ws, rest


def feed_factory(spec: VenueSpec) -> FeedFactory:
    """The feed factory ``spec.feed`` names, imported now (see ``xle.exchanges.registry``
    for why a venue names its feed by path)."""
    module_name, _, attribute = spec.feed.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"{spec.name}: cannot load its feed {spec.feed!r}: {exc}") from None
    if not callable(factory):
        raise UsageError(f"{spec.name}: its feed {spec.feed!r} is not callable")
    return factory


class Recorder:
    """Captures the configured venues into the raw log; see the module docstring."""

    def __init__(
        self,
        config: RecorderConfig,
        engine: Engine | None = None,
        listener: Listener | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.listener = listener
        self.lock = lock
        self.run_id = config.run or new_run_id()
        unknown = sorted(set(config.symbols) - set(EXCHANGES))
        unknown += sorted((set(config.ws_urls) | set(config.rest_urls)) - set(EXCHANGES))
        if unknown:
            raise UsageError(f"unknown exchange(s) {unknown} (known: {', '.join(EXCHANGES)})")
        no_rest = [v for v in config.rest_urls if venue_spec(v).rest_url is None]
        if no_rest:
            with_rest = [v for v in EXCHANGES if venue_spec(v).rest_url is not None]
            raise UsageError(
                f"a REST URL for {', '.join(no_rest)}, which uses no REST"
                f" (venues with REST: {', '.join(with_rest)})"
            )
        self.venues = [v for v in EXCHANGES if config.symbols.get(v)]
        if not self.venues:
            raise UsageError("nothing to record: no symbols given for any exchange")
        #: Per-venue counters (frames, bytes, reconnects, resyncs, snapshot fetches, ...).
        self.stats: dict[str, VenueStats] = {v: VenueStats() for v in self.venues}
        self.clock = RecvClock()
        self.internal_errors = 0
        self._seq = 0
        self._conn = 0
        self._writer: LogWriter | None = None
        self._append: Callable[[RawRecord], None] | None = None
        self._feeds: dict[str, Feed] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stop_requested = False
        self._reporting_error = False
        self._unflushed = 0  # payload bytes appended since the last drain started
        self._unflushed_limit = config.unflushed_bytes
        self._draining: asyncio.Future[None] | None = None
        #: Where the journal and rolled files go: the data root itself, or the staging
        #: directory of an object-storage root, whose ``uploader`` PUTs each rolled file.
        self.local_root: Path
        self.uploader: Uploader | None = None
        if is_remote_root(config.data_root):
            uri = str(config.data_root)
            self.local_root = Path(config.journal_dir or default_journal_dir(uri))
            self.uploader = Uploader(self.local_root, uri, run=self.run_id)
        else:
            self.local_root = Path(config.data_root)
        self._claim: ShardClaim | None = None

    # ------------------------------------------------------------------ public

    def claim(self) -> None:
        """Claim this run's (venue, symbol) books in the root (``xle.recorder.shards``):
        ``UsageError`` when a live recorder already records one of them there. ``run()``
        does it when it has not been done; call it first to refuse before anything else."""
        if self._claim is None:
            symbols = {v: list(self.config.symbols[v]) for v in self.venues}
            self._claim = ShardClaim.acquire(self.local_root, self.run_id, symbols)

    @property
    def upload_stats(self) -> UploadStats | None:
        """Counters of the uploads to object storage (None for a local root)."""
        return None if self.uploader is None else self.uploader.stats

    @property
    def records(self) -> int:
        """Records logged so far in this run (== the last ``seq``)."""
        return self._seq

    async def run(self) -> None:
        """Record until ``config.duration`` elapses or ``stop()``; then close the log."""
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        if self._stop_requested:
            self._stop_event.set()
        cfg = self.config
        self.claim()
        try:
            if self.uploader is not None:
                self.uploader.start()
            try:
                self._writer = LogWriter(
                    self.local_root, self.run_id, cfg.roll_seconds, cfg.flush_seconds
                )
                await self._capture()
            finally:
                if self.uploader is not None:
                    await asyncio.to_thread(self.uploader.close)
        finally:
            if self._claim is not None:
                self._claim.release()
                self._claim = None

    async def _capture(self) -> None:
        cfg = self.config
        assert self._writer is not None and self._stop_event is not None
        self._append = self._writer.append
        failure: BaseException | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            self._feeds = self._build_feeds()
            tasks = [
                asyncio.create_task(feed.run(), name=f"xle-feed-{venue}")
                for venue, feed in self._feeds.items()
            ]
            if self.engine is not None:
                tasks.append(asyncio.create_task(self._watchdog(), name="xle-watchdog"))
            stopper = asyncio.create_task(self._stop_event.wait())
            done, _ = await asyncio.wait(
                [stopper, *tasks], timeout=cfg.duration, return_when=asyncio.FIRST_COMPLETED
            )
            stopper.cancel()
            for task in done:
                if task is not stopper and not task.cancelled() and task.exception():
                    failure = task.exception()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await task
                    except Exception as exc:  # already reported as `failure` or secondary
                        failure = failure or exc
            self._append = None
            self._writer.close()
        if failure is not None:
            raise failure

    def stop(self) -> None:
        """Ask ``run()`` to finish: feeds close, the log is flushed and closed (any thread)."""
        self._stop_requested = True
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed: nothing to stop
                loop.call_soon_threadsafe(event.set)

    def start_in_thread(self) -> RecorderHandle:
        """Run in a daemon thread with its own event loop; see ``RecorderHandle``."""
        handle = RecorderHandle(self)
        handle.start()
        return handle

    async def checkpoint(self) -> int:
        """Flush the log to disk now; returns the last ``seq`` that is durable."""
        writer = self._writer
        if writer is None or writer.closed:
            return self._seq
        seq = self._seq
        await asyncio.to_thread(writer.flush)
        return seq

    def stats_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of the counters: run, records, and per venue."""
        return {
            "run": self.run_id,
            "records": self._seq,
            "internal_errors": self.internal_errors,
            "venues": {v: s.as_dict() for v, s in self.stats.items()},
            **({} if self.uploader is None else {"upload": self.uploader.stats.as_dict()}),
        }

    # ------------------------------------------------------------------ Sink (hot path)

    def new_conn(self) -> int:
        self._conn += 1
        return self._conn

    def frame(
        self, exchange: str, conn: int, stream: str, symbol: str | None, payload: bytes
    ) -> bool:
        self._seq = seq = self._seq + 1
        rec = RawRecord(
            self.clock(), exchange, self.run_id, conn, seq, "ws", stream, symbol, payload
        )
        self._append(rec)  # type: ignore[misc]  # set while run() is active
        if self.engine is not None or self.listener is not None:
            self._dispatch(rec)
        self._unflushed += len(payload)
        return self._unflushed >= self._unflushed_limit

    async def drain(self) -> None:
        """Flush the log now (one flush shared by every feed that asks meanwhile).

        The log writer flushes every ``flush_seconds`` on its own; this bounds what waits
        in memory when frames come faster than that (a flood of large frames)."""
        flushing = self._draining
        if flushing is None:
            writer = self._writer
            if writer is None or writer.closed:
                return
            self._unflushed = 0
            flushing = self._draining = asyncio.ensure_future(asyncio.to_thread(writer.flush))
            flushing.add_done_callback(self._drained)
        await asyncio.shield(flushing)

    def _drained(self, flushing: asyncio.Future[None]) -> None:
        self._draining = None
        if not flushing.cancelled():
            flushing.exception()  # retrieved here; the feeds awaiting it raise it

    def rest(self, exchange: str, conn: int, path: str, symbol: str | None, payload: bytes) -> None:
        self._record(exchange, conn, "rest", path, symbol, payload)

    def event(self, exchange: str, conn: int, name: str, symbol: str | None, **fields: Any) -> None:
        stats = self.stats.get(exchange)
        if stats is not None:
            stats.events += 1
        self._record(exchange, conn, "event", name, symbol, event_payload(fields))

    # ------------------------------------------------------------------ internals

    def _record(
        self, exchange: str, conn: int, kind: str, stream: str, symbol: str | None, payload: bytes
    ) -> None:
        if self._append is None:
            return  # after close (a late callback): nothing more goes into this run
        self._seq = seq = self._seq + 1
        rec = RawRecord(
            self.clock(), exchange, self.run_id, conn, seq, kind, stream, symbol, payload
        )
        self._append(rec)
        self._unflushed += len(payload)
        if self.engine is not None or self.listener is not None:
            self._dispatch(rec)

    def _dispatch(self, rec: RawRecord) -> None:
        """Engine, then listener, then the engine's resync requests (in that order)."""
        outputs: list[Output] = []
        engine = self.engine
        if engine is not None:
            try:
                if self.lock is not None:
                    with self.lock:
                        outputs = engine.on_record(rec)
                else:
                    outputs = engine.on_record(rec)
            except Exception as exc:
                self._internal_error("engine", rec, exc)
        if self.listener is not None:
            try:
                self.listener(rec, outputs)
            except Exception as exc:
                self._internal_error("listener", rec, exc)
        for out in outputs:
            if type(out) is ResyncRequest:
                self._resync(out.exchange, out.symbol, out.reason)

    def _resync(self, exchange: str, symbol: str, reason: str) -> None:
        """Hand the engine's request to the venue's feed."""
        feed = self._feeds.get(exchange)
        if feed is not None:
            feed.request_resync(symbol, reason)

    def _is_synced(self, exchange: str, symbol: str) -> bool:
        engine = self.engine
        assert engine is not None
        if self.lock is not None:
            with self.lock:
                return engine.is_synced(exchange, symbol)
        return engine.is_synced(exchange, symbol)

    async def _watchdog(self) -> None:
        """Every book unsynced for ``resync_timeout`` s of connected time is resynced
        (forced: a snapshot fetch waiting to retry is restarted), then watched again from
        then; a feed that declines (a request in flight) is asked again at the next tick.

        Time while the book's connection is down does not count: the reconnect fetches
        snapshots (Binance) or subscribes (Coinbase) anyway.
        """
        timeout = self.config.resync_timeout
        tick = min(1.0, timeout / 4)
        unsynced_since: dict[tuple[str, str], float] = {}
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for venue, feed in self._feeds.items():
                for symbol in feed.symbols:
                    key = (venue, symbol)
                    opened = feed.connected_since(symbol)
                    if opened is None or self._is_synced(venue, symbol):
                        unsynced_since.pop(key, None)
                        continue
                    start = max(unsynced_since.setdefault(key, now), opened)
                    if now - start >= timeout and feed.request_resync(
                        symbol, "watchdog", force=True, unsynced_s=round(now - start, 1)
                    ):
                        unsynced_since[key] = now

    def _internal_error(self, where: str, rec: RawRecord, exc: Exception) -> None:
        """An analysis bug must not stop the capture: log it as an error event and go on."""
        self.internal_errors += 1
        if self._reporting_error or self.internal_errors > _MAX_ERROR_EVENTS:
            return
        self._reporting_error = True
        try:
            last = traceback.extract_tb(exc.__traceback__)[-1:] or [None]
            at = f"{last[0].filename}:{last[0].lineno}" if last[0] is not None else ""
            self.event(
                rec.exchange, rec.conn, "error", rec.symbol, what=where, seq=rec.seq,
                error=f"{type(exc).__name__}: {exc}", at=at,
            )  # fmt: skip
        finally:
            self._reporting_error = False

    def _build_feeds(self) -> dict[str, Feed]:
        cfg = self.config
        feeds: dict[str, Feed] = {}
        for name in self.venues:
            spec = venue_spec(name)
            ws, rest = venue_endpoints(cfg, name)
            feeds[name] = feed_factory(spec)(
                spec,
                list(cfg.symbols[name]),
                ws_url=ws,
                rest_url=rest,
                sink=self,
                stats=self.stats[name],
                config=cfg,
            )
        return feeds


class RecorderHandle:
    """A recorder running in a daemon thread with its own event loop.

    ``stop()`` asks it to finish (graceful: the log is closed), ``join()`` waits;
    ``error`` holds what ``run()`` raised, if anything.
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._main, name=f"xle-recorder-{recorder.run_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        try:
            asyncio.run(self.recorder.run())
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        self.recorder.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()
