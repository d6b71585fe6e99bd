"""Ground truth: the true book of every venue/symbol after every message, on disk.

Written as one JSON Lines file per book, ``DIR/<exchange>/<symbol>.jsonl``, because the
true book after message ``k`` is the starting book plus the changes of messages
``1..k``, and the changes are exactly the level strings the venue sent. Line one is the
starting book, every later line one message:

    {"kind":"snapshot","update_id":28437158211,"time_ns":...,"bids":[["60000.01000000","0.50000000"],...],"asks":[...]}
    {"kind":"update","first_id":28437158212,"update_id":28437158250,"time_ns":...,"event_time":"...","bids":[[p,q],...],"asks":[...]}

``update_id`` is the Binance ``u`` (the book id a synced client ends up with) or, for
Coinbase, the model's step number; Coinbase lines also carry the ``event_time`` string
the update was sent with, since a Coinbase client only ever sees that and a
per-connection ``sequence_num``. The truth is the model's own state: faults injected on
the way to a client never touch it.

``truth_book_at`` and ``final_truth`` rebuild a book from the file, as exact strings,
best first, so an end-to-end test can compare what record -> replay rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO

import msgspec

from xle.simulator.market import BookSnapshot, Step

__all__ = ["TruthBook", "TruthWriter", "final_truth", "truth_book_at", "truth_path"]

Levels = list[tuple[str, str]]


def truth_path(directory: str | Path, exchange: str, symbol: str) -> Path:
    return Path(directory) / exchange / f"{symbol}.jsonl"


class TruthWriter:
    """Appends the starting books and every step to the per-book JSONL files."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._files: dict[tuple[str, str], IO[bytes]] = {}
        self._encoder = msgspec.json.Encoder()

    def start(self, exchange: str, symbol: str, snapshot: BookSnapshot, time_ns: int) -> None:
        path = truth_path(self.directory, exchange, symbol)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("wb")
        self._files[(exchange, symbol)] = handle
        line = {
            "kind": "snapshot",
            "update_id": snapshot.update_id,
            "time_ns": time_ns,
            "bids": snapshot.bids,
            "asks": snapshot.asks,
        }
        handle.write(self._encoder.encode(line) + b"\n")

    def write(self, step: Step, time_ns: int, event_time: str | None = None) -> None:
        """Record one step; ``time_ns`` is its wall-clock stamp as sent to clients."""
        line: dict[str, object] = {
            "kind": "update",
            "first_id": step.first_id,
            "update_id": step.last_id,
            "time_ns": time_ns,
            "bids": step.bids,
            "asks": step.asks,
        }
        if event_time is not None:
            line["event_time"] = event_time
        self._files[(step.venue, step.symbol)].write(self._encoder.encode(line) + b"\n")

    def flush(self) -> None:
        for handle in self._files.values():
            handle.flush()

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()


@dataclass(frozen=True)
class TruthBook:
    """A true book as the venue would print it: exact strings, best first."""

    exchange: str
    symbol: str
    update_id: int  # id of the last message applied (Binance u / Coinbase step number)
    time_ns: int  # wall-clock stamp of that message
    event_time: str | None  # Coinbase: the event_time string of that message
    bids: Levels
    asks: Levels


class _Line(msgspec.Struct):
    kind: str
    update_id: int
    time_ns: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    first_id: int = 0
    event_time: str | None = None


_decoder = msgspec.json.Decoder(_Line)


def truth_book_at(
    directory: str | Path,
    exchange: str,
    symbol: str,
    update_id: int | None = None,
    *,
    event_time: str | None = None,
) -> TruthBook:
    """The true book after the last message with id <= ``update_id`` (or, for Coinbase,
    the message sent with exactly this ``event_time``); with neither, the final book.

    Raises ValueError if the file holds no such message (e.g. an id before the start),
    FileNotFoundError if the simulator wrote no truth for this book.
    """
    path = truth_path(directory, exchange, symbol)
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    current: _Line | None = None
    found = False
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # a line still being written
            line = _decoder.decode(raw)
            if line.kind == "snapshot":
                if update_id is not None and line.update_id > update_id:
                    raise ValueError(
                        f"{exchange} {symbol}: update id {update_id} is before the start"
                        f" of the truth ({line.update_id})"
                    )
                bids, asks = dict(line.bids), dict(line.asks)
            else:
                if update_id is not None and line.update_id > update_id:
                    break
                _apply(bids, line.bids)
                _apply(asks, line.asks)
            current = line
            if event_time is not None and line.event_time == event_time:
                found = True
                break
    if current is None:
        raise ValueError(f"{path} holds no book")
    if event_time is not None and not found:
        raise ValueError(f"{exchange} {symbol}: no message with event_time {event_time}")
    return TruthBook(
        exchange,
        symbol,
        current.update_id,
        current.time_ns,
        current.event_time,
        sorted(bids.items(), key=_price_key, reverse=True),
        sorted(asks.items(), key=_price_key),
    )


def final_truth(directory: str | Path, exchange: str, symbol: str) -> TruthBook:
    """The true book after the last message written."""
    return truth_book_at(directory, exchange, symbol)


def _apply(side: dict[str, str], changes: list[tuple[str, str]]) -> None:
    for price, qty in changes:
        if float(qty) == 0:
            side.pop(price, None)
        else:
            side[price] = qty


def _price_key(level: tuple[str, str]) -> Decimal:
    return Decimal(level[0])
