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

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from xle.simulator.faults import Action, ConnectionFaults

__all__ = ["Client"]

log = logging.getLogger(__name__)


class _Cut:
    """Outbox marker: abort the TCP connection here (a disconnect fault)."""


_CUT = _Cut()


class Client:
    """Outbox and writer of one client connection."""

    def __init__(
        self, ws: ServerConnection, venue: str, conn_no: int, faults: ConnectionFaults, backlog: int
    ) -> None:
        self.ws = ws
        self.venue = venue
        self.conn_no = conn_no  # 1-based, in accept order per venue
        self.faults = faults
        self.sent = 0  # frames handed to the socket
        self.dropped = 0  # data frames a drop fault swallowed
        self._backlog = backlog
        self._items: list[bytes | float | _Cut] = []
        self._wake = asyncio.Event()
        self._cut = False

    @property
    def cut(self) -> bool:
        return self._cut

    def send_data(self, frame: bytes) -> None:
        """Queue a data frame, after the fault injector has had its say."""
        if self._cut:
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
        if len(items) == 1:
            self._wake.set()
        if len(items) > self._backlog:
            log.warning(
                "%s client %d is %d frames behind: cut", self.venue, self.conn_no, len(items)
            )
            self._items = [_CUT]
            self._cut = True

    async def run_writer(self) -> None:
        """Drain the outbox to the socket until the connection ends."""
        ws = self.ws
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                items, self._items = self._items, []
                for item in items:
                    if isinstance(item, bytes):
                        await ws.send(item, text=True)
                        self.sent += 1
                    elif isinstance(item, _Cut):
                        ws.transport.abort()
                        return
                    else:
                        await asyncio.sleep(item)
        except ConnectionClosed:
            return
