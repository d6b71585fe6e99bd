"""The L2 book: absolute level quantities per price, best levels found in O(1).

Representation (measured: benchmarks/README.md, "Measurements behind the code"): a dict
price -> quantity per side plus a plain list of prices kept sorted with ``bisect``. Both
sides keep their best price at the *end* of the list, because updates cluster at the
touch and an insert or delete near the end of a list moves almost nothing: bids are
stored ascending, asks are stored as negated prices ascending. This beat ``SortedDict``
and lazy re-sorting once the top of book is read after each message.

Floats are safe as keys: both venues send absolute quantities, so nothing accumulates,
and the same decimal string always parses to the same double. ``format_decimal`` turns a
level back into the exchange's exact string for any decimal of at most 15 significant
digits (every price and size the venues publish), because the shortest ``repr`` of a
double round-trips such decimals exactly.

Two implementations with one contract: ``PyBook`` below, and its compiled twin
``xle._native._fastbook.Book`` (Cython, built by ``pip install``), which keeps the same
sorted keys in C arrays and gives bit-identical results, much faster.
``Book`` is the compiled one when it was built, else ``PyBook``; set the environment
variable ``XLE_PURE_PYTHON=1`` to force the fallback.
"""

from __future__ import annotations

import os
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING

from xle.records import Level

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COMPILED",
    "Book",
    "PyBook",
    "QuoteRows",
    "arrow_columns",
    "columnar_lane",
    "format_decimal",
]


