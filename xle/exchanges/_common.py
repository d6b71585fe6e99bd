"""What every exchange decoder shares: the sync states, wire number types, the event union."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated

import msgspec

from xle.analytics.book import COMPILED
from xle.records import BookReset, BookUpdate, Problem, ResyncRequest, Trade

__all__ = [
    "DECODE_ERRORS",
    "Event",
    "Number",
    "StaleGuard",
    "SyncState",
    "fast_binance_depth",
    "fast_coinbase_l2",
]

#: A price or quantity as the venues send it: a decimal string, decoded to float in C by
#: msgspec (``strict=False``). Negative, NaN and infinite values fail validation, so a
#: frame carrying one is reported as malformed and never reaches a book.
Number = Annotated[float, msgspec.Meta(ge=0.0, lt=1e300)]

#: What decoding one record's bytes may raise: msgspec's DecodeError / ValidationError
#: (both ValueErrors), UnicodeDecodeError (a ValueError too), RecursionError for a frame
#: nested deeper than the decoder's stack, OverflowError for a number no C type holds.
#: Each decoder catches exactly these where it decodes a record and reports the record
#: as malformed: one bad frame never stops a replay or a live engine.
DECODE_ERRORS: tuple[type[Exception], ...] = (ValueError, RecursionError, OverflowError)

Event = BookUpdate | BookReset | Trade | Problem | ResyncRequest

#: Compiled parsers of the two hot frames (``xle.analytics._fastbook``), or None when the
#: extension is not built or ``XLE_PURE_PYTHON`` is set. They return None for anything
#: but the exact shape the venue sends, and the decoder then takes its msgspec path.
fast_binance_depth: Callable[[bytes], tuple | None] | None = None
fast_coinbase_l2: Callable[[bytes], tuple | None] | None = None
if COMPILED:
    from xle.analytics._fastbook import parse_binance_depth as fast_binance_depth
    from xle.analytics._fastbook import parse_coinbase_l2 as fast_coinbase_l2


class SyncState(Enum):
    """Where one book stands with respect to its venue's continuity rule."""

    AWAITING_SNAPSHOT = "awaiting_snapshot"  # never synced: buffering until a snapshot
    LIVE = "live"  # synced: every update is checked for continuity and applied
    RESYNCING = "resyncing"  # was live, lost continuity: buffering until a fresh snapshot


@dataclass(slots=True)
class StaleGuard:
    """A live book's run of consecutive updates dropped as stale, in record time.

    A venue never keeps sending updates a synced book already holds: a long run means
    the book's update id is wrong (e.g. a snapshot or event carried an id from the far
    future) and the book has silently stopped moving.
    """

    count: int = 0  # stale drops in a row since the last applied update
    since_ns: int = 0  # recv_ns of the first of them
