"""A hostile Binance-style peer on 127.0.0.1, run as its own process.

``python -m tests.recorder.hostile_peer --ws MODE --rest MODE [--size N]`` prints
``PORT <n>`` and serves until killed. It speaks just enough HTTP/1.1 and WebSocket
(RFC 6455) by hand to misbehave in ways a real server library would not let it:

WebSocket modes (every connection):
  quiet   handshake, then send nothing
  huge    a few normal frames, then one text frame whose header announces ``--size``
          bytes, its payload streamed in 64 KiB pieces (never held whole)
  flood   frames of ``--size`` bytes back to back, forever

REST modes (every ``/api/`` request; ``ok`` serves a small depth snapshot):
  ok          200 with a snapshot
  huge        200 declaring ``Content-Length: --size`` and streaming that many bytes
  endless     200, chunked, a body that never ends
  trickle     200 declaring 1 MB, one byte every 50 ms
  retry:V     429 with ``Retry-After: V`` to the first request, then ``ok``
  slow        ``ok`` after 2 s (slow, not hostile)

It runs in a separate process so that what it holds in memory is not counted in the
recorder's resident set size, which the tests measure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import struct

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SNAPSHOT = b'{"lastUpdateId":100,"bids":[["10.5","1"]],"asks":[["11","2"]]}'
_CHUNK = 64 * 1024


def _trade(i: int) -> bytes:
    return (
        b'{"stream":"btcusdt@trade","data":{"e":"trade","E":%d,"s":"BTCUSDT","t":%d,'
        b'"p":"10.7","q":"1","T":%d,"m":true}}' % (i, i, i)
    )


def _header(length: int) -> bytes:
    """Header of one unmasked, final text frame carrying ``length`` bytes."""
    if length < 126:
        return struct.pack("!BB", 0x81, length)
    if length < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


class HostilePeer:
    def __init__(self, ws_mode: str, rest_mode: str, size: int) -> None:
        self.ws_mode = ws_mode
        self.rest_mode = rest_mode
        self.size = size
        self.rest_requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            if "/api/" in path:
                await self.rest(writer)
            else:
                await self.websocket(reader, writer, headers["sec-websocket-key"])
        except (ConnectionError, asyncio.IncompleteReadError, KeyError, IndexError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def rest(self, writer: asyncio.StreamWriter) -> None:
        self.rest_requests += 1
        mode = self.rest_mode
        base = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if mode.startswith("retry:") and self.rest_requests == 1:
            body = b'{"code":-1003,"msg":"Too many requests"}'
            writer.write(
                b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: %s\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (mode[6:].encode(), len(body), body)
            )
        elif mode == "huge":
            writer.write(base + b"Content-Length: %d\r\n\r\n" % self.size)
            piece = b" " * _CHUNK
            for _ in range(self.size // _CHUNK):
                writer.write(piece)
                await writer.drain()
        elif mode == "endless":
            writer.write(base + b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (_CHUNK, b" " * _CHUNK)
            while True:
                writer.write(chunk)
                await writer.drain()
        elif mode == "trickle":
            writer.write(base + b"Content-Length: 1000000\r\n\r\n")
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.05)
        else:
            if mode == "slow":
                await asyncio.sleep(2.0)
            writer.write(base + b"Content-Length: %d\r\n\r\n%s" % (len(SNAPSHOT), SNAPSHOT))
        await writer.drain()

    async def websocket(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str
    ) -> None:
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept
        )
        drain_client = asyncio.create_task(self._discard(reader))
        try:
            if self.ws_mode == "huge":
                for i in range(3):
                    frame = _trade(i)
                    writer.write(_header(len(frame)) + frame)
                prefix = b'{"stream":"btcusdt@trade","data":"'
                writer.write(_header(self.size) + prefix)
                piece = b"x" * _CHUNK
                for _ in range((self.size - len(prefix)) // _CHUNK):
                    writer.write(piece)
                    await writer.drain()
            elif self.ws_mode == "flood":
                prefix = b'{"stream":"btcusdt@trade","data":"'
                frame = _header(self.size) + prefix + b"x" * (self.size - len(prefix) - 2) + b'"}'
                while True:
                    writer.write(frame)
                    await writer.drain()
            await drain_client
        finally:
            drain_client.cancel()

    @staticmethod
    async def _discard(reader: asyncio.StreamReader) -> None:
        while await reader.read(_CHUNK):
            pass


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws", default="quiet")
    parser.add_argument("--rest", default="ok")
    parser.add_argument("--size", type=int, default=1 << 20)
    args = parser.parse_args()
    peer = HostilePeer(args.ws, args.rest, args.size)
    server = await asyncio.start_server(peer.handle, "127.0.0.1", 0)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
