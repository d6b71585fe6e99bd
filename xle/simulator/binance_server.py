"""Binance spot / Binance.US market-data protocol, served from the market model.

Speaks what DESIGN section 6 lists, byte for byte in the venue's shapes:

* ``/ws/<stream>`` (raw payloads) and ``/stream?streams=a/b`` (wrapped as
  ``{"stream":"…","data":{…}}``), streams ``<sym>@depth@100ms``, ``<sym>@depth`` (1 s
  aggregate), ``<sym>@trade`` and ``<sym>@bookTicker``;
* live ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` requests, at most
  ``max_incoming_per_s`` client messages a second and ``max_streams`` streams;
* REST ``GET /api/v3/depth?symbol=BTCUSDT&limit=1000`` answered from the same true book,
  so its ``lastUpdateId`` lines up with the diff stream's ``U``/``u``.

Every frame is encoded once per step and shared by all subscribers; the combined-stream
wrapper is built once per frame too, only if some subscriber needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from xle.exchanges.binance import snapshot_weight
from xle.simulator.clients import Client, Traffic, traffic
from xle.simulator.config import SimConfig
from xle.simulator.faults import ConnectionFaults, SnapshotFaults
from xle.simulator.market import MarketModel, Step

__all__ = ["BinanceVenue", "RestAnswer"]

_MAX_LIMIT = 5000
_DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class RestAnswer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _levels(levels: list[tuple[str, str]]) -> str:
    return ",".join([f'["{p}","{q}"]' for p, q in levels])


class _Wrappers(dict[str, bytes]):
    """stream -> ``{"stream":"<stream>","data":`` (the combined-stream prefix), built once."""

    def __missing__(self, stream: str) -> bytes:
        prefix = b'{"stream":"' + stream.encode() + b'","data":'
        self[stream] = prefix
        return prefix


_WRAP = _Wrappers()
#: ``[["p","q"],…]`` without spaces: the venues' own bytes for a list of level pairs.
_encode = msgspec.json.Encoder().encode


class _Aggregate:
    """Changes of several @100ms messages merged into one ``<sym>@depth`` message."""

    __slots__ = ("asks", "bids", "count", "first_id")

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.first_id = 0
        self.count = 0

    def add(self, step: Step) -> None:
        if not self.count:
            self.first_id = step.first_id
        self.count += 1
        self.bids.update(step.bids)
        self.asks.update(step.asks)


class _BinanceClient(Client):
    def __init__(
        self,
        ws: ServerConnection,
        venue: str,
        conn_no: int,
        faults: ConnectionFaults,
        backlog: int,
        wrapped: bool,
    ) -> None:
        super().__init__(ws, venue, conn_no, faults, backlog)
        self.wrapped = wrapped  # combined-stream connection: frames carry the wrapper
        self.streams: set[str] = set()


class BinanceVenue:
    """One Binance-protocol venue (``binance`` or ``binanceus``) on the shared server."""

    def __init__(self, name: str, model: MarketModel, config: SimConfig) -> None:
        self.name = name
        self.model = model
        self.config = config
        self._subs: dict[str, set[_BinanceClient]] = {}
        self._aggregates = {s: _Aggregate() for s in model.symbols(name)}
        #: symbol -> its (@trade, @depth@100ms, @bookTicker, @depth) stream names.
        self._keys = {
            s: tuple(
                s.lower() + suffix for suffix in ("@trade", "@depth@100ms", "@bookTicker", "@depth")
            )
            for s in model.symbols(name)
        }
        self._conn_no = 0
        self._snapshot_faults = SnapshotFaults(config.faults, config.seed, name)
        self._weight: deque[tuple[float, int]] = deque()
        model.top_venues.discard(name)  # until someone subscribes to a bookTicker
        self.clients: set[_BinanceClient] = set()
        self.finished = Traffic()  # counters of the connections that have closed

    def traffic(self) -> Traffic:
        """Frames queued, sent, dropped by faults and lost to slowness, all connections."""
        return traffic(self.finished, self.clients)

    # ------------------------------------------------------------------ streaming

    def publish(self, step: Step, wall_ns: int) -> None:
        """Send one model step to every subscriber of the streams it touches.

        Stream names come from a per-symbol table and depth levels are encoded by
        msgspec (``[["p","q"],…]``, the venue's exact bytes): at high rates this runs for
        every message, and the f-string per level it replaced was a fifth of its cost.
        """
        trade_key, depth_key, ticker_key, slow_key = self._keys[step.symbol]
        subs = self._subs
        event_ms = wall_ns // 1_000_000
        if step.trades:
            trade_subs = subs.get(trade_key)
            if trade_subs:
                for t in step.trades:
                    maker = "true" if t.side == "sell" else "false"
                    data = (
                        f'{{"e":"trade","E":{event_ms},"s":"{step.symbol}","t":{t.trade_id},'
                        f'"p":"{t.price}","q":"{t.qty}","T":{event_ms},"m":{maker},"M":true}}'
                    )
                    self._deliver(trade_key, data.encode(), trade_subs)
        depth_subs = subs.get(depth_key)
        if depth_subs:
            head = (
                f'{{"e":"depthUpdate","E":{event_ms},"s":"{step.symbol}",'
                f'"U":{step.first_id},"u":{step.last_id},"b":'
            ).encode()
            data = b"".join((head, _encode(step.bids), b',"a":', _encode(step.asks), b"}"))
            self._deliver(depth_key, data, depth_subs)
        if step.top is not None:
            ticker_subs = subs.get(ticker_key)
            if ticker_subs:
                b, bq, a, aq = step.top
                data = (
                    f'{{"u":{step.last_id},"s":"{step.symbol}","b":"{b}","B":"{bq}",'
                    f'"a":"{a}","A":"{aq}"}}'
                )
                self._deliver(ticker_key, data.encode(), ticker_subs)
        # The 1 s stream aggregates only while someone listens: its windows stay
        # contiguous from the first subscriber on, and nobody pays for it otherwise.
        slow_subs = subs.get(slow_key)
        agg = self._aggregates[step.symbol]
        if not slow_subs:
            if agg.count:
                self._aggregates[step.symbol] = _Aggregate()
            return
        agg.add(step)
        if agg.count >= self.config.depth_1000ms_every:
            bids = sorted(agg.bids.items(), key=lambda lv: float(lv[0]), reverse=True)
            asks = sorted(agg.asks.items(), key=lambda lv: float(lv[0]))
            frame = self._depth(event_ms, step.symbol, agg.first_id, step.last_id, bids, asks)
            self._deliver(slow_key, frame, slow_subs)
            self._aggregates[step.symbol] = _Aggregate()

    @staticmethod
    def _depth(
        event_ms: int,
        symbol: str,
        first: int,
        last: int,
        bids: list[tuple[str, str]],
        asks: list[tuple[str, str]],
    ) -> bytes:
        head = f'{{"e":"depthUpdate","E":{event_ms},"s":"{symbol}","U":{first},"u":{last},"b":'
        return b"".join((head.encode(), _encode(bids), b',"a":', _encode(asks), b"}"))

    @staticmethod
    def _deliver(stream: str, data: bytes, clients: set[_BinanceClient]) -> None:
        wrapped = b""
        for client in clients:
            if client.wrapped:
                if not wrapped:
                    wrapped = b"".join((_WRAP[stream], data, b"}"))
                client.send_data(wrapped)
            else:
                client.send_data(data)

    # ------------------------------------------------------------------ connections

    async def serve(self, ws: ServerConnection, path: str, query: str) -> None:
        """Handle one WebSocket connection on ``/ws[/<stream>]`` or ``/stream[?streams=]``."""
        wrapped = path.startswith("stream")
        if wrapped:
            streams = [s for v in parse_qs(query).get("streams", []) for s in v.split("/") if s]
        else:
            streams = [s for s in path.split("/")[1:] if s]
        self._conn_no += 1
        faults = ConnectionFaults(self.config.faults, self.config.seed, self.name, self._conn_no)
        client = _BinanceClient(
            ws, self.name, self._conn_no, faults, self.config.max_backlog, wrapped=wrapped
        )
        if len(streams) > self.config.max_streams:
            await ws.close(1008, f"too many streams (max {self.config.max_streams})")
            return
        self.clients.add(client)
        self.finished.connected()
        self._subscribe(client, streams)
        writer = asyncio.create_task(client.run_writer())
        try:
            async with asyncio.timeout(self.config.max_lifetime):
                await self._read(client)
        except TimeoutError:
            await ws.close(1001, "connection lifetime exceeded")
        finally:
            self._unsubscribe(client, list(client.streams))
            self.clients.discard(client)
            self.finished.add(client)
            writer.cancel()

    async def _read(self, client: _BinanceClient) -> None:
        """Answer the client's requests; enforce the incoming message rate limit."""
        limit = self.config.max_incoming_per_s
        recent: deque[float] = deque()
        with contextlib.suppress(ConnectionClosed):
            async for message in client.ws:
                now = time.monotonic()
                recent.append(now)
                while recent and recent[0] <= now - 1.0:
                    recent.popleft()
                if limit is not None and len(recent) > limit:
                    await client.ws.close(1008, "too many requests")
                    return
                client.send_control(self._request(client, message))

    def _request(self, client: _BinanceClient, message: str | bytes) -> bytes:
        """``{"method":"SUBSCRIBE","params":[…],"id":1}`` -> ``{"result":null,"id":1}``."""
        try:
            request = msgspec.json.decode(message)
        except msgspec.DecodeError as exc:
            return _error(3, f"Invalid JSON: {exc}", None)
        if not isinstance(request, dict):
            return _error(2, "Invalid request: expected an object", None)
        req_id = request.get("id")
        if not isinstance(req_id, int | str) or isinstance(req_id, bool):
            return _error(2, "Invalid request: request ID must be an unsigned integer", None)
        method = request.get("method")
        params = request.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return _error(2, "Invalid request: params must be a list of strings", req_id)
            if method == "SUBSCRIBE":
                if len(client.streams | set(params)) > self.config.max_streams:
                    return _error(2, f"Too many streams (max {self.config.max_streams})", req_id)
                self._subscribe(client, params)
            else:
                self._unsubscribe(client, params)
            return msgspec.json.encode({"result": None, "id": req_id})
        if method == "LIST_SUBSCRIPTIONS":
            return msgspec.json.encode({"result": sorted(client.streams), "id": req_id})
        return _error(
            2,
            f"Invalid request: unknown variant {method!r}, expected one of SUBSCRIBE,"
            " UNSUBSCRIBE, LIST_SUBSCRIPTIONS",
            req_id,
        )

    def _subscribe(self, client: _BinanceClient, streams: list[str]) -> None:
        for stream in streams:
            client.streams.add(stream)
            self._subs.setdefault(stream, set()).add(client)
        self._want_tops()

    def _unsubscribe(self, client: _BinanceClient, streams: list[str]) -> None:
        for stream in streams:
            client.streams.discard(stream)
            subs = self._subs.get(stream)
            if subs is not None:
                subs.discard(client)
                if not subs:
                    del self._subs[stream]
        self._want_tops()

    def _want_tops(self) -> None:
        """Let the model print the touch of this venue's books only for bookTicker listeners."""
        if any(stream.endswith("@bookTicker") for stream in self._subs):
            self.model.top_venues.add(self.name)
        else:
            self.model.top_venues.discard(self.name)

    # ------------------------------------------------------------------ REST

    async def rest(self, path: str, query: str) -> RestAnswer:
        """``GET /api/v3/depth?symbol=…&limit=…`` (the only REST endpoint served).

        The book is read when the request arrives; a ``snapshot_delay`` fault only holds
        the answer back, as a slow network would.
        """
        answer = self._answer(path, query)
        delay = self._snapshot_faults.delay_s
        if delay:
            await asyncio.sleep(delay)
        return answer

    def _answer(self, path: str, query: str) -> RestAnswer:
        if path != "api/v3/depth":
            return RestAnswer(404, b'{"code":-1000,"msg":"Not found."}')
        status = self._snapshot_faults.failure()
        if status == 429:
            body = b'{"code":-1003,"msg":"Too many requests; please use the websocket."}'
            return RestAnswer(429, body, (("Retry-After", "1"),))
        if status == 500:
            body = b'{"code":-1000,"msg":"An unknown error occurred while processing the request."}'
            return RestAnswer(500, body)
        args = parse_qs(query)
        symbol = (args.get("symbol") or [""])[0]
        if not symbol:
            msg = "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            return RestAnswer(400, msgspec.json.encode({"code": -1102, "msg": msg}))
        raw_limit = (args.get("limit") or [str(_DEFAULT_LIMIT)])[0]
        if not raw_limit.isdigit():
            msg = "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."
            return RestAnswer(400, msgspec.json.encode({"code": -1100, "msg": msg}))
        if not self.model.has(self.name, symbol):
            return RestAnswer(400, b'{"code":-1121,"msg":"Invalid symbol."}')
        limit = max(1, min(int(raw_limit), _MAX_LIMIT))
        snap = self.model.snapshot(self.name, symbol, limit)
        body = (
            f'{{"lastUpdateId":{snap.update_id},"bids":[{_levels(snap.bids)}],'
            f'"asks":[{_levels(snap.asks)}]}}'
        ).encode()
        return RestAnswer(200, body, (("x-mbx-used-weight-1m", str(self._used_weight(limit))),))

    def _used_weight(self, limit: int) -> int:
        now = time.monotonic()
        self._weight.append((now, snapshot_weight(limit)))
        while self._weight and self._weight[0][0] <= now - 60.0:
            self._weight.popleft()
        return sum(w for _, w in self._weight)


def _error(code: int, msg: str, req_id: object) -> bytes:
    return msgspec.json.encode({"code": code, "msg": msg, "id": req_id})
