"""Binance / Binance.US live capture: combined-stream connections and REST depth snapshots.

The socket side knows nothing about books. Per connection slot it connects to
``<ws base>/stream?streams=…`` (at most 1024 streams per connection, symbols split across
slots), logs every frame with its stream name read from the ``{"stream":"…"`` prefix (no
JSON parse), and after every handshake fetches one REST depth snapshot per symbol, so the
WebSocket events are already flowing (and being logged) when the snapshot is taken; the
engine's sync rule stitches the two together. The engine's ``ResyncRequest`` comes back
as ``request_resync(symbol)`` and triggers one more snapshot for that symbol.

Reconnects use exponential backoff with jitter; a connection is renewed before Binance's
24 h limit. We send nothing on these connections (the streams are in the URL), and
websockets answers the server's pings by itself. REST requests share a request-weight
budget per venue, and a 429 or 418 pauses them all (``Retry-After`` when given, clamped
to ``retry_after_max``). Neither side trusts the peer with memory or time: a frame over
``binance_max_frame`` is refused from its header, a REST body is streamed and abandoned
past ``rest_max_bytes`` or ``rest_deadline``; each case is an event in the log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from websockets.asyncio.client import ClientConnection

from xle.errors import UsageError
from xle.exchanges.binance import (
    MAX_STREAMS_PER_CONNECTION,
    SNAPSHOT_LIMIT,
    combined_stream_path,
    depth_snapshot_path,
    label_frame,
    snapshot_weight,
    streams_for,
)
from xle.exchanges.registry import VenueSpec
from xle.recorder.feedbase import (
    Backoff,
    ConnectionLoop,
    FeedOptions,
    RestGate,
    RestLimitError,
    Sink,
    VenueStats,
    describe_error,
    is_loopback,
    leading_string,
    read_capped,
    retry_after_seconds,
)

if TYPE_CHECKING:
    from xle.recorder.live import RecorderConfig

__all__ = ["BinanceFeed", "build_feed", "stream_of"]

_PREFIX = b'{"stream":"'
_PREFIX_LEN = len(_PREFIX)
#: A stream name ends within this many bytes of the frame start, or the frame is unlabelled.
_NAME_END = _PREFIX_LEN + 128
_UNLABELLED: tuple[str, str | None] = ("", None)
#: Distinct stream names remembered for the cheap frame labelling; frames beyond (only a
#: misbehaving server sends that many names) are labelled without caching.
_NAME_CACHE_LIMIT = 8192


def stream_of(payload: bytes) -> str:
    """The stream name of a combined-stream frame, or "" if it does not start with one."""
    return leading_string(payload, _PREFIX, _NAME_END - _PREFIX_LEN)


@dataclass(eq=False)
class _Slot:
    """One combined-stream connection and the symbols it carries."""

    symbols: list[str]
    streams: list[str]
    conn: int = 0  # current (or last) connection number
    ws: ClientConnection | None = None
    opened: float = 0.0  # time.monotonic() of the last handshake
    snapshots: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    requesting: set[str] = field(default_factory=set)  # symbols with a request in flight


class BinanceFeed(ConnectionLoop):
    """All connections and snapshots of one Binance-protocol venue (binance, binanceus)."""

    def __init__(
        self,
        exchange: str,
        symbols: list[str],
        *,
        ws_base: str,
        rest_base: str,
        sink: Sink,
        stats: VenueStats,
        options: FeedOptions | None = None,
        streams_per_connection: int = MAX_STREAMS_PER_CONNECTION,
        snapshot_limit: int = SNAPSHOT_LIMIT,
        rest_weight_per_minute: float = 3000.0,
    ) -> None:
        if not symbols:
            raise ValueError(f"{exchange}: no symbols to record")
        self.exchange = exchange
        self.ws_base = ws_base.rstrip("/")
        self.rest_base = rest_base.rstrip("/")
        self.options = options or FeedOptions()
        self.snapshot_limit = snapshot_limit
        self._sink = sink
        self._stats = stats
        self._gate = RestGate(rest_weight_per_minute)
        self._http: httpx.AsyncClient | None = None
        self._names: dict[bytes, tuple[str, str | None]] = {}
        per_symbol = len(streams_for(symbols[0]))
        per_conn = max(1, min(streams_per_connection, MAX_STREAMS_PER_CONNECTION) // per_symbol)
        self._slots: list[_Slot] = []
        self._slot_of: dict[str, _Slot] = {}
        unique = list(dict.fromkeys(s.upper() for s in symbols))
        for start in range(0, len(unique), per_conn):
            chunk = unique[start : start + per_conn]
            streams = [name for sym in chunk for name in streams_for(sym)]
            slot = _Slot(chunk, streams)
            self._slots.append(slot)
            for sym in chunk:
                self._slot_of[sym] = slot
                for name in streams_for(sym):
                    self._names[name.encode()] = (name, sym)

    @property
    def symbols(self) -> list[str]:
        return list(self._slot_of)

    @property
    def connection_count(self) -> int:
        return len(self._slots)

    def url_of(self, slot_index: int) -> str:
        return self.ws_base + combined_stream_path(self._slots[slot_index].streams)

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Keep every connection slot connected until cancelled."""
        opts = self.options
        async with httpx.AsyncClient(
            timeout=opts.rest_timeout, trust_env=not is_loopback(self.rest_base)
        ) as http:
            self._http = http
            try:
                async with asyncio.TaskGroup() as group:
                    for index in range(len(self._slots)):
                        group.create_task(self._keep_connected(index))
            finally:
                self._http = None

    def request_resync(
        self, symbol: str, reason: str, *, force: bool = False, **fields: object
    ) -> bool:
        """The engine lost this book: fetch a fresh snapshot (once at a time per symbol).
        Returns whether a fetch was started.

        ``force`` (the recorder's watchdog: the book stayed unsynced too long) also
        restarts a fetch that is waiting to retry (backoff, rate-limit pause), but never
        one whose request is in flight: that one ends within ``rest_deadline``, and
        cutting it short would starve a venue whose snapshots are merely slow. The
        venue-wide REST pause and weight budget still apply to the new request.
        """
        slot = self._slot_of.get(symbol)
        if slot is None or slot.ws is None:
            return False  # not ours, or disconnected: the reconnect fetches snapshots anyway
        running = slot.snapshots.get(symbol)
        busy = running is not None and not running.done()
        if busy and (not force or symbol in slot.requesting):
            return False
        self._stats.resyncs += 1
        self._sink.event(self.exchange, slot.conn, "resync", symbol, reason=reason, **fields)
        self._start_snapshot(slot, symbol)
        return True

    # ------------------------------------------------------------------ connections

    async def _keep_connected(self, index: int) -> None:
        slot = self._slots[index]
        await self._keep_connected_to(slot, self.url_of(index), self.options.binance_max_frame)

    def _connected_fields(self, slot: _Slot) -> dict[str, object]:
        return {"streams": len(slot.streams)}

    def _on_open(self, slot: _Slot, ws: ClientConnection, conn: int) -> None:
        """Fetch every snapshot once the stream is open, so its events are buffered first."""
        for symbol in slot.symbols:
            self._start_snapshot(slot, symbol)

    async def _receive(self, ws: ClientConnection, conn: int) -> None:
        """The hot loop: one ``recv`` and one ``sink.frame`` per frame, nothing parsed."""
        recv = ws.recv
        frame = self._sink.frame
        drain = self._sink.drain
        stats = self._stats
        names = self._names
        ex = self.exchange
        while True:
            payload = await recv(False)
            label = _UNLABELLED
            if payload[:_PREFIX_LEN] == _PREFIX:
                end = payload.find(b'"', _PREFIX_LEN, _NAME_END)
                if end > 0:
                    key = payload[_PREFIX_LEN:end]
                    label = names.get(key) or self._learn(key, payload)
            stats.frames += 1
            stats.bytes += len(payload)
            if frame(ex, conn, label[0], label[1], payload):
                await drain()

    def _learn(self, key: bytes, payload: bytes) -> tuple[str, str | None]:
        """A stream name not met yet: the venue's labeller reads it, the cache keeps it."""
        label = label_frame(payload)
        if len(self._names) < _NAME_CACHE_LIMIT:
            self._names[key] = label
        return label

    def _drop(self, slot: _Slot) -> None:
        slot.ws = None
        for task in slot.snapshots.values():
            task.cancel()
        slot.snapshots.clear()
        slot.requesting.clear()

    # ------------------------------------------------------------------ snapshots

    def _start_snapshot(self, slot: _Slot, symbol: str) -> None:
        running = slot.snapshots.get(symbol)
        if running is not None:
            running.cancel()
            slot.requesting.discard(symbol)
        slot.snapshots[symbol] = asyncio.get_running_loop().create_task(
            self._fetch_snapshot(slot, symbol), name=f"{self.exchange}-snapshot-{symbol}"
        )

    async def _fetch_snapshot(self, slot: _Slot, symbol: str) -> None:
        """GET the depth snapshot until it succeeds; log the body exactly as received.

        Each attempt is bounded (``rest_max_bytes``, ``rest_deadline``); a 429 or 418
        pauses every request of the venue for ``Retry-After`` (clamped to
        ``retry_after_max``), and the request is always tried again.
        """
        http = self._http
        assert http is not None, "snapshots are fetched only while run() is active"
        opts = self.options
        path = depth_snapshot_path(symbol, self.snapshot_limit)
        weight = snapshot_weight(self.snapshot_limit)
        retry = Backoff(opts.rest_retry_initial, opts.rest_retry_max)
        while True:
            await self._gate.acquire(weight)
            slot.requesting.add(symbol)
            try:
                response, body = await read_capped(
                    http, self.rest_base + path, opts.rest_max_bytes, opts.rest_deadline
                )
            except RestLimitError as exc:
                slot.requesting.discard(symbol)
                delay = retry.next_delay()
                self._rest_error(slot, symbol, path, delay, reason=exc.reason, error=str(exc))
            except httpx.HTTPError as exc:
                slot.requesting.discard(symbol)
                delay = retry.next_delay()
                self._rest_error(slot, symbol, path, delay, error=describe_error(exc))
            else:
                slot.requesting.discard(symbol)
                status = response.status_code
                if status == 200:
                    self._stats.snapshot_fetches += 1
                    self._stats.rest_responses += 1
                    self._sink.rest(self.exchange, slot.conn, path, symbol, body)
                    return
                delay = retry.next_delay()
                fields: dict[str, object] = {}
                if status in (418, 429):
                    header = response.headers.get("retry-after")
                    pause = retry_after_seconds(header, opts.retry_after_max)
                    if pause is None:
                        pause = opts.ban_backoff if status == 418 else opts.rate_limit_backoff
                        pause = min(pause, opts.retry_after_max)
                    if header is not None:
                        fields["retry_after"] = header[:64]
                    self._gate.block(pause)
                    delay = max(delay, pause)
                text = body[:500].decode("utf-8", "replace")
                self._rest_error(slot, symbol, path, delay, status=status, body=text, **fields)
            await asyncio.sleep(delay)

    def _rest_error(self, slot: _Slot, symbol: str, path: str, delay: float, **fields) -> None:
        self._stats.rest_errors += 1
        self._sink.event(
            self.exchange, slot.conn, "error", symbol, what="snapshot", path=path,
            retry_in=round(delay, 3), **fields,
        )  # fmt: skip


def build_feed(
    spec: VenueSpec,
    symbols: list[str],
    *,
    ws_url: str,
    rest_url: str | None,
    sink: Sink,
    stats: VenueStats,
    config: RecorderConfig,
) -> BinanceFeed:
    """The feed factory of the Binance-protocol venues' specs (``VenueSpec.feed``)."""
    if rest_url is None:
        raise UsageError(f"{spec.name}: a REST URL is needed for its depth snapshots")
    return BinanceFeed(
        spec.name,
        symbols,
        ws_base=ws_url,
        rest_base=rest_url,
        sink=sink,
        stats=stats,
        options=config.options,
        streams_per_connection=config.streams_per_connection or MAX_STREAMS_PER_CONNECTION,
        snapshot_limit=config.snapshot_limit or SNAPSHOT_LIMIT,
        rest_weight_per_minute=spec.rest_weight_per_minute or 0.0,
    )
