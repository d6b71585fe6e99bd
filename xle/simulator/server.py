"""One loopback server for every simulated venue, and the clock that drives the model.

URL contract (docs/design.md, "The simulator"), with ``P`` the port:

* ``ws://127.0.0.1:P/binance/ws/<stream>``, ``ws://127.0.0.1:P/binance/stream?streams=a/b``
  and ``http://127.0.0.1:P/binance/api/v3/depth?symbol=BTCUSDT&limit=1000``; the same
  under ``/binanceus``;
* ``ws://127.0.0.1:P/coinbase`` for Coinbase Advanced Trade, and its public product
  endpoints under ``http://127.0.0.1:P/coinbase/api/v3/brokerage/…``;
* with ``tls``, all of it again as ``wss://`` and ``https://`` on a second port, under a
  self-signed certificate made at start (``Simulator.tls_cert``).

REST and WebSocket share the port: ``process_request`` answers plain HTTP requests
itself and lets WebSocket upgrades through to the venue handlers. A single clock task
advances the market model to "now" every ``tick_s`` and hands each step to its venue,
which fans it out to subscribers and to the ground-truth writer.

Use it as ``async with Simulator(SimConfig(...)) as sim`` inside an event loop, or
``handle = Simulator(config).start_in_thread()`` from synchronous code (tests, ``xle
demo``); both bind 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from xle.simulator.binance_server import BinanceVenue, RestAnswer
from xle.simulator.clients import Traffic
from xle.simulator.coinbase_server import CoinbaseVenue, iso_time
from xle.simulator.config import SimConfig
from xle.simulator.market import BookSnapshot, MarketModel, Step
from xle.simulator.tls import make_certificate, server_context
from xle.simulator.truth import TruthWriter

__all__ = ["HOST", "SimHandle", "Simulator", "VenueUrls", "start_in_thread"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
#: Steps published per turn of the clock before it yields to the sockets.
_BATCH = 256
_T = TypeVar("_T")


@dataclass(frozen=True)
class VenueUrls:
    """Bases a client appends the venue's own paths to."""

    ws: str  # Binance: + "/ws/<stream>" or "/stream?streams=…"; Coinbase: the endpoint
    rest: str | None  # Binance: + "/api/v3/depth?…"; Coinbase: + "/api/v3/brokerage/…"


