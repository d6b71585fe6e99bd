"""One module per venue protocol: endpoints, subscribe messages, decoding, sync rules,
and the venue registry that names them (``xle.exchanges.registry``).

Each decoder has one job, ``feed(record) -> list[event]``, and owns its venue's sync state
machine; the engine owns the books. Binance and Binance.US share one protocol module.
Importing this package registers the built-in venues; another venue registers itself
when its module is imported (see ``registry``).
"""

from __future__ import annotations

from xle.exchanges import binance, coinbase
from xle.exchanges._common import Event, SyncState
from xle.exchanges.binance import BinanceDecoder
from xle.exchanges.coinbase import CoinbaseDecoder
from xle.exchanges.registry import (
    Decoder,
    SyncLimits,
    UnknownVenueError,
    VenueSpec,
    find_venue,
    register,
    unregister,
    venue,
    venue_names,
    venues,
)
from xle.records import RawRecord

__all__ = [
    "BinanceDecoder",
    "CoinbaseDecoder",
    "Decoder",
    "Event",
    "SyncState",
    "UnknownVenueError",
    "VenueSpec",
    "binance",
    "coinbase",
    "find_venue",
    "make_decoder",
    "register",
    "snapshot_symbols",
    "unregister",
    "venue",
    "venue_names",
    "venues",
]


def make_decoder(exchange: str, config: SyncLimits | None = None) -> Decoder:
    """A fresh decoder (with empty sync state) for a registered venue; ``config`` (an
    ``EngineConfig``) gives the sync guards' bounds, the decoder's defaults without one.
    ``UnknownVenueError`` (a ``ValueError``) for a venue nobody registered."""
    return venue(exchange).decoder(config)


def snapshot_symbols(rec: RawRecord) -> tuple[str, ...]:
    """Symbols whose full book ``rec`` carries: where a replay may start a book from."""
    spec = find_venue(rec.exchange)
    return spec.snapshot_symbols(rec) if spec is not None else ()
