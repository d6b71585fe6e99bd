"""A scripted WebSocket + REST server on 127.0.0.1 for the connection-loop mechanics only.

The end-to-end tests use the real simulator (``xle.simulator``); this server exists to
make one connection misbehave in an exact, scripted way (close after N frames, answer a
snapshot with 429 first, collect what the client sent) that a market model does not
promise. It runs its own event loop in a thread so a test can drive a recorder thread
against it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response


@dataclass
class RestReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Script:
    """What the server does; every list is consumed in order, the last entry repeats."""

    #: frames for the n-th WebSocket connection (path -> list per connection)
    frames: Callable[[str, int], list[bytes]] = lambda path, n: []
    #: close the connection after its frames (else keep it open)
    close_after_frames: bool = False
    #: REST replies in order (the last one repeats)
    rest: list[RestReply] = field(default_factory=list)
    #: reply to each text message a client sends (Coinbase-style), given the message
    on_message: Callable[[str, int], list[bytes]] | None = None


class TinyServer:
    """Start with ``with TinyServer(script) as srv: srv.port``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.paths: list[str] = []
        self.received: list[tuple[int, str]] = []  # (connection number, text message)
        self.received_at: list[float] = []  # time.monotonic() of each received message
        self.rest_requests: list[str] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> TinyServer:
        self._thread.start()
        assert self._ready.wait(10), "tiny server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(
            self._handler, "127.0.0.1", 0, process_request=self._http, compression=None
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if "/api/" not in request.path:
            return None
        self.rest_requests.append(request.path)
        replies = self.script.rest
        reply = replies[min(len(self.rest_requests), len(replies)) - 1]
        response = connection.respond(reply.status, "")
        headers = {"Content-Length": str(len(reply.body)), "Content-Type": "application/json"}
        for key, value in {**headers, **reply.headers}.items():
            if key in response.headers:
                del response.headers[key]
            response.headers[key] = value
        response.body = reply.body
        return response

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        path = ws.request.path if ws.request is not None else ""
        self.paths.append(path)
        sender = asyncio.create_task(self._send_frames(ws, path, number))
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                self.received.append((number, text))
                self.received_at.append(time.monotonic())
                if self.script.on_message is not None:
                    for reply in self.script.on_message(text, number):
                        await ws.send(reply.decode())
        finally:
            sender.cancel()

    async def _send_frames(self, ws: ServerConnection, path: str, number: int) -> None:
        for frame in self.script.frames(path, number):
            await ws.send(frame.decode())
        if self.script.close_after_frames:
            await ws.close()
