"""What every venue's connection loops share: the sink they write into, the ``Feed``
interface the recorder drives, per-venue counters, reconnect backoff, and pacing for
what the recorder sends.

The loops know sockets and HTTP, never books: every frame, REST response and control
event goes to a ``Sink`` (the ``Recorder``), which stamps it, logs it and feeds the
engine. The engine's verdicts come back as ``request_resync`` calls on the feed.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.frames import CloseCode
from websockets.protocol import State

__all__ = [
    "Backoff",
    "ConnectionLoop",
    "Feed",
    "FeedOptions",
    "RestGate",
    "RestLimitError",
    "SendPacer",
    "Sink",
    "VenueStats",
    "describe_error",
    "event_payload",
    "is_loopback",
    "leading_string",
    "read_capped",
    "retry_after_seconds",
]

MiB = 1 << 20


class Sink(Protocol):
    """Where a feed puts what it receives; implemented by ``xle.recorder.live.Recorder``."""

    def new_conn(self) -> int:
        """A connection number unique within the run (increments on every (re)connect)."""
        ...

    def frame(
        self, exchange: str, conn: int, stream: str, symbol: str | None, payload: bytes
    ) -> bool:
        """A received WebSocket frame, exact bytes; True asks the feed to ``await drain()``
        before it receives more."""
        ...

    async def drain(self) -> None:
        """Return once what was logged so far is on disk: the feeds' backpressure, so that
        a peer sending faster than the log is written cannot fill memory."""
        ...

    def rest(self, exchange: str, conn: int, path: str, symbol: str | None, payload: bytes) -> None:
        """A REST response body, exact bytes; ``path`` is the request path with its query."""
        ...

    def event(self, exchange: str, conn: int, name: str, symbol: str | None, **fields: Any) -> None:
        """A control event (connected, subscribed, disconnected, resync, error, closed)."""
        ...


class Feed(Protocol):
    """One venue's live capture, as the recorder drives it (built by the factory its
    ``VenueSpec.feed`` names)."""

    @property
    def symbols(self) -> list[str]:
        """The symbols it records (as the venue spells them)."""
        ...

    async def run(self) -> None:
        """Keep every connection open until cancelled."""
        ...

    def request_resync(
        self, symbol: str, reason: str, *, force: bool = False, **fields: Any
    ) -> bool:
        """The engine (or the watchdog, ``force``) lost this book: get a fresh snapshot.
        True when a request was started."""
        ...

    def connected_since(self, symbol: str) -> float | None:
        """``time.monotonic()`` when the connection carrying ``symbol`` opened, or None."""
        ...


@dataclass(slots=True)
class VenueStats:
    """Counters of one venue, read by the status display and the tests (never reset)."""

    frames: int = 0  # WebSocket frames received and logged
    bytes: int = 0  # their payload bytes
    rest_responses: int = 0  # REST responses logged (snapshots)
    events: int = 0  # control events logged
    connects: int = 0  # successful WebSocket handshakes
    reconnects: int = 0  # handshakes after the first one of a connection slot
    disconnects: int = 0  # connections lost (not counting a requested stop)
    resyncs: int = 0  # snapshot refetches / level2 resubscribes asked by the engine
    snapshot_fetches: int = 0  # REST snapshots received (any reason)
    rest_errors: int = 0  # REST requests that failed or returned an error status
    open_connections: int = 0  # WebSocket connections open right now

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class FeedOptions:
    """Connection tuning shared by both feeds (defaults suit the real venues)."""

    backoff_initial: float = 0.5  # first reconnect delay, seconds
    backoff_max: float = 30.0  # reconnect delays double up to this
    open_timeout: float = 10.0  # WebSocket handshake timeout
    ping_interval: float | None = 20.0  # client keepalive pings (the venues ping too)
    ping_timeout: float | None = 20.0
    max_connection_age: float = 23.5 * 3600  # Binance drops connections at 24 h: go first
    sends_per_second: float = 5.0  # Binance: <= 5 incoming messages/s per connection
    max_queue: int = 4096  # frames buffered by websockets before TCP backpressure...
    queue_bytes: int = 32 * MiB  # ...and at most this many bytes of them (see queue_frames)
    #: The largest WebSocket message accepted; a bigger one is never buffered: the
    #: connection is closed (1009), a ``frame_too_large`` event logged, and it reconnects.
    #: Binance frames are one stream event each (a busy depth@100ms diff is ~100 KB), so
    #: 16 MiB is a wide margin; a Coinbase level2 snapshot of BTC-USD is ~5 MB.
    binance_max_frame: int = 16 * MiB
    coinbase_max_frame: int = 64 * MiB
    rest_timeout: float = 10.0  # per network read of a REST response
    rest_deadline: float = 30.0  # whole REST request, headers and body, however it trickles
    #: The largest REST body read (a 5000-level Binance snapshot is ~0.4 MB); the body is
    #: streamed and the request abandoned at this size.
    rest_max_bytes: int = 16 * MiB
    rest_retry_initial: float = 1.0  # first retry delay of a failed REST request
    rest_retry_max: float = 60.0
    ban_backoff: float = 120.0  # pause of all REST after a 418 (IP ban) without Retry-After
    rate_limit_backoff: float = 30.0  # pause after a 429 without Retry-After
    retry_after_max: float = 120.0  # a Retry-After above this (or inf) waits this long

    def queue_frames(self, max_frame: int) -> int:
        """How many received frames websockets may queue on one connection: ``max_queue``,
        fewer when that many frames of ``max_frame`` bytes would exceed ``queue_bytes``.
        Reading more frames from the socket then waits (TCP backpressure), so a flood of
        large frames cannot pile up in memory."""
        return max(1, min(self.max_queue, self.queue_bytes // max(1, max_frame)))


class Backoff:
    """Exponential backoff with full jitter; ``reset()`` after a connection that worked."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Jittered delay in [next/2, next], then double ``next`` (capped)."""
        base = self._next
        self._next = min(self.maximum, base * 2.0)
        return base * (0.5 + 0.5 * self._rng.random())

    def reset(self) -> None:
        self._next = self.initial


