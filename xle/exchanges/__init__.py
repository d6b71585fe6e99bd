"""One module per exchange: endpoints, subscribe messages, decoding, sync rules.

Each decoder has one job, ``feed(record) -> list[event]``, and owns its venue's sync state
machine; the engine owns the books. Binance and Binance.US share one protocol module.
"""

from __future__ import annotations

from xle.config import EngineConfig
from xle.exchanges import binance, coinbase
from xle.exchanges._common import Event, SyncState
from xle.exchanges.binance import BinanceDecoder
from xle.exchanges.coinbase import CoinbaseDecoder
from xle.records import EXCHANGES, RawRecord

__all__ = [
    "BinanceDecoder",
    "CoinbaseDecoder",
    "Decoder",
    "Event",
    "SyncState",
    "make_decoder",
    "snapshot_symbols",
]

Decoder = BinanceDecoder | CoinbaseDecoder


def make_decoder(exchange: str, config: EngineConfig | None = None) -> Decoder:
    """A fresh decoder (with empty sync state) for one of ``EXCHANGES``; ``config``
    gives the sync guards' bounds (the defaults of ``EngineConfig`` without one)."""
    if exchange in ("binance", "binanceus"):
        config = config or EngineConfig()
        return BinanceDecoder(
            exchange,
            max_update_span=config.max_update_span,
            stale_stream_updates=config.stale_stream_updates,
            stale_stream_ns=config.stale_stream_ns,
        )
    if exchange == "coinbase":
        return CoinbaseDecoder()
    raise ValueError(f"unknown exchange {exchange!r} (known: {', '.join(EXCHANGES)})")


def snapshot_symbols(rec: RawRecord) -> tuple[str, ...]:
    """Symbols whose full book ``rec`` carries: where a replay may start a book from."""
    if rec.exchange == "coinbase":
        return coinbase.snapshot_symbols(rec)
    if rec.exchange in ("binance", "binanceus"):
        return binance.snapshot_symbols(rec)
    return ()
