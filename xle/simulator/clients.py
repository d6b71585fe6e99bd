"""One connected WebSocket client: its outbox, its faults, and the task that writes to it.

Why an outbox per client: the clock fans every step out to all subscribers at once and
must never wait on one slow socket. Frames are appended to a plain list (cheap at
50 000 frames/s) and a per-client writer task drains it. A client that falls more than
``max_backlog`` frames behind is cut, as the real venues do with slow consumers.

Faults are decided here, per data frame and in frame order, so they are reproducible
(see faults.py). Control frames (subscribe acknowledgements) are never faulted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from xle.simulator.faults import Action, ConnectionFaults

__all__ = ["Client", "Traffic", "traffic"]

log = logging.getLogger(__name__)


@dataclass
class Traffic:
    """What one venue put on the wire, summed over its client connections.

    ``sent`` counts frames handed to the socket; ``dropped`` those a drop fault
    swallowed; ``lost`` those discarded when a client fell more than ``max_backlog``
    frames behind and was cut (``slow_cuts``). A client that kept up loses nothing.
    """

    since_ns: int = 0  # wall-clock ns of the first connection (0: none yet)
    connections: int = 0  # accepted so far
    open: int = 0  # connected right now
    queued: int = 0
    sent: int = 0
    dropped: int = 0
    lost: int = 0
    slow_cuts: int = 0

    def add(self, client: Client) -> None:
        self.queued += client.queued
        self.sent += client.sent
        self.dropped += client.dropped
        self.lost += client.lost
        self.slow_cuts += client.slow_cut

    def connected(self) -> None:
        """Count one more accepted connection (and remember when the first one came)."""
        self.connections += 1
        if not self.since_ns:
            self.since_ns = time.time_ns()

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def traffic(finished: Traffic, clients: set[Client]) -> Traffic:
    """``finished`` (closed connections) plus the live ``clients``."""
    total = Traffic(**finished.as_dict())
    total.open = len(clients)
    for client in clients:
        total.add(client)
    return total


class _Cut:
    """Outbox marker: abort the TCP connection here (a disconnect fault)."""


_CUT = _Cut()
#: Bytes buffered in the transport above which the writer waits for the socket.
_HIGH_WATER = 4 * 2**20


class Client:
    """Outbox and writer of one client connection."""

    def __init__(
        self, ws: ServerConnection, venue: str, conn_no: int, faults: ConnectionFaults, backlog: int
    ) -> None:
        self.ws = ws
        self.venue = venue
        self.conn_no = conn_no  # 1-based, in accept order per venue
        self.faults = faults
        self.queued = 0  # data and control frames put in the outbox
        self.sent = 0  # frames handed to the socket
        self.dropped = 0  # data frames a drop fault swallowed
        self.slow_cut = False  # cut for falling more than ``backlog`` frames behind
        self.lost = 0  # frames discarded by that cut (queued, never sent)
        self._backlog = backlog
        self._faulty = faults.active
        self._items: list[bytes | float | _Cut] = []
        self._wake = asyncio.Event()
        self._cut = False

    @property
    def cut(self) -> bool:
        return self._cut

    @property
    def idle(self) -> bool:
        """Nothing left to write: the outbox and the socket's buffer are empty (or closed)."""
        transport = self.ws.transport
        return transport.is_closing() or (
            not self._items and transport.get_write_buffer_size() == 0
        )

    def send_data(self, frame: bytes) -> None:
        """Queue a data frame, after the fault injector has had its say.

        Without faults configured this is an append and two length checks: the clock
        calls it once per frame and subscriber, up to 100 000 times a second.
        """
        if self._cut:
            return
        if not self._faulty:
            items = self._items
            items.append(frame)
            self.queued += 1
            if len(items) == 1:
                self._wake.set()
            elif len(items) > self._backlog:
                self._overflow()
            return
        action = self.faults.decide()
        if action is Action.SEND:
            self._push(frame)
        elif action is Action.DROP:
            self.dropped += 1
        elif action is Action.MALFORM:
            self._push(self.faults.corrupt(frame))
        elif action is Action.DELAY:
            self._push(self.faults.delay_s)
            self._push(frame)
        else:  # SEND_THEN_CUT
            self._push(frame)
            self._push(_CUT)
            self._cut = True

    def send_control(self, frame: bytes) -> None:
        """Queue a frame that faults never touch (acknowledgements, errors)."""
        if not self._cut:
            self._push(frame)

    def _push(self, item: bytes | float | _Cut) -> None:
        items = self._items
        items.append(item)
        if type(item) is bytes:
            self.queued += 1
        if len(items) == 1:
            self._wake.set()
        if len(items) > self._backlog:
            self._overflow()

    def _overflow(self) -> None:
        """Too far behind: cut the connection, as the venues do, and count what it lost.

        The venue never waits for a slow client and never hides the loss behind TCP
        back-pressure: the frames still queued are counted in ``lost``, and the client
        sees the connection end without a close frame (and, as a gap, once it is back).
        """
        items = self._items
        self.lost += sum(1 for item in items if type(item) is bytes)
        log.warning("%s client %d is %d frames behind: cut", self.venue, self.conn_no, len(items))
        self._items = [_CUT]
        self._cut = True
        self.slow_cut = True
        self._wake.set()

    async def run_writer(self) -> None:
        """Drain the outbox to the socket until the connection ends.

        Data frames are framed here (RFC 6455 text frames; a server never masks) and
        written to the transport in one call per batch: going through
        ``ServerConnection.send`` costs about ten times more per frame, which caps the
        simulator far below the 50 000 frames/s the recorder benchmark needs. websockets
        still owns the handshake, pings and the closing handshake; frames are whole
        before each write, so its control frames never interleave with ours, and
        nothing is written once the connection has left the OPEN state.
        """
        ws = self.ws
        transport = ws.transport
        while True:
            await self._wake.wait()
            self._wake.clear()
            items, self._items = self._items, []
            chunk: list[bytes] = []
            append = chunk.append
            for item in items:
                if type(item) is bytes:
                    append(_HEADERS.get(len(item)) or _header(len(item)))
                    append(item)
                    continue
                if not await self._write(chunk):
                    return
                chunk = []
                append = chunk.append
                if isinstance(item, _Cut):
                    transport.abort()
                    return
                await asyncio.sleep(item)
            if not await self._write(chunk):
                return

    async def _write(self, chunk: list[bytes]) -> bool:
        """Write framed data, then wait while the socket buffer is full; False once closed."""
        ws = self.ws
        if ws.protocol.state is not State.OPEN or ws.transport.is_closing():
            return False
        if chunk:
            ws.transport.writelines(chunk)
            self.sent += len(chunk) // 2
        while ws.transport.get_write_buffer_size() > _HIGH_WATER:
            await asyncio.sleep(0.002)
            if ws.protocol.state is not State.OPEN or ws.transport.is_closing():
                return False
        return True


def _header(length: int) -> bytes:
    """RFC 6455 header of an unmasked, final text frame of ``length`` payload bytes."""
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65_536:
        header = b"\x81\x7e" + length.to_bytes(2, "big")
    else:
        return b"\x81\x7f" + length.to_bytes(8, "big")
    _HEADERS[length] = header
    return header


#: Headers by payload length below 64 KiB, filled as lengths occur: one lookup a frame.
_HEADERS: dict[int, bytes] = {}
