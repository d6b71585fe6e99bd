"""Client-side helpers of the simulator tests: read frames, keep a book the way clients do."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Book = dict[str, dict[str, str]]  # {"bids": {price: qty}, "asks": {...}} as exact strings


def ws_connect(url: str) -> Any:
    """A websockets client as a recorder would open it (no compression, big frames)."""
    return connect(url, compression=None, max_size=2**26, open_timeout=5)


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def drain(ws: ClientConnection, quiet: float = 0.3) -> list[Any]:
    """Every frame that arrives until the connection is quiet for ``quiet`` seconds."""
    frames = []
    while True:
        try:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
        except TimeoutError:
            return frames


async def until(ws: ClientConnection, wanted: Any, timeout: float = 5.0) -> list[Any]:
    """Frames up to and including the first one for which ``wanted(frame)`` is true."""
    frames = []
    async with asyncio.timeout(timeout):
        while not frames or not wanted(frames[-1]):
            frames.append(json.loads(await ws.recv()))
    return frames


def apply(side: dict[str, str], levels: list[list[str]] | list[tuple[str, str]]) -> None:
    """Absolute quantities; a zero quantity removes the level (both venues)."""
    for price, qty in levels:
        if float(qty) == 0:
            side.pop(price, None)
        else:
            side[price] = qty


def best_first(book: Book) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    bids = sorted(book["bids"].items(), key=lambda lv: float(lv[0]), reverse=True)
    asks = sorted(book["asks"].items(), key=lambda lv: float(lv[0]))
    return bids, asks
