"""cryptofeed's side of ``peer.py``; runs inside ``benchmarks/out/peer-venv`` only.

Feeds recorded Binance combined-stream frames to cryptofeed 2.4's own
``Binance.message_handler`` (yapic.json into Decimal, the ``order-book`` C extension),
offline: the symbol table is set by hand and the REST snapshot comes from the log, with
the same code as cryptofeed's ``_snapshot`` minus the HTTP request. Everything else is
cryptofeed's code path as a live feed runs it.

    python peer_child.py MESSAGES_FILE LIMIT noop|bbo   -> one JSON line on stdout

``MESSAGES_FILE``: first line the REST snapshot, then one frame per line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from decimal import Decimal

from cryptofeed.defines import BINANCE, L2_BOOK
from cryptofeed.exchanges import Binance
from cryptofeed.symbols import Symbols
from cryptofeed.types import OrderBook

logging.disable(logging.CRITICAL)


def _offline_feed(snapshot: str, callback) -> Binance:
    Symbols.set(
        BINANCE,
        {"BTC-USDT": "BTCUSDT"},
        {"tick_size": {"BTC-USDT": "0.01"}, "instrument_type": {"BTC-USDT": "spot"}},
    )

    class OfflineBinance(Binance):
        async def _snapshot(self, pair: str) -> None:
            resp = json.loads(snapshot, parse_float=Decimal)
            std_pair = self.exchange_symbol_to_std_symbol(pair)
            self.last_update_id[std_pair] = resp["lastUpdateId"]
            self._l2_book[std_pair] = OrderBook(
                self.id,
                std_pair,
                max_depth=self.max_depth,
                bids={Decimal(u[0]): Decimal(u[1]) for u in resp["bids"]},
                asks={Decimal(u[0]): Decimal(u[1]) for u in resp["asks"]},
            )
            await self.book_callback(
                L2_BOOK,
                self._l2_book[std_pair],
                time.time(),
                timestamp=None,
                raw=resp,
                sequence_number=self.last_update_id[std_pair],
            )

    feed = OfflineBinance(symbols=["BTC-USDT"], channels=[L2_BOOK], callbacks={L2_BOOK: callback})
    feed._reset()
    return feed


async def _run(frames: list[str], snapshot: str, mode: str) -> dict[str, object]:
    seen = {"bbo": None}

    async def noop(book, receipt_timestamp):
        return None

    async def bbo(book, receipt_timestamp):
        bids = book.book.bids
        asks = book.book.asks
        seen["bbo"] = (bids.index(0)[0], asks.index(0)[0])

    feed = _offline_feed(snapshot, noop if mode == "noop" else bbo)
    handler = feed.message_handler
    started = time.perf_counter()
    for frame in frames:
        await handler(frame, None, 0.0)
    seconds = time.perf_counter() - started
    book = feed._l2_book["BTC-USDT"].book
    return {
        "messages": len(frames),
        "seconds": seconds,
        "best": [str(book.bids.index(0)[0]), str(book.asks.index(0)[0])],
    }


def main() -> None:
    path, limit, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path, encoding="utf-8") as handle:
        snapshot = handle.readline()
        frames = [line for _, line in zip(range(limit), handle, strict=False)]
    print(json.dumps(asyncio.run(_run(frames, snapshot, mode))))


if __name__ == "__main__":
    main()
