"""Build the hand-made golden raw log ``tests/data/golden/raw`` (Binance + Coinbase).

Run from the repository root: ``.venv/bin/python tests/data/make_golden.py``. It rewrites
the log from the messages below, written with the recorder's own ``LogWriter`` so the
files have exactly the raw-log layout. The expected outputs are *not* made here: they
come from replaying this log (``pytest tests/replay --regen-golden``, see README.md).

Every frame is in the venue's exact wire format. The story, in record time from
``T0 = 2024-01-02T03:00:00Z`` (default config: taker fees 0.1 % Binance, 1.2 % Coinbase):

- 0.1-0.2 s  Binance BTCUSDT buffers a diff, then syncs on a REST snapshot
             (lastUpdateId 100); Coinbase BTC-USD syncs on its level2 snapshot.
- 3.0 s      Coinbase's bid jumps to 42700 (asks move up with it): selling there and
             buying Binance's 42001 ask clears both fees -> arbitrage episode 1 opens.
- 4.0 s      a better Binance ask (42000.50) raises the edge (peak).
- 4.5 s      a truncated Binance frame -> malformed.
- 6.0 s      the 42700 bid is gone -> episode 1 closes (edge).
- 7.0 s      Binance ``U`` jumps from 107 to 110 -> gap; 8.0 s a new snapshot -> resync.
- 8.5 s      Coinbase ``sequence_num`` jumps from 8 to 11 -> gap; 9.0 s a fresh snapshot
             -> resync, with a 42750 bid -> episode 2 opens.
- 10.0 s     the Coinbase connection drops -> disconnect, episode 2 closes
             (book_unsynced); 10.3 s a new connection's snapshot -> resync, episode 3
             opens and is closed at the end of the data.

Also ignored streams (Binance bookTicker), trades on both venues and heartbeats.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from xle.store.writer import LogWriter  # noqa: E402
from xle.records import RawRecord  # noqa: E402

ROOT = HERE / "golden"
RUN = "golden"
T0_NS = 1_704_164_400_000_000_000  # 2024-01-02T03:00:00Z
BINANCE_WS = 0
COINBASE_WS = 1
COINBASE_WS2 = 2


def at(ms: int) -> int:
    return T0_NS + ms * 1_000_000


def _iso(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return f"2024-01-02T03:00:{seconds:02d}.{millis:03d}000000Z"


def _b(levels: list[tuple[str, str]]) -> list[list[str]]:
    """Binance levels: 8 decimals as the venue sends them."""
    return [[f"{float(p):.8f}", f"{float(q):.8f}"] for p, q in levels]


def _dump(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class Log:
    def __init__(self) -> None:
        self.records: list[RawRecord] = []

    def add(
        self,
        ms: int,
        exchange: str,
        conn: int,
        kind: str,
        stream: str,
        symbol: str | None,
        payload: bytes,
    ) -> None:
        seq = len(self.records)
        self.records.append(
            RawRecord(at(ms), exchange, RUN, conn, seq, kind, stream, symbol, payload)
        )

    # Binance ------------------------------------------------------------------------

    def depth(self, ms: int, first: int, last: int, bids=(), asks=()) -> None:
        data = {
            "e": "depthUpdate",
            "E": at(ms) // 1_000_000,
            "s": "BTCUSDT",
            "U": first,
            "u": last,
            "b": _b(list(bids)),
            "a": _b(list(asks)),
        }
        body = _dump({"stream": "btcusdt@depth@100ms", "data": data})
        self.add(ms, "binance", BINANCE_WS, "ws", "btcusdt@depth@100ms", "BTCUSDT", body)

    def snapshot(self, ms: int, last_id: int, bids, asks) -> None:
        body = _dump({"lastUpdateId": last_id, "bids": _b(bids), "asks": _b(asks)})
        path = "/api/v3/depth?symbol=BTCUSDT&limit=1000"
        self.add(ms, "binance", BINANCE_WS, "rest", path, "BTCUSDT", body)

    # Coinbase -----------------------------------------------------------------------

    def coinbase(self, ms: int, conn: int, seq: int, channel: str, events, symbol=None) -> None:
        body = {
            "channel": channel,
            "client_id": "",
            "timestamp": _iso(ms),
            "sequence_num": seq,
            "events": events,
        }
        self.add(ms, "coinbase", conn, "ws", channel, symbol, _dump(body))

    def l2(self, ms: int, conn: int, seq: int, kind: str, bids=(), offers=()) -> None:
        updates = [
            {"side": side, "event_time": _iso(ms), "price_level": p, "new_quantity": q}
            for side, levels in (("bid", bids), ("offer", offers))
            for p, q in levels
        ]
        event = {"type": kind, "product_id": "BTC-USD", "updates": updates}
        self.coinbase(ms, conn, seq, "l2_data", [event], "BTC-USD")

    def heartbeat(self, ms: int, conn: int, seq: int, counter: int) -> None:
        now = _iso(ms).replace("T", " ").replace("Z", " +0000 UTC")
        events = [{"current_time": now, "heartbeat_counter": counter}]
        self.coinbase(ms, conn, seq, "heartbeats", events)

    def subscriptions(self, ms: int, conn: int, seq: int) -> None:
        events = [{"subscriptions": {"level2": ["BTC-USD"], "heartbeats": ["heartbeats"]}}]
        self.coinbase(ms, conn, seq, "subscriptions", events)

    def control(self, ms: int, exchange: str, conn: int, name: str, detail: dict) -> None:
        self.add(ms, exchange, conn, "event", name, None, _dump(detail))


def build() -> list[RawRecord]:
    log = Log()
    streams = "btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker"
    url = f"wss://stream.binance.com:9443/stream?streams={streams}"
    log.control(0, "binance", BINANCE_WS, "connected", {"url": url})
    cb_url = {"url": "wss://advanced-trade-ws.coinbase.com"}
    log.control(50, "coinbase", COINBASE_WS, "connected", cb_url)
    log.subscriptions(60, COINBASE_WS, 0)
    log.depth(100, 101, 102, bids=[("42000.00", "1.6")])
    log.l2(
        150,
        COINBASE_WS,
        1,
        "snapshot",
        bids=[("42010.00", "0.8"), ("42005.00", "1.0"), ("41990.00", "4")],
        offers=[("42012.00", "0.6"), ("42015.00", "2.0"), ("42030.00", "3")],
    )
    log.snapshot(
        200,
        100,
        bids=[("42000.00", "1.5"), ("41999.50", "2"), ("41990.00", "5")],
        asks=[("42001.00", "1.2"), ("42002.00", "3"), ("42010.00", "5")],
    )
    ticker = {"u": 102, "s": "BTCUSDT", "b": "42000.00000000", "B": "1.60000000"}
    ticker |= {"a": "42001.00000000", "A": "1.20000000"}
    body = _dump({"stream": "btcusdt@bookTicker", "data": ticker})
    log.add(300, "binance", BINANCE_WS, "ws", "btcusdt@bookTicker", "BTCUSDT", body)
    log.depth(1100, 103, 104, bids=[("41999.50", "2.5")], asks=[("42002.00", "2.0")])
    log.heartbeat(1300, COINBASE_WS, 2, 1)
    trade = {"e": "trade", "E": at(1500) // 1_000_000, "s": "BTCUSDT", "t": 5001}
    trade |= {"p": "42001.00000000", "q": "0.05000000", "T": at(1499) // 1_000_000, "m": False}
    body = _dump({"stream": "btcusdt@trade", "data": trade})
    log.add(1500, "binance", BINANCE_WS, "ws", "btcusdt@trade", "BTCUSDT", body)
    fill = {"trade_id": "900001", "product_id": "BTC-USD", "price": "42012.00", "size": "0.1"}
    fill |= {"side": "BUY", "time": _iso(1990)}
    log.coinbase(2000, COINBASE_WS, 3, "market_trades", [{"type": "update", "trades": [fill]}])
    log.heartbeat(2300, COINBASE_WS, 4, 2)
    # The dislocation: Coinbase bid 42700 vs Binance ask 42001 (net of both fees > 0).
    log.l2(
        3000,
        COINBASE_WS,
        5,
        "update",
        bids=[("42700.00", "0.4")],
        offers=[("42012.00", "0"), ("42015.00", "0"), ("42030.00", "0"), ("42702.00", "0.5")],
    )
    log.heartbeat(3300, COINBASE_WS, 6, 3)
    log.depth(4000, 105, 106, asks=[("42000.50", "0.3")])
    truncated = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":170416440450'
    log.add(4500, "binance", BINANCE_WS, "ws", "btcusdt@depth@100ms", "BTCUSDT", truncated)
    log.heartbeat(5000, COINBASE_WS, 7, 4)
    log.l2(6000, COINBASE_WS, 8, "update", bids=[("42700.00", "0")])
    # Binance gap: the book is at 106, the next event starts at 110.
    log.depth(7000, 110, 111, bids=[("41999.00", "0.7")])
    log.depth(7500, 112, 113, bids=[("42000.00", "1.0")])
    log.snapshot(
        8000,
        111,
        bids=[("42000.00", "1.4"), ("41999.50", "2.5"), ("41999.00", "0.7"), ("41990.00", "5")],
        asks=[("42000.50", "0.3"), ("42001.00", "1.2"), ("42002.00", "2"), ("42010.00", "5")],
    )
    # Coinbase gap: sequence 9 and 10 never arrive.
    log.heartbeat(8500, COINBASE_WS, 11, 7)
    log.l2(
        9000,
        COINBASE_WS,
        12,
        "snapshot",
        bids=[("42750.00", "0.2"), ("42010.00", "0.8"), ("42005.00", "1.0")],
        offers=[("42760.00", "0.5"), ("42800.00", "1")],
    )
    log.depth(9500, 114, 114, asks=[("42000.50", "0")])
    log.control(10000, "coinbase", COINBASE_WS, "disconnected", {"reason": "closed: 1006"})
    log.control(10200, "coinbase", COINBASE_WS2, "connected", cb_url)
    log.subscriptions(10250, COINBASE_WS2, 0)
    log.l2(
        10300,
        COINBASE_WS2,
        1,
        "snapshot",
        bids=[("42650.00", "0.3"), ("42010.00", "0.8")],
        offers=[("42660.00", "0.5"), ("42800.00", "1")],
    )
    log.depth(11000, 115, 116, bids=[("41999.50", "3.0")])
    log.heartbeat(12000, COINBASE_WS2, 2, 1)
    return log.records


def main() -> None:
    raw = ROOT / "raw"
    if raw.exists():
        shutil.rmtree(raw)
    writer = LogWriter(ROOT, RUN, roll_seconds=3600.0)
    try:
        for rec in build():
            writer.append(rec)
    finally:
        writer.close()
    shutil.rmtree(raw / "_journal", ignore_errors=True)
    for path in sorted(raw.rglob("*.parquet")):
        print(path.relative_to(HERE))


if __name__ == "__main__":
    main()
