"""What every exchange decoder shares: the sync states, wire number types, the event union."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import msgspec

from xle.records import BookReset, BookUpdate, Problem, ResyncRequest, Trade

__all__ = ["Event", "Number", "SyncState"]

#: A price or quantity as the venues send it: a decimal string, decoded to float in C by
#: msgspec (``strict=False``). Negative, NaN and infinite values fail validation, so a
#: frame carrying one is reported as malformed and never reaches a book.
Number = Annotated[float, msgspec.Meta(ge=0.0, lt=1e300)]

Event = BookUpdate | BookReset | Trade | Problem | ResyncRequest


class SyncState(Enum):
    """Where one book stands with respect to its venue's continuity rule."""

    AWAITING_SNAPSHOT = "awaiting_snapshot"  # never synced: buffering until a snapshot
    LIVE = "live"  # synced: every update is checked for continuity and applied
    RESYNCING = "resyncing"  # was live, lost continuity: buffering until a fresh snapshot