def format_decimal(value: float) -> str:
    """``0.3527`` -> "0.3527", ``100.0`` -> "100", ``1e-08`` -> "0.00000001"."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class PyBook:
    """One exchange's L2 book for one symbol. Pure: no clock, no I/O."""

    __slots__ = ("_ask_keys", "_bid_keys", "asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self._bid_keys: list[float] = []  # ascending prices; best bid last
        self._ask_keys: list[float] = []  # ascending negated prices; best ask last

    # ------------------------------------------------------------------ mutation

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self._bid_keys.clear()
        self._ask_keys.clear()

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book (a snapshot); zero quantities are left out."""
        self.bids = {p: q for p, q in bids if q > 0.0}
        self.asks = {p: q for p, q in asks if q > 0.0}
        self._bid_keys = sorted(self.bids)
        self._ask_keys = sorted(-p for p in self.asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> bool:
        """Apply absolute quantities; 0 removes the level (absent levels are fine).

        Returns True when the best bid or best ask price moved (or a side emptied or
        filled), so callers re-evaluate top-of-book metrics only when they can change.
        """
        bid_keys = self._bid_keys
        ask_keys = self._ask_keys
        before_bid = bid_keys[-1] if bid_keys else None
        before_ask = ask_keys[-1] if ask_keys else None
        levels = self.bids
        keys = bid_keys
        for price, qty in bids:
            if qty == 0.0:
                if levels.pop(price, None) is not None:
                    del keys[bisect_left(keys, price)]
            else:
                if price not in levels:
                    insort(keys, price)
                levels[price] = qty
        levels = self.asks
        keys = self._ask_keys
        for price, qty in asks:
            if qty == 0.0:
                if levels.pop(price, None) is not None:
                    del keys[bisect_left(keys, -price)]
            else:
                if price not in levels:
                    insort(keys, -price)
                levels[price] = qty
        return (bid_keys[-1] if bid_keys else None) != before_bid or (
            ask_keys[-1] if ask_keys else None
        ) != before_ask

    # ------------------------------------------------------------------ reading

    def best_bid(self) -> float | None:
        keys = self._bid_keys
        return keys[-1] if keys else None

    def best_ask(self) -> float | None:
        keys = self._ask_keys
        return -keys[-1] if keys else None

    def best_bid_size(self) -> float | None:
        keys = self._bid_keys
        return self.bids[keys[-1]] if keys else None

    def best_ask_size(self) -> float | None:
        keys = self._ask_keys
        return self.asks[-keys[-1]] if keys else None

    def top(self) -> tuple[float | None, float | None]:
        """(best bid, best ask), None for an empty side."""
        return self.best_bid(), self.best_ask()

    def is_crossed(self) -> bool:
        bid_keys = self._bid_keys
        ask_keys = self._ask_keys
        return bool(bid_keys and ask_keys and bid_keys[-1] >= -ask_keys[-1])

    def bid_prices(self) -> Iterator[float]:
        """Bid prices from the best down."""
        return reversed(self._bid_keys)

    def ask_prices(self) -> Iterator[float]:
        """Ask prices from the best up."""
        return (-k for k in reversed(self._ask_keys))

    def size_at(self, price: float, bid: bool) -> float:
        """Quantity shown at ``price`` on the bid (or ask) side; 0.0 when no level."""
        return (self.bids if bid else self.asks).get(price, 0.0)

    def top_bids(self, depth: int | None = None) -> list[Level]:
        levels = self.bids
        return [(p, levels[p]) for p in islice(reversed(self._bid_keys), depth)]

    def top_asks(self, depth: int | None = None) -> list[Level]:
        levels = self.asks
        return [(-k, levels[-k]) for k in islice(reversed(self._ask_keys), depth)]

    def depth_sums(self, depth: int) -> tuple[float, float]:
        """(B, A): summed sizes of the best ``depth`` levels, added best first."""
        bid_total = 0.0
        for _, qty in self.top_bids(depth):
            bid_total += qty
        ask_total = 0.0
        for _, qty in self.top_asks(depth):
            ask_total += qty
        return bid_total, ask_total

    def walk(self, buy: bool, size: float) -> tuple[float, float, float | None]:
        """(notional, remaining, best price or None) of taking ``size`` from one side:
        buying walks the asks, selling the bids, from the best level on."""
        if buy:
            levels = self.asks
            prices = self.ask_prices()
        else:
            levels = self.bids
            prices = self.bid_prices()
        remaining = size
        notional = 0.0
        best: float | None = None
        for price in prices:
            if best is None:
                best = price
            qty = levels[price]
            if qty >= remaining:
                notional += price * remaining
                remaining = 0.0
                break
            notional += price * qty
            remaining -= qty
        return notional, remaining, best

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)


def _compiled() -> type | None:
    if os.environ.get("XLE_PURE_PYTHON"):
        return None
    try:
        from xle._native._fastbook import Book as compiled
    except ImportError:  # not built (no compiler when installed): the fallback serves
        return None
    return compiled


_COMPILED_BOOK = _compiled()
#: True when ``Book`` is the compiled twin.
COMPILED = _COMPILED_BOOK is not None
Book = _COMPILED_BOOK if _COMPILED_BOOK is not None else PyBook


#: Compiled ``(rows, schema) -> columns`` for the derived writer (``_fastrows.pxi``): the
#: engine's outputs straight into Arrow buffers; None with the pure-Python book.
arrow_columns: Callable[[list, pa.Schema], list] | None = None
if COMPILED:
    from xle._native._fastbook import arrow_columns

#: Compiled quotes as C rows (``_fastquotes.pxi``), which a replay's engine gives its
#: derived writer instead of ``Quote`` objects (``Engine.quote_rows``); None with the
#: pure-Python book.
QuoteRows: type | None = None
if COMPILED:
    from xle._native._fastbook import QuoteRows


def columnar_lane() -> type | None:
    """The compiled columnar lane (``_fastbook.Lane``: Arrow record batches straight into
    the engine), or None with the pure-Python book, whose engine takes RawRecords only.
    ``XLE_NO_COLUMNAR=1`` turns the lane off (read when an engine first needs it), so the
    RawRecord path can be run with the compiled book, e.g. to compare the two."""
    if not COMPILED or os.environ.get("XLE_NO_COLUMNAR"):
        return None
    from xle._native._fastbook import Lane

    return Lane