class Simulator:
    """The simulated exchanges on one port of 127.0.0.1 (see module docstring)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.model = MarketModel(self.config)
        self.steps = 0  # model steps published so far
        self._server: Server | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._truth: TruthWriter | None = None
        self._binance = {
            v: BinanceVenue(v, self.model, self.config, lambda: self._paused_at is None)
            for v in self.config.venues
            if v in ("binance", "binanceus")
        }
        self._coinbase = (
            CoinbaseVenue(self.model, self.config, self.wall_ns)
            if "coinbase" in self.config.venues
            else None
        )
        self._t0 = 0  # monotonic ns at model time 0
        self._offset_ns = 0  # wall ns of model time 0, moved on by pauses
        self._paused_at: int | None = None
        self._paused_total = 0
        self._port = 0
        self._tls_server: Server | None = None
        self._tls_port = 0
        self._tls_cert: Path | None = None
        self._tls_temp: Path | None = None  # a directory made for the certificate

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        cfg = self.config
        self._t0 = time.monotonic_ns()
        self._offset_ns = cfg.start_ns if cfg.start_ns is not None else time.time_ns()
        if self._coinbase is not None:
            self._coinbase.start(self._offset_ns)
        if cfg.truth_dir is not None:
            self._truth = TruthWriter(cfg.truth_dir)
            for venue, symbol in self.model.instruments:
                snap = self.model.snapshot(venue, symbol)
                self._truth.start(venue, symbol, snap, self._offset_ns)
            self._truth.flush()
        self._server = await serve(
            self._handler,
            HOST,
            cfg.port,
            process_request=self._process_request,
            compression=None,
            ping_interval=cfg.ping_interval,
            ping_timeout=cfg.ping_timeout,
            close_timeout=2,
            max_size=2**20,
            write_limit=2**20,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        if cfg.tls:
            await self._start_tls()
        self._clock_task = asyncio.create_task(self._clock(), name="xle-simulator-clock")
        self._clock_task.add_done_callback(_report_crash)

    async def _start_tls(self) -> None:
        cfg = self.config
        directory = cfg.tls_dir
        if directory is None:
            directory = self._tls_temp = Path(tempfile.mkdtemp(prefix="xle-simulator-tls-"))
        cert, key = make_certificate(directory)
        self._tls_cert = cert
        self._tls_server = await serve(
            self._handler,
            HOST,
            cfg.tls_port,
            ssl=server_context(cert, key),
            process_request=self._process_request,
            compression=None,
            ping_interval=cfg.ping_interval,
            ping_timeout=cfg.ping_timeout,
            close_timeout=2,
            max_size=2**20,
            write_limit=2**20,
        )
        self._tls_port = self._tls_server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
            self._clock_task = None
        for server in (self._server, self._tls_server):
            if server is not None:
                server.close()
                await server.wait_closed()
        self._server = self._tls_server = None
        if self._tls_temp is not None:
            shutil.rmtree(self._tls_temp, ignore_errors=True)
            self._tls_temp = None
        if self._truth is not None:
            self._truth.close()
            self._truth = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 10.0) -> SimHandle:
        """Run this simulator on its own event loop in a daemon thread."""
        return SimHandle(self, timeout)

    # ------------------------------------------------------------------ facts

    @property
    def port(self) -> int:
        return self._port

    @property
    def urls(self) -> dict[str, VenueUrls]:
        return self._urls("ws", "http", self._port)

    @property
    def tls_port(self) -> int:
        """Port of the TLS listener (0 without ``tls``)."""
        return self._tls_port

    @property
    def tls_cert(self) -> Path | None:
        """The self-signed certificate a TLS client must trust (None without ``tls``)."""
        return self._tls_cert

    @property
    def tls_urls(self) -> dict[str, VenueUrls]:
        """``urls`` as ``wss://`` and ``https://`` on the TLS port (empty without ``tls``)."""
        return self._urls("wss", "https", self._tls_port) if self._tls_port else {}

    def _urls(self, ws: str, rest: str, port: int) -> dict[str, VenueUrls]:
        base = f"{HOST}:{port}"
        names = [*self._binance, *(["coinbase"] if self._coinbase is not None else [])]
        return {v: VenueUrls(f"{ws}://{base}/{v}", f"{rest}://{base}/{v}") for v in names}

    def symbols(self, venue: str) -> list[str]:
        return self.model.symbols(venue)

    def connections(self, venue: str) -> int:
        """Clients currently connected to ``venue``."""
        if venue == "coinbase":
            return len(self._coinbase.clients) if self._coinbase else 0
        return len(self._binance[venue].clients)

    def book(self, venue: str, symbol: str, limit: int | None = None) -> BookSnapshot:
        """The current true book, best first (Binance ``update_id`` is the last ``u``)."""
        return self.model.snapshot(venue, symbol, limit)

    def traffic(self) -> dict[str, Traffic]:
        """Per venue: connections, frames sent, dropped by faults and lost to slowness."""
        out = {v: venue.traffic() for v, venue in self._binance.items()}
        if self._coinbase is not None:
            out["coinbase"] = self._coinbase.traffic()
        return out

    def stats(self) -> dict[str, Any]:
        """A JSON-ready report: per-venue ``traffic()``, model steps, lag, and the CPU
        seconds of this process (``xle simulate`` runs alone in its own).

        ``behind_s`` is how far the market model lags the clock: above zero the
        configured rates exceed what this process can model, and what it sends is less
        than asked for (the frames it does send are still complete and in order).
        """
        return {
            "time_ns": time.time_ns(),
            "port": self._port,
            "steps": self.steps,
            "paused": self.paused,
            "behind_s": self.model.behind_ns(self._model_ns()) / 1e9 if self._t0 else 0.0,
            "cpu_s": time.process_time(),
            "venues": {v: t.as_dict() for v, t in self.traffic().items()},
        }

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every client's outbox and socket buffer are empty; False on timeout.

        Call after ``pause()`` so that a planned end (``xle simulate --duration``)
        delivers everything already sent before the connections close.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            clients = [*(c for v in self._binance.values() for c in v.clients)]
            if self._coinbase is not None:
                clients += self._coinbase.clients
            if all(c.idle for c in clients):
                return True
            await asyncio.sleep(0.01)
        return False

    def wall_ns(self) -> int:
        """Wall-clock ns corresponding to the model's current time."""
        return self._offset_ns + self._model_ns()

    # ------------------------------------------------------------------ pause

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        """Freeze the market: no more book changes or trades (heartbeats go on).

        Lets a test wait for a client to catch up and then compare against the truth.
        """
        if self._paused_at is None:
            self._paused_at = time.monotonic_ns()
            for venue in self._binance.values():
                venue.release()

    def resume(self) -> None:
        if self._paused_at is not None:
            gap = time.monotonic_ns() - self._paused_at
            self._paused_total += gap
            self._offset_ns += gap
            self._paused_at = None

    # ------------------------------------------------------------------ clock

    def _model_ns(self) -> int:
        now = self._paused_at if self._paused_at is not None else time.monotonic_ns()
        return now - self._t0 - self._paused_total

    async def _clock(self) -> None:
        """Advance the model to "now" and publish; yield to the sockets between batches.

        At most ``_BATCH`` steps are published before the loop yields, so clients keep
        being served when the configured rates exceed what the CPU can model; the model
        then lags the wall clock (and says so once) rather than starving the sockets.
        """
        cfg = self.config
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time() + cfg.heartbeat_interval
        next_flush = loop.time()
        warned = False
        while True:
            steps = []
            if self._paused_at is None:
                now_ns = self._model_ns()
                steps = self.model.advance(now_ns, _BATCH)
                for step in steps:
                    self._publish(step)
                if not warned and self.model.behind_ns(now_ns) > 2_000_000_000:
                    warned = True
                    log.warning("simulator: the market model lags the clock; rates too high")
            now = loop.time()
            if self._coinbase is not None and now >= next_heartbeat:
                self._coinbase.heartbeat()
                next_heartbeat = max(next_heartbeat + cfg.heartbeat_interval, now)
            if self._truth is not None and now >= next_flush:
                self._truth.flush()
                next_flush = now + 0.1
            await asyncio.sleep(0 if len(steps) == _BATCH else cfg.tick_s)

    def _publish(self, step: Step) -> None:
        wall = self._offset_ns + step.time_ns
        if step.venue == "coinbase":
            assert self._coinbase is not None
            timestamp = iso_time(wall)
            event_time = iso_time(wall, 6)  # the same instant to the microsecond
            if self._truth is not None:
                self._truth.write(step, wall, event_time)
            self._coinbase.publish(step, wall, event_time, timestamp)
        else:
            if self._truth is not None:
                self._truth.write(step, wall)
            self._binance[step.venue].publish(step, wall)
        self.steps += 1

    # ------------------------------------------------------------------ routing

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Answer REST requests; let WebSocket paths through; 404 for the rest."""
        target = urlsplit(request.path)
        venue, _, rest = target.path.lstrip("/").partition("/")
        if venue in self._binance:
            binance = self._binance[venue]
            if rest.startswith("api/"):
                return _response(await binance.rest(rest, target.query))
            if rest in ("ws", "stream") or rest.startswith("ws/"):
                refusal = binance.refuse_url(rest, target.query)
                return None if refusal is None else _response(refusal)
        elif venue == "coinbase" and self._coinbase is not None:
            if rest == "":
                return None
            if rest.startswith("api/"):
                return _response(self._coinbase.rest(rest, target.query))
        return _response(RestAnswer(404, b'{"code":-1000,"msg":"Not found."}'))

    async def _handler(self, ws: ServerConnection) -> None:
        target = urlsplit(ws.request.path if ws.request else "/")
        venue, _, rest = target.path.lstrip("/").partition("/")
        if venue == "coinbase" and self._coinbase is not None:
            await self._coinbase.serve(ws)
        else:
            await self._binance[venue].serve(ws, rest, target.query)


def _response(answer: RestAnswer) -> Response:
    headers = Headers(
        [
            ("Content-Type", "application/json;charset=UTF-8"),
            ("Content-Length", str(len(answer.body))),
            ("Connection", "close"),
            *answer.headers,
        ]
    )
    return Response(answer.status, http.HTTPStatus(answer.status).phrase, headers, answer.body)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("simulator clock stopped", exc_info=task.exception())


class SimHandle:
    """A simulator running on its own event loop in a daemon thread.

    ``port`` and ``urls`` are ready when the constructor returns; ``stop()`` (or leaving
    the ``with`` block) shuts it down. ``call`` runs a function on the simulator's loop,
    which is how ``pause``, ``resume`` and ``book`` reach it safely.
    """

    def __init__(self, simulator: Simulator, timeout: float = 10.0) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="xle-simulator", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("simulator did not start in time")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        try:
            await self.simulator.start()
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        await self._stop.wait()
        await self.simulator.stop()

    @property
    def port(self) -> int:
        return self.simulator.port

    @property
    def urls(self) -> dict[str, VenueUrls]:
        return self.simulator.urls

    @property
    def tls_urls(self) -> dict[str, VenueUrls]:
        return self.simulator.tls_urls

    @property
    def tls_cert(self) -> Path | None:
        return self.simulator.tls_cert

    def call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` on the simulator's loop and return its result."""

        async def run() -> _T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def pause(self) -> None:
        self.call(self.simulator.pause)

    def resume(self) -> None:
        self.call(self.simulator.resume)

    def book(self, venue: str, symbol: str, limit: int | None = None) -> BookSnapshot:
        return self.call(self.simulator.book, venue, symbol, limit)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(config: SimConfig | None = None, timeout: float = 10.0) -> SimHandle:
    """Start a simulator with ``config`` in a background thread (see ``SimHandle``)."""
    return Simulator(config).start_in_thread(timeout)
