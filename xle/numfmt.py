"""How xle prints numbers a person reads.

Exchange values (prices, quantities) are printed as the exchange's own decimal strings and
never pass through here. Figures xle computes (a VWAP, an edge in bps, an executable size, a
profit) are floats whose last digits are arithmetic noise (``60096.664851600006``); they are
rounded to a precision that fits what they measure: prices to the book's tick, sizes to the
venue's lot, basis points to two decimals. The precision of a tick or lot is read off the
exchange's own strings, so no venue table is needed here.

Rounding goes through ``Decimal(float)``, which is the float's exact binary value, so a
figure rounds the same way on every platform and in every output (CLI, JSON, dashboard).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["BPS_PLACES", "bps", "decimals", "fixed", "max_decimals", "trimmed"]

BPS_PLACES = 2


def decimals(text: str) -> int:
    """Significant decimal places of an exchange string: ``"43000.10000000"`` -> 1."""
    _, dot, frac = text.partition(".")
    return len(frac.rstrip("0")) if dot else 0


def max_decimals(texts: Iterable[str], default: int = 0) -> int:
    """The finest precision among a book's strings: its tick (prices) or lot (sizes)."""
    return max((decimals(t) for t in texts), default=default)


def _quantize(value: float, places: int) -> Decimal:
    exact = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return exact + 0  # "+ 0" turns -0 into 0 so a tiny negative never prints as "-0.00"


def fixed(value: float, places: int) -> str:
    """Rounded to ``places`` and padded, for columns that line up: ``fixed(60028.6, 2)``
    -> ``"60028.60"``."""
    return f"{_quantize(value, places):.{places}f}"


def trimmed(value: float, places: int) -> str:
    """Rounded to ``places`` with trailing zeros dropped, like an exchange string:
    ``trimmed(60096.664851600006, 2)`` -> ``"60096.66"``, ``trimmed(100.0, 8)`` -> ``"100"``."""
    text = fixed(value, places)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def bps(value: float) -> str:
    """Basis points to two decimals: ``8.883600000000001`` -> ``"8.88"``."""
    return fixed(value, BPS_PLACES)
