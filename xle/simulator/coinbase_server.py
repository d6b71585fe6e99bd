"""Coinbase Advanced Trade market-data protocol, served from the market model.

One channel per subscribe message, within ``subscribe_timeout`` of connecting or the
connection is closed:

    {"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}
    {"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}
    {"type":"subscribe","channel":"heartbeats"}

Every server message has the envelope
``{"channel":…,"client_id":"","timestamp":…,"sequence_num":N,"events":[…]}`` where
``sequence_num`` counts all messages of the connection across channels from 0. A level2
subscribe answers with one ``l2_data`` ``snapshot`` event per product (the whole true
book) and then the ``subscriptions`` acknowledgement; ``update`` events follow, one
message per model step. Subscribing again to a product sends a fresh snapshot, which is
how a client resynchronises after a ``sequence_num`` gap.

An update frame differs between subscribers only in ``sequence_num``, so it is encoded
once per step as a prefix and a suffix around that number. Times are printed as the
venue's Go servers print them (``iso_time``).

The public product endpoints a client lists before subscribing are served over HTTP on
the same port (``CoinbaseVenue.rest``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from xle.simulator.binance_server import RestAnswer
from xle.simulator.clients import Client, Traffic, traffic
from xle.simulator.config import SimConfig
from xle.simulator.faults import ConnectionFaults
from xle.simulator.market import MarketModel, Step
from xle.simulator.reference import coinbase_product

__all__ = ["CoinbaseVenue", "iso_time"]

_CHANNELS = ("level2", "market_trades", "heartbeats")
_DAY_NS = 86_400 * 1_000_000_000
_PERCENT_PLACES = Decimal("0.00000001")
_PRODUCTS = ("api/v3/brokerage/market/products", "api/v3/brokerage/products")


class _Volume:
    """The simulated trades of one product over the last 24 hours, as running sums."""

    __slots__ = ("base", "last", "quote", "trades")

    def __init__(self) -> None:
        self.trades: deque[tuple[int, Decimal, Decimal]] = deque()  # (wall ns, price, size)
        self.base = Decimal(0)
        self.quote = Decimal(0)
        self.last = ""  # the last trade's price as printed

    def add(self, wall_ns: int, price: str, size: str) -> None:
        self.last = price
        p, q = Decimal(price), Decimal(size)
        self.trades.append((wall_ns, p, q))
        self.base += q
        self.quote += p * q
        while self.trades[0][0] <= wall_ns - _DAY_NS:
            _, old_p, old_q = self.trades.popleft()
            self.base -= old_q
            self.quote -= old_p * old_q

    def change_percent(self) -> str:
        if not self.trades:
            return "0"
        first, last = self.trades[0][1], self.trades[-1][1]
        return _decimal_text(((last - first) / first * 100).quantize(_PERCENT_PLACES))


def _decimal_text(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``"12.5"``, ``"0"``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def iso_time(ns: int, digits: int = 9) -> str:
    """A Coinbase time string: RFC 3339 cut to ``digits`` fractional digits, then trailing
    zeros trimmed (and the dot with them), as Go's ``RFC3339Nano`` prints it.

    Captured traffic has envelope ``timestamp`` values like ``2026-08-09T21:06:12.38920601Z``
    (nanoseconds, trimmed) and ``event_time`` / trade ``time`` values like
    ``2026-08-09T21:05:48.27841Z`` (microseconds, trimmed); a client that parses them with
    a fixed width breaks on the real venue, so the simulator prints them the same way.
    """
    seconds, frac = divmod(ns, 1_000_000_000)
    digits_text = f"{frac:09d}"[:digits].rstrip("0")
    if not digits_text:
        return f"{_second(seconds)}Z"
    return f"{_second(seconds)}.{digits_text}Z"


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    """The whole-second part of a timestamp; cached, since it changes once a second."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _go_time(ns: int, since_start_ns: int) -> str:
    """Heartbeat ``current_time`` as Go prints it:
    ``2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105``."""
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}.{frac:09d} +0000 UTC m=+{since_start_ns / 1e9:.9f}"


