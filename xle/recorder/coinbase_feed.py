"""Coinbase Advanced Trade live capture: subscriptions, reconnects, level2 resubscribes.

Products are spread over several connections (``products_per_connection``). On each
connection the feed sends one subscribe per channel (level2, market_trades, heartbeats)
right after the handshake, paced but well within the 5 s the server allows, and logs
every frame with its channel and product read from the first bytes (no JSON parse). A
``ResyncRequest`` from the engine becomes ``unsubscribe`` + ``subscribe`` of level2 for
that product on its connection, after which Coinbase sends a fresh snapshot.

Market data needs no authentication. If ``COINBASE_API_KEY`` and ``COINBASE_API_SECRET``
are set in the environment (the only place credentials are read from), each subscribe
carries a short-lived ES256 JWT. Neither value, nor the token, is ever logged or printed:
the log records only which channel and products were subscribed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from xle.exchanges.coinbase import (
    CHANNELS,
    PRODUCT_WINDOW,
    subscribe_message,
    unsubscribe_message,
)
from xle.exchanges.registry import VenueSpec
from xle.recorder.feedbase import (
    ConnectionLoop,
    FeedOptions,
    SendPacer,
    Sink,
    VenueStats,
    leading_string,
)

if TYPE_CHECKING:
    from xle.recorder.live import RecorderConfig

__all__ = ["CoinbaseCredentials", "CoinbaseFeed", "CredentialsError", "build_feed", "channel_of"]

_CHANNEL = b'{"channel":"'
_CHANNEL_LEN = len(_CHANNEL)
_NAME_END = _CHANNEL_LEN + 64
_PRODUCT = b'"product_id":"'
_PRODUCT_LEN = len(_PRODUCT)
_PRODUCT_WINDOW = PRODUCT_WINDOW
_LABEL_CACHE_LIMIT = 8192
#: Environment variables holding the optional API key name and its EC private key (PEM).
KEY_ENV = "COINBASE_API_KEY"
SECRET_ENV = "COINBASE_API_SECRET"


class CredentialsError(Exception):
    """The credentials could not be used; the message never contains them."""


class CoinbaseCredentials:
    """An API key name and secret taken from the environment, signing subscribe JWTs.

    ``repr`` and ``str`` hide both values so they cannot leak through a log line or a
    traceback of this object.
    """

    __slots__ = ("_key", "_private_key", "_secret")

    def __init__(self, key: str, secret: str) -> None:
        self._key = key
        self._secret = secret.replace("\\n", "\n")
        self._private_key: object | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CoinbaseCredentials | None:
        env = os.environ if environ is None else environ
        key, secret = env.get(KEY_ENV, ""), env.get(SECRET_ENV, "")
        return cls(key, secret) if key and secret else None

    def __repr__(self) -> str:
        return "CoinbaseCredentials(<hidden>)"

    __str__ = __repr__

    def jwt(self) -> str:
        """A 2-minute ES256 token for a WebSocket subscribe (Coinbase CDP key format)."""
        try:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        except ImportError:
            raise CredentialsError(
                "the 'cryptography' package is needed to sign Coinbase subscriptions"
            ) from None
        if self._private_key is None:
            try:
                key = serialization.load_pem_private_key(self._secret.encode(), password=None)
            except (ValueError, TypeError):
                raise CredentialsError(f"{SECRET_ENV} is not a PEM EC private key") from None
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise CredentialsError(f"{SECRET_ENV} is not an EC private key")
            self._private_key = key
        now = int(time.time())
        header = {"alg": "ES256", "kid": self._key, "nonce": secrets.token_hex(16), "typ": "JWT"}
        claims = {"iss": "cdp", "nbf": now, "exp": now + 120, "sub": self._key}
        signing_input = _b64(msgspec.json.encode(header)) + "." + _b64(msgspec.json.encode(claims))
        der = self._private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))  # type: ignore[attr-defined]
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def channel_of(payload: bytes) -> str:
    """The ``channel`` of a Coinbase frame when it comes first (as Coinbase sends it)."""
    return leading_string(payload, _CHANNEL, _NAME_END - _CHANNEL_LEN)


@dataclass(eq=False)
class _Slot:
    products: list[str]
    conn: int = 0
    ws: ClientConnection | None = None
    opened: float = 0.0  # time.monotonic() of the last handshake
    pacer: SendPacer | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    resubscribing: set[str] = field(default_factory=set)


class CoinbaseFeed(ConnectionLoop):
    """All connections of the Coinbase venue."""

    exchange = "coinbase"

    def __init__(
        self,
        products: list[str],
        *,
        ws_url: str,
        sink: Sink,
        stats: VenueStats,
        options: FeedOptions | None = None,
        products_per_connection: int = 10,
        credentials: CoinbaseCredentials | None = None,
    ) -> None:
        if not products:
            raise ValueError("coinbase: no products to record")
        self.ws_url = ws_url
        self.options = options or FeedOptions()
        self._sink = sink
        self._stats = stats
        self._credentials = credentials
        self._credentials_failed = False
        self._labels: dict[bytes, str] = {}
        self._products: dict[bytes, str] = {}
        unique = list(dict.fromkeys(p.upper() for p in products))
        per_conn = max(1, products_per_connection)
        self._slots = [_Slot(unique[i : i + per_conn]) for i in range(0, len(unique), per_conn)]
        self._slot_of = {p: slot for slot in self._slots for p in slot.products}

    @property
    def symbols(self) -> list[str]:
        return list(self._slot_of)

    @property
    def connection_count(self) -> int:
        return len(self._slots)

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for slot in self._slots:
                group.create_task(self._keep_connected(slot))

    def request_resync(
        self, product: str, reason: str, *, force: bool = False, **fields: object
    ) -> bool:
        """The engine lost this book (or the watchdog found it unsynced for too long):
        resubscribe level2 for it, after which Coinbase sends a fresh snapshot. A
        resubscribe under way is never doubled, ``force`` or not (it takes two paced
        sends; the watchdog asks again later if it did not help)."""
        slot = self._slot_of.get(product)
        if slot is None or slot.ws is None or product in slot.resubscribing:
            return False
        slot.resubscribing.add(product)
        self._stats.resyncs += 1
        self._sink.event(self.exchange, slot.conn, "resync", product, reason=reason, **fields)
        self._spawn(slot, self._resubscribe(slot, slot.ws, slot.conn, product))
        return True

    # ------------------------------------------------------------------ connections

    async def _keep_connected(self, slot: _Slot) -> None:
        await self._keep_connected_to(slot, self.ws_url, self.options.coinbase_max_frame)

    def _connected_fields(self, slot: _Slot) -> dict[str, object]:
        return {"products": slot.products}

    def _on_open(self, slot: _Slot, ws: ClientConnection, conn: int) -> None:
        """Subscribe within Coinbase's 5 s, paced under its incoming-message limit."""
        slot.pacer = SendPacer(self.options.sends_per_second)
        self._spawn(slot, self._subscribe_all(slot, ws, conn))

    async def _receive(self, ws: ClientConnection, conn: int) -> None:
        """The hot loop: label each frame by its leading bytes and hand it to the sink."""
        recv = ws.recv
        frame = self._sink.frame
        drain = self._sink.drain
        stats = self._stats
        labels = self._labels
        products = self._products
        ex = self.exchange
        while True:
            payload = await recv(False)
            channel = ""
            if payload[:_CHANNEL_LEN] == _CHANNEL:
                end = payload.find(b'"', _CHANNEL_LEN, _NAME_END)
                if end > 0:
                    key = payload[_CHANNEL_LEN:end]
                    channel = labels.get(key) or self._learn(key)
            symbol = None
            at = payload.find(_PRODUCT, 0, _PRODUCT_WINDOW)
            if at >= 0:
                start = at + _PRODUCT_LEN
                end = payload.find(b'"', start, start + 64)
                if end > 0:
                    key = payload[start:end]
                    symbol = products.get(key) or self._product(key)
            stats.frames += 1
            stats.bytes += len(payload)
            if frame(ex, conn, channel, symbol, payload):
                await drain()

    def _learn(self, key: bytes) -> str:
        channel = key.decode("utf-8", "replace")
        if len(self._labels) < _LABEL_CACHE_LIMIT:
            self._labels[key] = channel
        return channel

    def _product(self, key: bytes) -> str:
        name = key.decode("utf-8", "replace")
        if len(self._products) < _LABEL_CACHE_LIMIT:
            self._products[key] = name
        return name

    # ------------------------------------------------------------------ sending

    async def _subscribe_all(self, slot: _Slot, ws: ClientConnection, conn: int) -> None:
        for channel in CHANNELS:
            products = [] if channel == "heartbeats" else slot.products
            await self._send(slot, ws, subscribe_message(channel, products))
            self._sink.event(
                self.exchange, conn, "subscribed", None, channel=channel, product_ids=products
            )

    async def _resubscribe(
        self, slot: _Slot, ws: ClientConnection, conn: int, product: str
    ) -> None:
        try:
            await self._send(slot, ws, unsubscribe_message("level2", [product]), sign=False)
            await self._send(slot, ws, subscribe_message("level2", [product]))
            self._sink.event(
                self.exchange, conn, "subscribed", product, channel="level2", product_ids=[product]
            )
        finally:
            slot.resubscribing.discard(product)

    async def _send(
        self, slot: _Slot, ws: ClientConnection, message: bytes, *, sign: bool = True
    ) -> None:
        """Send one text message, paced; signed with a JWT when credentials are set."""
        assert slot.pacer is not None
        await slot.pacer.wait()
        if sign and self._credentials is not None and not self._credentials_failed:
            try:
                token = self._credentials.jwt()
            except CredentialsError as exc:
                self._credentials_failed = True  # report once, then go on unauthenticated
                self._sink.event(
                    self.exchange, slot.conn, "error", None, what="credentials", error=str(exc)
                )
            else:
                body = msgspec.json.decode(message)
                body["jwt"] = token
                message = msgspec.json.encode(body)
        try:
            await ws.send(message.decode())
        except ConnectionClosed:
            return  # the receive loop reports the disconnect

    def _spawn(self, slot: _Slot, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        slot.tasks.add(task)
        task.add_done_callback(slot.tasks.discard)

    def _drop(self, slot: _Slot) -> None:
        slot.ws = None
        slot.resubscribing.clear()
        for task in list(slot.tasks):
            task.cancel()
        slot.tasks.clear()


def build_feed(
    spec: VenueSpec,
    symbols: list[str],
    *,
    ws_url: str,
    rest_url: str | None,
    sink: Sink,
    stats: VenueStats,
    config: RecorderConfig,
) -> CoinbaseFeed:
    """The feed factory of Coinbase's spec (``VenueSpec.feed``); credentials, if any, come
    from the environment (see the module docstring)."""
    return CoinbaseFeed(
        symbols,
        ws_url=ws_url,
        sink=sink,
        stats=stats,
        options=config.options,
        products_per_connection=config.products_per_connection,
        credentials=CoinbaseCredentials.from_env(),
    )