class SendPacer:
    """Spaces out the messages we send on one connection (Binance: at most 5 per second).

    Control frames answered by websockets itself (pongs) are not paced: the venues ping
    every 20 s, far below the limit.
    """

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next_ok = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if now < self._next_ok:
                await asyncio.sleep(self._next_ok - now)
                now = self._next_ok
            self._next_ok = now + self._interval


class RestGate:
    """Request-weight budget and venue-wide pause for one venue's REST API.

    Binance counts request weight per IP per minute (a 1000-level depth snapshot weighs
    50) and answers 429 when it is exceeded, 418 (a ban) if the client keeps going; both
    may carry ``Retry-After``. After either, every request of the venue waits.
    """

    def __init__(self, weight_per_minute: float) -> None:
        self._rate = weight_per_minute / 60.0
        self._capacity = weight_per_minute
        self._tokens = weight_per_minute
        self._stamp = time.monotonic()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    def block(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)

    async def acquire(self, weight: float) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._blocked_until:
                    await asyncio.sleep(self._blocked_until - now)
                    continue
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= weight or self._rate <= 0:
                    self._tokens -= weight
                    return
                await asyncio.sleep((weight - self._tokens) / self._rate)


def event_payload(fields: dict[str, Any]) -> bytes:
    """The small JSON document of a control event."""
    return msgspec.json.encode(fields)


