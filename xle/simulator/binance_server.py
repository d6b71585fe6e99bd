"""Binance spot / Binance.US market-data protocol, served from the market model.

Speaks what docs/design.md, "Venue protocols", lists, byte for byte in the venue's shapes:

* ``/ws/<stream>`` (raw payloads) and ``/stream?streams=a/b`` (wrapped as
  ``{"stream":"…","data":{…}}``), streams ``<sym>@depth@100ms``, ``<sym>@depth`` (1 s
  aggregate, also as ``<sym>@depth@1000ms``), ``<sym>@trade``, ``<sym>@aggTrade`` and
  ``<sym>@bookTicker``; other well-formed Binance stream names (klines, tickers, partial
  depth, unknown symbols) are accepted and stay silent, as a quiet real stream does, and
  a name of no Binance form is refused (``STREAM_FORM``);
* live ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` requests, at most
  ``max_incoming_per_s`` client messages a second and ``max_streams`` streams;
* REST ``GET /api/v3/depth?symbol=BTCUSDT&limit=1000`` answered from the same true book,
  so its ``lastUpdateId`` lines up with the diff stream's ``U``/``u`` -- usually falling
  *inside* the ``[U, u]`` of the next diff event, as on a busy real book (``_place``);
* REST ``GET /api/v3/exchangeInfo`` (the served symbols, with the books' real tick and
  lot), ``/api/v3/ping`` and ``/api/v3/time``, which clients call before anything else.

Every frame is encoded once per step and shared by all subscribers; the combined-stream
wrapper is built once per frame too, only if some subscriber needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from xle.exchanges.binance import snapshot_weight
from xle.simulator.clients import Client, Traffic, traffic
from xle.simulator.config import SimConfig
from xle.simulator.faults import ConnectionFaults, SnapshotFaults
from xle.simulator.market import BookSnapshot, MarketModel, Step, TradePrint
from xle.simulator.reference import binance_exchange_info

__all__ = ["STREAM_FORM", "BinanceVenue", "RestAnswer"]

_MAX_LIMIT = 5000
_DEFAULT_LIMIT = 100
_EXCHANGE_INFO_WEIGHT = 20
#: Share of depth snapshots whose ``lastUpdateId`` is placed inside the next diff event.
_PLACED_SHARE = 0.75

_INTERVALS = "1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M"
#: Every stream name form Binance spot documents (lower-case symbols, as it requires).
STREAM_FORM = re.compile(
    r"[a-z0-9]+@(?:aggTrade|trade|bookTicker|miniTicker|ticker|avgPrice"
    r"|depth(?:5|10|20)?(?:@100ms|@1000ms)?"
    rf"|kline_(?:{_INTERVALS})(?:@\+08:00)?|ticker_(?:1h|4h|1d))"
    r"|!(?:miniTicker@arr|ticker@arr|ticker_(?:1h|4h|1d)@arr|bookTicker)"
)
#: Binance's answer to a SUBSCRIBE naming a stream of no known form.
_INVALID_STREAM = "Invalid request: invalid stream"
#: Body of the HTTP 400 that refuses a WebSocket URL naming such a stream.
_ILLEGAL_URL = b'{"code":-1,"msg":"Illegal format ws or stream"}'


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

    def __init__(
        self,
        name: str,
        model: MarketModel,
        config: SimConfig,
        live: Callable[[], bool] = lambda: True,
    ) -> None:
        """``live()`` is false while the market is paused: no step is coming then."""
        self.name = name
        self.model = model
        self.config = config
        self._subs: dict[str, set[_BinanceClient]] = {}
        self._aggregates = {s: _Aggregate() for s in model.symbols(name)}
        #: symbol -> its (@trade, @depth@100ms, @bookTicker, @depth, @depth@1000ms,
        #: @aggTrade) stream names.
        suffixes = ("@trade", "@depth@100ms", "@bookTicker", "@depth", "@depth@1000ms", "@aggTrade")
        self._keys = {s: tuple(s.lower() + x for x in suffixes) for s in model.symbols(name)}
        #: Next aggregate trade id per symbol; advanced by every trade, listened to or not.
        self._agg_ids = {
            s: random.Random(f"{config.seed}:agg:{name}:{s}").randrange(10**8, 2 * 10**9)
            for s in model.symbols(name)
        }
        self._live = live
        self._placement = random.Random(f"{config.seed}:placement:{name}")
        #: symbol -> depth requests waiting for that book's next step (see ``_place``).
        self._waiting: dict[str, list[asyncio.Future[Step | None]]] = {}
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
        trade_key, depth_key, ticker_key, slow_key, slow_alias, agg_key = self._keys[step.symbol]
        subs = self._subs
        event_ms = wall_ns // 1_000_000
        if self._waiting:
            waiting = self._waiting.pop(step.symbol, None)
            if waiting:
                for future in waiting:
                    if not future.done():
                        future.set_result(step)
        if step.trades:
            self._agg_trades(step, event_ms, agg_key)
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
        alias_subs = subs.get(slow_alias)
        agg = self._aggregates[step.symbol]
        if not slow_subs and not alias_subs:
            if agg.count:
                self._aggregates[step.symbol] = _Aggregate()
            return
        agg.add(step)
        if agg.count >= self.config.depth_1000ms_every:
            bids = sorted(agg.bids.items(), key=lambda lv: float(lv[0]), reverse=True)
            asks = sorted(agg.asks.items(), key=lambda lv: float(lv[0]))
            frame = self._depth(event_ms, step.symbol, agg.first_id, step.last_id, bids, asks)
            if slow_subs:
                self._deliver(slow_key, frame, slow_subs)
            if alias_subs:
                self._deliver(slow_alias, frame, alias_subs)
            self._aggregates[step.symbol] = _Aggregate()

    def _agg_trades(self, step: Step, event_ms: int, key: str) -> None:
        """``<sym>@aggTrade``: consecutive prints of one taker side at one price are one
        aggregate trade (ids ``f``..``l``), as Binance aggregates the fills of one order."""
        groups: list[list[TradePrint]] = []
        for t in step.trades:
            if groups and (groups[-1][0].side, groups[-1][0].price) == (t.side, t.price):
                groups[-1].append(t)
            else:
                groups.append([t])
        first_agg = self._agg_ids[step.symbol]
        self._agg_ids[step.symbol] = first_agg + len(groups)
        subs = self._subs.get(key)
        if not subs:
            return
        for n, prints in enumerate(groups):
            units = sum(int(t.qty.replace(".", "")) for t in prints)  # "0.50000000": 1e-8 units
            whole, frac = divmod(units, 100_000_000)
            maker = "true" if prints[0].side == "sell" else "false"
            data = (
                f'{{"e":"aggTrade","E":{event_ms},"s":"{step.symbol}","a":{first_agg + n},'
                f'"p":"{prints[0].price}","q":"{whole}.{frac:08d}","f":{prints[0].trade_id},'
                f'"l":{prints[-1].trade_id},"T":{event_ms},"m":{maker},"M":true}}'
            )
            self._deliver(key, data.encode(), subs)

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

    @staticmethod
    def url_streams(path: str, query: str) -> list[str]:
        """The streams a connection URL names: ``ws/a/b`` or ``stream?streams=a/b``."""
        if path.startswith("stream"):
            return [s for v in parse_qs(query).get("streams", []) for s in v.split("/") if s]
        return [s for s in path.split("/")[1:] if s]

    def refuse_url(self, path: str, query: str) -> RestAnswer | None:
        """HTTP 400 instead of the upgrade when the URL names a stream of no Binance form.

        Binance documents no answer for this; the simulator refuses the handshake (which
        every client reports as a failed connect) with the error body Binance's stream
        servers have been seen to send for an illegal ``/ws`` or ``/stream`` URL.
        """
        if all(STREAM_FORM.fullmatch(s) for s in self.url_streams(path, query)):
            return None
        return RestAnswer(400, _ILLEGAL_URL)

    async def serve(self, ws: ServerConnection, path: str, query: str) -> None:
        """Handle one WebSocket connection on ``/ws[/<stream>]`` or ``/stream[?streams=]``."""
        wrapped = path.startswith("stream")
        streams = self.url_streams(path, query)
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
            if not all(STREAM_FORM.fullmatch(p) for p in params):
                return msgspec.json.encode(
                    {"error": {"code": 2, "msg": _INVALID_STREAM}, "id": req_id}
                )
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
        """``GET /api/v3/depth``, ``/api/v3/exchangeInfo``, ``/api/v3/ping``, ``/api/v3/time``.

        The book is read when the request arrives; a ``snapshot_delay`` fault only holds
        the answer back, as a slow network would.
        """
        if path == "api/v3/exchangeInfo":
            return self._exchange_info(parse_qs(query))
        if path == "api/v3/ping":
            return RestAnswer(200, b"{}", self._weight_header(1))
        if path == "api/v3/time":
            body = b'{"serverTime":%d}' % (time.time_ns() // 1_000_000)
            return RestAnswer(200, body, self._weight_header(1))
        if path != "api/v3/depth":
            return RestAnswer(404, b'{"code":-1000,"msg":"Not found."}')
        answer = self._depth_request(query)
        if isinstance(answer, tuple):
            symbol, limit = answer
            answer = self._snapshot_answer(await self._place(symbol), limit)
        delay = self._snapshot_faults.delay_s
        if delay:
            await asyncio.sleep(delay)
        return answer

    def _depth_request(self, query: str) -> RestAnswer | tuple[str, int]:
        """An error answer, or the symbol and the limit asked for."""
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
        return symbol, max(1, min(int(raw_limit), _MAX_LIMIT))

    async def _place(self, symbol: str) -> BookSnapshot:
        """Usually move the snapshot *inside* the next diff event of its book.

        On a busy real book the matching engine keeps changing while the REST request
        is served, so ``lastUpdateId`` tends to fall strictly inside a diff event's
        ``[U, u]``, not on its edge; a client that only accepts ``U == lastUpdateId + 1``
        passes here and fails there. So, for most requests (``_PLACED_SHARE``), the
        answer waits for the book's next step and reports the book as of an id ``X``
        with ``U <= X < u``: the book before the step plus a prefix of the step's
        changes (removals first, so the book never crosses), ``X`` in proportion to the
        prefix. Applying the whole event on top gives exactly the true book after it,
        because Binance quantities are absolute. While the market is paused no step
        comes, and the answer is the book as it stands (``lastUpdateId`` = the last ``u``).
        """
        snap = self.model.snapshot(self.name, symbol)  # the whole book: levels move up
        if not self._live() or self._placement.random() >= _PLACED_SHARE:
            return snap
        future: asyncio.Future[Step | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(symbol, []).append(future)
        try:
            step = await asyncio.wait_for(future, timeout=1.0)
        except TimeoutError:
            step = None
        if step is None or step.last_id - step.first_id < 1:
            return self.model.snapshot(self.name, symbol) if step is None else snap
        changes = [("bid", p, q) for p, q in step.bids] + [("ask", p, q) for p, q in step.asks]
        changes.sort(key=lambda c: float(c[2]) != 0)  # removals first, stable otherwise
        applied = self._placement.randint(0, len(changes))
        span = step.last_id - step.first_id + 1
        offset = min(max(round(applied * span / len(changes)) if changes else 1, 1), span - 1)
        bids, asks = dict(snap.bids), dict(snap.asks)
        for side, price, qty in changes[:applied]:
            book = bids if side == "bid" else asks
            if float(qty) == 0:
                book.pop(price, None)
            else:
                book[price] = qty
        return BookSnapshot(
            step.first_id - 1 + offset,
            sorted(bids.items(), key=lambda lv: float(lv[0]), reverse=True),
            sorted(asks.items(), key=lambda lv: float(lv[0])),
        )

    def release(self) -> None:
        """Answer every depth request still waiting for a step (the market paused)."""
        waiting, self._waiting = self._waiting, {}
        for futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)

    def _snapshot_answer(self, snap: BookSnapshot, limit: int) -> RestAnswer:
        body = (
            f'{{"lastUpdateId":{snap.update_id},"bids":[{_levels(snap.bids[:limit])}],'
            f'"asks":[{_levels(snap.asks[:limit])}]}}'
        ).encode()
        return RestAnswer(200, body, self._weight_header(snapshot_weight(limit)))

    def _exchange_info(self, args: dict[str, list[str]]) -> RestAnswer:
        """``exchangeInfo`` for all served symbols, or ``?symbol=`` / ``?symbols=["A","B"]``."""
        served = self.model.symbols(self.name)
        if "symbol" in args and "symbols" in args:
            body = b'{"code":-1128,"msg":"Combination of optional parameters invalid."}'
            return RestAnswer(400, body)
        wanted = served
        if "symbol" in args:
            wanted = [args["symbol"][0]]
        elif "symbols" in args:
            try:
                wanted = msgspec.json.decode(args["symbols"][0], type=list[str])
            except (msgspec.DecodeError, msgspec.ValidationError):
                msg = (
                    "Illegal characters found in parameter 'symbols'; legal range is"
                    ' \'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$\'.'
                )
                return RestAnswer(400, msgspec.json.encode({"code": -1100, "msg": msg}))
        if any(s not in served for s in wanted):
            return RestAnswer(400, b'{"code":-1121,"msg":"Invalid symbol."}')
        info = binance_exchange_info(
            [self.model.instrument(self.name, s) for s in wanted], time.time_ns() // 1_000_000
        )
        return RestAnswer(
            200, msgspec.json.encode(info), self._weight_header(_EXCHANGE_INFO_WEIGHT)
        )

    def _weight_header(self, weight: int) -> tuple[tuple[str, str], ...]:
        return (("x-mbx-used-weight-1m", str(self._used_weight(weight))),)

    def _used_weight(self, weight: int) -> int:
        now = time.monotonic()
        self._weight.append((now, weight))
        while self._weight and self._weight[0][0] <= now - 60.0:
            self._weight.popleft()
        return sum(w for _, w in self._weight)


def _error(code: int, msg: str, req_id: object) -> bytes:
    return msgspec.json.encode({"code": code, "msg": msg, "id": req_id})
