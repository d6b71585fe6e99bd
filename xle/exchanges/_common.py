"""What every exchange decoder shares: the sync states, wire number types, the event union."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated

import msgspec

from xle._native.book import COMPILED
from xle.records import BookReset, BookUpdate, Problem, ResyncRequest, TopOfBook, Trade

__all__ = [
    "DECODE_ERRORS",
    "Event",
    "Number",
    "StaleGuard",
    "SyncState",
    "fast_binance_depth",
    "fast_coinbase_l2",
    "inexact_detail",
    "inexact_numbers",
    "rfc3339_ns",
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

Event = BookUpdate | BookReset | Trade | TopOfBook | Problem | ResyncRequest

#: Compiled parsers of the two hot frames (``xle._native._fastbook``), or None when the
#: extension is not built or ``XLE_PURE_PYTHON`` is set. They return None for anything
#: but the exact shape the venue sends, and the decoder then takes its msgspec path.
fast_binance_depth: Callable[[bytes], tuple | None] | None = None
fast_coinbase_l2: Callable[[bytes], tuple | None] | None = None

#: Digits and dots as "0", everything else as a space: a run of 16 means a number of 16
#: or more digits somewhere (the pure-Python twin of ``_fastbook.long_decimals``).
_DIGIT_RUNS = bytes(48 if 48 <= c <= 57 or c == 46 else 32 for c in range(256))
_SIXTEEN = b"0" * 16


def _long_decimals(payload: bytes) -> bool:
    return _SIXTEEN in payload.translate(_DIGIT_RUNS)


long_decimals: Callable[[bytes], bool] = _long_decimals
if COMPILED:
    from xle._native._fastbook import long_decimals
    from xle._native._fastbook import parse_binance_depth as fast_binance_depth
    from xle._native._fastbook import parse_coinbase_l2 as fast_coinbase_l2


#: ``2026-08-09T21:05:48.483587501Z``: the only time format Coinbase sends (UTC, ``Z``,
#: up to nanoseconds). Anything else is no time at all rather than a guess.
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z", re.ASCII)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm), the
    same integer arithmetic as the compiled parser, so both give the same ns."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def rfc3339_ns(text: str | None) -> int | None:
    """Epoch ns of a venue timestamp like ``2026-08-09T21:05:48.483587501Z``, or None.

    ``datetime`` stops at microseconds and Coinbase's frame ``timestamp`` carries
    nanoseconds; parsing by hand also keeps it about five times cheaper.
    """
    if text is None:
        return None
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    if not 1970 <= year <= 2261:  # epoch ns that fit int64, the derived columns' type
        return None
    frac = m.group(7) or ""
    days = _days_from_civil(year, month, day)
    seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
    return seconds * 1_000_000_000 + int(frac.ljust(9, "0") or "0")


def _exact(text: bytes) -> bool:
    """Does the double ``text`` parses to print back as the same number?"""
    try:
        value = Decimal(text.decode("ascii"))
        return not value.is_finite() or Decimal(repr(float(value))) == value
    except (InvalidOperation, UnicodeDecodeError, ValueError, OverflowError):
        return True  # not a plain number: the typed decoder has judged it already


def inexact_numbers(payload: bytes, numbers: re.Pattern[bytes]) -> list[str]:
    """The prices and quantities in ``payload`` (those ``numbers`` captures) that a
    double cannot hold exactly.

    A book keys levels by the double of each price, so two such strings (``99.5`` and
    ``99.500000000000000000000000000001``) would silently merge into one level. Real
    venues never send one; up to 15 significant digits (DBL_DIG) every decimal is exact,
    so only frames holding a longer number (``long_decimals``, one scan in C) are parsed
    further.
    """
    if not long_decimals(payload):
        return []
    return [m.decode("ascii", "replace") for m in numbers.findall(payload) if not _exact(m)]


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


def inexact_detail(stream: str, numbers: list[str]) -> str:
    """The integrity detail of a frame ``inexact_numbers`` found ``numbers`` in."""
    shown = ", ".join(numbers[:3])
    if len(numbers) > 3:
        shown += f" and {len(numbers) - 3} more"
    return f"{stream}: not applied, a double cannot hold {shown} exactly"