def is_loopback(url: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: such URLs never go through a proxy."""
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host == "::1" or host.startswith("127.")


def leading_string(payload: bytes, prefix: bytes, limit: int) -> str:
    """The JSON string value right after ``prefix`` (e.g. ``{"stream":"``) at the start of a
    frame, found without parsing it; "" when the frame does not start that way or the value
    does not end within ``limit`` bytes. The venues put these keys first, which is what
    makes labelling frames this cheap on the hot path."""
    start = len(prefix)
    if payload[:start] != prefix:
        return ""
    end = payload.find(b'"', start, start + limit)
    return payload[start:end].decode("utf-8", "replace") if end > 0 else ""


class RestLimitError(Exception):
    """A REST response broke a limit: ``reason`` is ``too_large`` or ``deadline``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def read_capped(
    http: httpx.AsyncClient, url: str, max_bytes: int, deadline: float
) -> tuple[httpx.Response, bytes]:
    """GET ``url`` and read its body as it streams, never more than ``max_bytes`` and never
    longer than ``deadline`` seconds in all (httpx's own timeout is per read, so a body
    that trickles a byte at a time would otherwise never end). Breaking a limit closes
    the connection and raises ``RestLimitError``; network errors raise ``httpx.HTTPError``.
    """
    try:
        async with asyncio.timeout(deadline):
            async with http.stream("GET", url) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise RestLimitError(
                        "too_large",
                        f"Content-Length {int(declared)} is over the cap of {max_bytes} bytes",
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise RestLimitError(
                            "too_large", f"body is over the cap of {max_bytes} bytes"
                        )
                    chunks.append(chunk)
                return response, b"".join(chunks)
    except TimeoutError:
        raise RestLimitError("deadline", f"no complete response within {deadline:g} s") from None


def retry_after_seconds(
    value: str | None, maximum: float, now: float | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, clamped to ``[0, maximum]``.

    Accepts delta-seconds (also fractional, ``inf`` -> ``maximum``) and HTTP-dates
    (relative to ``now``, wall-clock seconds); None when the header is absent or is not
    a number or a date (``nan``, junk), so that the caller uses its default pause.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(maximum, max(0.0, seconds))


def describe_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


#: A connection that lived this long resets the reconnect backoff.
HEALTHY_AFTER_S = 10.0
#: How often a connection's state is checked for a closing handshake left hanging.
_CLOSING_POLL_S = 0.25


async def _end_closing_handshake(ws: ClientConnection) -> None:
    """Bound the closing handshake of a connection websockets failed on its own.

    When websockets refuses a frame (over ``max_size``: close code 1009) it sends a close
    frame, discards whatever else arrives and waits for the server to end the TCP
    connection; ``recv`` returns only then. A hostile server never does, so the feed
    would hang until the next keepalive ping. Once the connection leaves OPEN, ``close``
    waits at most ``close_timeout`` and then drops the socket.
    """
    while ws.state is State.OPEN:
        await asyncio.sleep(_CLOSING_POLL_S)
    await ws.close()


class ConnectionLoop:
    """Keep one WebSocket connection open forever: connect, receive, reconnect.

    Shared by both feeds; each supplies what differs through four hooks: ``_receive``
    (the hot loop), ``_on_open`` (Binance fetches snapshots, Coinbase subscribes),
    ``_drop`` (forget a closed socket) and the fields of its ``connected`` event. Every
    attempt gets a fresh ``conn`` number; failures back off with jitter; reaching
    ``max_connection_age`` reconnects at once (Binance closes connections after 24 h).
    """

    exchange: str
    options: FeedOptions
    _sink: Sink
    _stats: VenueStats

    _slot_of: dict[str, Any]

    def connected_since(self, symbol: str) -> float | None:
        """``time.monotonic()`` when the connection carrying ``symbol`` opened, or None
        while it is not connected (the recorder's watchdog counts only connected time)."""
        slot = self._slot_of.get(symbol)
        return slot.opened if slot is not None and slot.ws is not None else None

    async def _receive(self, ws: ClientConnection, conn: int) -> None:
        raise NotImplementedError

    def _on_open(self, slot: Any, ws: ClientConnection, conn: int) -> None:
        raise NotImplementedError

    def _drop(self, slot: Any) -> None:
        raise NotImplementedError

    def _connected_fields(self, slot: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def _keep_connected_to(self, slot: Any, url: str, max_size: int) -> None:
        opts = self.options
        max_queue = opts.queue_frames(max_size)
        backoff = Backoff(opts.backoff_initial, opts.backoff_max)
        sink, stats, ex = self._sink, self._stats, self.exchange
        handshakes = 0
        while True:
            conn = sink.new_conn()
            slot.conn = conn
            try:
                ws = await connect(
                    url,
                    compression=None,
                    proxy=None if is_loopback(url) else True,
                    open_timeout=opts.open_timeout,
                    ping_interval=opts.ping_interval,
                    ping_timeout=opts.ping_timeout,
                    close_timeout=2.0,
                    max_size=max_size,
                    max_queue=max_queue,
                )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                delay = backoff.next_delay()
                sink.event(
                    ex, conn, "error", None, what="connect", url=url,
                    error=describe_error(exc), retry_in=round(delay, 3),
                )  # fmt: skip
                await asyncio.sleep(delay)
                continue
            handshakes += 1
            stats.connects += 1
            if handshakes > 1:
                stats.reconnects += 1
            stats.open_connections += 1
            opened = slot.opened = time.monotonic()
            slot.ws = ws
            sink.event(ex, conn, "connected", None, url=url, **self._connected_fields(slot))
            self._on_open(slot, ws, conn)
            reason, code = "closed", None
            guard = asyncio.create_task(_end_closing_handshake(ws))
            try:
                async with asyncio.timeout(opts.max_connection_age):
                    await self._receive(ws, conn)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                sent = exc.sent
                if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
                    # websockets refused the frame from its header, before buffering it
                    reason, code = "frame_too_large", sent.code
                    sink.event(
                        ex, conn, "frame_too_large", None, max_frame=max_size, error=sent.reason
                    )
            except TimeoutError:
                reason = "max_age"
            except asyncio.CancelledError:
                self._drop(slot)
                sink.event(ex, conn, "closed", None, reason="stop")
                await ws.close()
                raise
            finally:
                guard.cancel()
                stats.open_connections -= 1
            self._drop(slot)
            await ws.close()
            stats.disconnects += 1
            lived = time.monotonic() - opened
            if lived >= HEALTHY_AFTER_S:
                backoff.reset()
            delay = 0.0 if reason == "max_age" else backoff.next_delay()
            sink.event(
                ex, conn, "disconnected", None, reason=reason, code=code,
                lived_s=round(lived, 3), retry_in=round(delay, 3),
            )  # fmt: skip
            if delay:
                await asyncio.sleep(delay)
