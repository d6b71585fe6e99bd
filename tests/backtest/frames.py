"""Binance frames in their exact wire format, as in-memory records for backtests."""

from __future__ import annotations

import json

from xle.records import RawRecord

T0_NS = 1_704_164_400_000_000_000  # 2024-01-02T03:00:00Z
STREAM = "btcusdt@depth@100ms"


def _b(levels) -> list[list[str]]:
    return [[p, q] for p, q in levels]


class Frames:
    """Records of one Binance BTCUSDT connection, in the order they are added."""

    def __init__(self, exchange: str = "binance", symbol: str = "BTCUSDT") -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.records: list[RawRecord] = []
        self._trade_id = 0

    def _add(self, ms: float, kind: str, stream: str, payload: dict, conn: int = 0) -> None:
        recv = T0_NS + round(ms * 1_000_000)
        body = json.dumps(payload, separators=(",", ":")).encode()
        seq = len(self.records)
        self.records.append(
            RawRecord(recv, self.exchange, "run", conn, seq, kind, stream, self.symbol, body)
        )

    def snapshot(self, ms: float, last_id: int, bids=(), asks=()) -> Frames:
        path = f"/api/v3/depth?symbol={self.symbol}&limit=1000"
        body = {"lastUpdateId": last_id, "bids": _b(bids), "asks": _b(asks)}
        self._add(ms, "rest", path, body)
        return self

    def depth(self, ms: float, first: int, last: int, bids=(), asks=()) -> Frames:
        data = {
            "e": "depthUpdate",
            "E": (T0_NS // 1_000_000) + int(ms),
            "s": self.symbol,
            "U": first,
            "u": last,
            "b": _b(bids),
            "a": _b(asks),
        }
        self._add(ms, "ws", STREAM, {"stream": STREAM, "data": data})
        return self

    def trade(self, ms: float, price: str, qty: str, taker: str) -> Frames:
        """``taker`` "buy" or "sell": Binance's ``m`` is true when the buyer was the maker."""
        self._trade_id += 1
        data = {
            "e": "trade",
            "E": (T0_NS // 1_000_000) + int(ms),
            "s": self.symbol,
            "t": self._trade_id,
            "p": price,
            "q": qty,
            "T": (T0_NS // 1_000_000) + int(ms),
            "m": taker == "sell",
        }
        stream = f"{self.symbol.lower()}@trade"
        self._add(ms, "ws", stream, {"stream": stream, "data": data})
        return self

    def pairs(self):
        return ((rec, False) for rec in self.records)


def at(ms: float) -> int:
    return T0_NS + round(ms * 1_000_000)