class _CoinbaseClient(Client):
    def __init__(
        self, ws: ServerConnection, conn_no: int, faults: ConnectionFaults, backlog: int
    ) -> None:
        super().__init__(ws, "coinbase", conn_no, faults, backlog)
        self.seq = -1  # last sequence_num used
        self.level2: set[str] = set()
        self.market_trades: set[str] = set()
        self.heartbeats = False
        self.subscribed = asyncio.Event()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class CoinbaseVenue:
    """The Coinbase-protocol venue on the shared server."""

    name = "coinbase"

    def __init__(self, model: MarketModel, config: SimConfig, clock_ns: Callable[[], int]) -> None:
        self.model = model
        self.config = config
        self._clock_ns = clock_ns  # () -> current wall-clock ns of the model
        self._l2: dict[str, set[_CoinbaseClient]] = {}
        self._trades: dict[str, set[_CoinbaseClient]] = {}
        self._heartbeats: set[_CoinbaseClient] = set()
        self._recent = {
            s: deque[bytes](maxlen=config.recent_trades) for s in model.symbols(self.name)
        }
        #: product -> ``event_time`` of the last update, which a snapshot's levels carry.
        self._book_time = dict.fromkeys(model.symbols(self.name), iso_time(0, 6))
        self._conn_no = 0
        self._heartbeat_counter = 0
        self._volume = {s: _Volume() for s in model.symbols(self.name)}
        model.top_venues.discard(self.name)  # Coinbase has no bookTicker
        self._started_ns = time.monotonic_ns()
        self.clients: set[_CoinbaseClient] = set()
        self.finished = Traffic()  # counters of the connections that have closed

    def traffic(self) -> Traffic:
        """Frames queued, sent, dropped by faults and lost to slowness, all connections."""
        return traffic(self.finished, self.clients)

    # ------------------------------------------------------------------ streaming

    def publish(
        self, step: Step, wall_ns: int, event_time: str, timestamp: str | None = None
    ) -> None:
        """Send one model step to its level2 and market_trades subscribers.

        ``timestamp`` is ``iso_time(wall_ns)`` when the caller already has it.
        """
        product = step.symbol
        if timestamp is None:
            timestamp = iso_time(wall_ns)
        self._book_time[product] = event_time
        l2_subs = self._l2.get(product)
        if l2_subs:
            updates = _updates(step.bids, step.asks, event_time)
            prefix = (
                f'{{"channel":"l2_data","client_id":"","timestamp":"{timestamp}","sequence_num":'
            ).encode()
            suffix = (
                f',"events":[{{"type":"update","product_id":"{product}","updates":[{updates}]}}]}}'
            ).encode()
            for client in l2_subs:
                client.seq += 1
                client.send_data(b"%b%d%b" % (prefix, client.seq, suffix))
        if step.trades:
            trade_time = iso_time(wall_ns, 6)
            prints = [
                (
                    f'{{"trade_id":"{t.trade_id}","product_id":"{product}","price":"{t.price}",'
                    f'"size":"{t.qty}","side":"{t.side.upper()}","time":"{trade_time}"}}'
                ).encode()
                for t in step.trades
            ]
            self._recent[product].extendleft(prints)
            volume = self._volume[product]
            for t in step.trades:
                volume.add(wall_ns, t.price, t.qty)
            trade_subs = self._trades.get(product)
            if trade_subs:
                prefix, suffix = _envelope(
                    "market_trades", timestamp, _trades_event("update", prints)
                )
                for client in trade_subs:
                    client.send_data(prefix + str(client.next_seq()).encode() + suffix)

    def start(self, wall_ns: int) -> None:
        """The books' starting time: what a snapshot before the first update carries."""
        self._book_time = dict.fromkeys(self._book_time, iso_time(wall_ns, 6))

    def heartbeat(self) -> None:
        """One heartbeat to every heartbeats subscriber (the server calls this each second)."""
        self._heartbeat_counter += 1
        if not self._heartbeats:
            return
        now = time.time_ns()
        current = _go_time(now, time.monotonic_ns() - self._started_ns)
        event = f'[{{"current_time":"{current}","heartbeat_counter":{self._heartbeat_counter}}}]'
        prefix, suffix = _envelope("heartbeats", iso_time(now), event.encode())
        for client in self._heartbeats:
            client.send_data(prefix + str(client.next_seq()).encode() + suffix)

    # ------------------------------------------------------------------ REST

    def rest(self, path: str, query: str) -> RestAnswer:
        """The public reference endpoints a client reads before it subscribes.

        ``GET /api/v3/brokerage/market/products`` (optionally ``?product_ids=…``,
        repeatable, ``limit`` and ``offset``), ``…/market/products/{id}``, the same under
        ``/api/v3/brokerage/products`` (which the real venue serves only to signed
        requests; the simulator asks for no credentials), and ``/api/v3/brokerage/time``.
        """
        if path == "api/v3/brokerage/time":
            now = self._clock_ns()
            body = {
                "iso": iso_time(now, 3),
                "epochSeconds": str(now // 1_000_000_000),
                "epochMillis": str(now // 1_000_000),
            }
            return RestAnswer(200, msgspec.json.encode(body))
        for prefix in _PRODUCTS:
            if path == prefix:
                return self._list_products(parse_qs(query))
            if path.startswith(prefix + "/") and "/" not in path[len(prefix) + 1 :]:
                product = path[len(prefix) + 1 :]
                if not self.model.has(self.name, product):
                    return RestAnswer(404, _not_found(f"product {product} not found"))
                return RestAnswer(200, msgspec.json.encode(self._product(product)))
        return RestAnswer(404, _not_found("Not Found"))

    def _list_products(self, args: dict[str, list[str]]) -> RestAnswer:
        wanted = args.get("product_ids")
        products = [p for p in self.model.symbols(self.name) if wanted is None or p in wanted]
        try:
            offset = int((args.get("offset") or ["0"])[0])
            limit = int((args.get("limit") or ["0"])[0])
        except ValueError:
            message = "limit and offset must be integers"
            body = {"error": "INVALID_ARGUMENT", "error_details": message, "message": message}
            return RestAnswer(400, msgspec.json.encode(body))
        products = products[max(offset, 0) :]
        if limit > 0:
            products = products[:limit]
        body = {"products": [self._product(p) for p in products], "num_products": len(products)}
        return RestAnswer(200, msgspec.json.encode(body))

    def _product(self, product: str) -> dict[str, object]:
        volume = self._volume[product]
        if volume.last:
            price = volume.last
        else:
            bids = self.model.snapshot(self.name, product, 1).bids
            price = bids[0][0] if bids else "0"
        return coinbase_product(
            self.model.instrument(self.name, product),
            price,
            volume.change_percent(),
            _decimal_text(volume.base),
            _decimal_text(volume.quote.quantize(_PERCENT_PLACES)),
        )

    # ------------------------------------------------------------------ connections

    async def serve(self, ws: ServerConnection) -> None:
        self._conn_no += 1
        faults = ConnectionFaults(self.config.faults, self.config.seed, self.name, self._conn_no)
        client = _CoinbaseClient(ws, self._conn_no, faults, self.config.max_backlog)
        self.clients.add(client)
        self.finished.connected()
        writer = asyncio.create_task(client.run_writer())
        reader = asyncio.create_task(self._read(client))
        try:
            async with asyncio.timeout(self.config.max_lifetime):
                subscribed = asyncio.create_task(client.subscribed.wait())
                await asyncio.wait(
                    {reader, subscribed},
                    timeout=self.config.subscribe_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                subscribed.cancel()
                if not client.subscribed.is_set():
                    if not reader.done():
                        await ws.close(1008, "no subscribe message received in time")
                    return
                await reader
        except TimeoutError:
            await ws.close(1001, "connection lifetime exceeded")
        finally:
            reader.cancel()
            writer.cancel()
            self._forget(client)

    async def _read(self, client: _CoinbaseClient) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in client.ws:
                self._request(client, message)

    def _request(self, client: _CoinbaseClient, message: str | bytes) -> None:
        try:
            request = msgspec.json.decode(message)
        except msgspec.DecodeError:
            return self._error(client, "failure to subscribe", "malformed JSON")
        if not isinstance(request, dict):
            return self._error(client, "failure to subscribe", "expected a JSON object")
        kind, channel = request.get("type"), request.get("channel")
        if kind not in ("subscribe", "unsubscribe"):
            return self._error(client, "failure to subscribe", f"unknown type {kind!r}")
        if channel not in _CHANNELS:
            return self._error(client, "failure to subscribe", f"unknown channel {channel!r}")
        products = request.get("product_ids", [])
        if channel != "heartbeats":
            if not isinstance(products, list) or not products:
                return self._error(client, "failure to subscribe", "product_ids required")
            unknown = [p for p in products if not self.model.has(self.name, str(p))]
            if unknown:
                return self._error(client, "failure to subscribe", f"unknown products {unknown}")
        if kind == "subscribe":
            self._subscribe(client, channel, products)
            client.subscribed.set()
        else:
            self._unsubscribe(client, channel, products)
        self._acknowledge(client)
        return None

    def _subscribe(self, client: _CoinbaseClient, channel: str, products: list[str]) -> None:
        if channel == "heartbeats":
            client.heartbeats = True
            self._heartbeats.add(client)
            return
        now = iso_time(self._clock_ns())
        for product in products:
            if channel == "level2":
                self._send_snapshot(client, product, now)
                client.level2.add(product)
                self._l2.setdefault(product, set()).add(client)
            else:
                prefix, suffix = _envelope(
                    "market_trades", now, _trades_event("snapshot", list(self._recent[product]))
                )
                client.send_data(prefix + str(client.next_seq()).encode() + suffix)
                client.market_trades.add(product)
                self._trades.setdefault(product, set()).add(client)

    def _send_snapshot(self, client: _CoinbaseClient, product: str, now: str) -> None:
        """Every level carries the ``event_time`` of the book's last update, as in captured
        snapshots (one time, a little before the message's ``timestamp``)."""
        snap = self.model.snapshot(self.name, product)
        updates = _updates(snap.bids, snap.asks, self._book_time[product])
        event = f'[{{"type":"snapshot","product_id":"{product}","updates":[{updates}]}}]'
        prefix, suffix = _envelope("l2_data", now, event.encode())
        client.send_data(prefix + str(client.next_seq()).encode() + suffix)

    def _unsubscribe(self, client: _CoinbaseClient, channel: str, products: list[str]) -> None:
        if channel == "heartbeats":
            client.heartbeats = False
            self._heartbeats.discard(client)
            return
        owned, index = (
            (client.level2, self._l2)
            if channel == "level2"
            else (client.market_trades, self._trades)
        )
        for product in products:
            owned.discard(product)
            index.get(product, set()).discard(client)

    def _acknowledge(self, client: _CoinbaseClient) -> None:
        subscriptions: dict[str, list[str]] = {}
        if client.level2:
            subscriptions["level2"] = sorted(client.level2)
        if client.market_trades:
            subscriptions["market_trades"] = sorted(client.market_trades)
        if client.heartbeats:
            subscriptions["heartbeats"] = ["heartbeats"]
        event = msgspec.json.encode([{"subscriptions": subscriptions}])
        prefix, suffix = _envelope("subscriptions", iso_time(time.time_ns()), event)
        client.send_control(prefix + str(client.next_seq()).encode() + suffix)

    @staticmethod
    def _error(client: _CoinbaseClient, message: str, reason: str) -> None:
        client.send_control(
            msgspec.json.encode({"type": "error", "message": f"{message}: {reason}"})
        )

    def _forget(self, client: _CoinbaseClient) -> None:
        if client in self.clients:
            self.finished.add(client)
        self.clients.discard(client)
        self._heartbeats.discard(client)
        for product in client.level2:
            self._l2.get(product, set()).discard(client)
        for product in client.market_trades:
            self._trades.get(product, set()).discard(client)


def _not_found(message: str) -> bytes:
    return msgspec.json.encode({"error": "NOT_FOUND", "error_details": message, "message": message})


def _envelope(channel: str, timestamp: str, events: bytes) -> tuple[bytes, bytes]:
    """Prefix and suffix of a message around its ``sequence_num``."""
    prefix = (
        f'{{"channel":"{channel}","client_id":"","timestamp":"{timestamp}","sequence_num":'
    ).encode()
    return prefix, b',"events":' + events + b"}"


def _updates(bids: list[tuple[str, str]], asks: list[tuple[str, str]], event_time: str) -> str:
    parts = [
        f'{{"side":"bid","event_time":"{event_time}","price_level":"{p}","new_quantity":"{q}"}}'
        for p, q in bids
    ]
    parts += [
        f'{{"side":"offer","event_time":"{event_time}","price_level":"{p}","new_quantity":"{q}"}}'
        for p, q in asks
    ]
    return ",".join(parts)


def _trades_event(kind: str, prints: list[bytes]) -> bytes:
    return b'[{"type":"' + kind.encode() + b'","trades":[' + b",".join(prints) + b"]}]"
