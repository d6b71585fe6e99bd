"""The true L2 book of one venue's symbol, and how it changes from one message to the next.

Prices are integer ticks and quantities integer units of 1e-8, so the book is exact and
the level strings a venue would print follow from it (``Printer``). One call to
``BookModel.step`` is one exchange message worth of change:

1. levels the moving fair price has run through are removed (cancelled or filled),
2. trades take liquidity at the touch,
3. random changes up to the configured count (5-40 on Binance by default), concentrated
   near the touch (rank drawn geometrically): mostly new sizes, some new levels, a few
   deletions -- with steps 1 and 4 about a fifth of all changes are deletions,
4. the touch is refilled close to the fair price, and the far end is trimmed or extended
   so each side keeps about ``levels`` levels.

Bids always stay strictly below asks: new bids are placed at or under ``bid_cap`` and
new asks at or over ``ask_floor > bid_cap``, after every level on the wrong side of
those bounds has been removed.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, insort
from dataclasses import dataclass

__all__ = ["BookModel", "Instrument", "Printer", "RawStep", "instrument_for"]

_UNITS = 100_000_000  # quantity units per 1 base unit (1e-8 resolution)
_POOL = 256  # sizes drawn per distance bucket
_BUCKETS = 24  # distance buckets of resting sizes (the last covers everything deeper)
_DRAWS = 4096  # pre-drawn random changes per book (a power of two)
_DRAWS_MASK = _DRAWS - 1


@dataclass(frozen=True)
class Instrument:
    """One venue's symbol: how its prices and sizes are quantized and printed."""

    venue: str  # binance | binanceus | coinbase
    symbol: str  # exchange-native: BTCUSDT, BTCUSD, BTC-USD
    market: str  # canonical: BTC/USD
    base_price: float  # starting price of the market
    price_decimals: int  # tick = 10**-price_decimals
    lot: int  # size step in 1e-8 units

    @property
    def tick(self) -> float:
        return 10.0**-self.price_decimals


class Printer:
    """Prints ticks and units the way one venue does: Binance ``"60000.01000000"`` /
    ``"0.50000000"``, Coinbase ``"60000.01"`` / ``"0.5"``.

    Cached, because the same prices and sizes recur all the time and formatting is a
    good part of a step's cost. The caches stay small: fresh prices and the sizes trades
    leave behind keep arriving, and a lookup in a dict of 200 000 strings cost three
    times one in a dict of a few thousand (memory, not hashing).
    """

    _LIMIT = 16_384  # entries per cache before it is cleared

    def __init__(self, instrument: Instrument) -> None:
        self._decimals = instrument.price_decimals
        self._coinbase = instrument.venue == "coinbase"
        self.prices: dict[int, str] = {}  # caches, read directly on the hot path
        self.qtys: dict[int, str] = {}

    def price(self, ticks: int) -> str:
        text = self.prices.get(ticks)
        if text is None:
            whole, frac = divmod(ticks, 10**self._decimals)
            text = f"{whole}.{frac:0{self._decimals}d}"
            if self._coinbase:
                text = text.rstrip("0").rstrip(".")
            else:
                text += "0" * (8 - self._decimals)
            if len(self.prices) > self._LIMIT:
                self.prices.clear()
            self.prices[ticks] = text
        return text

    def qty(self, units: int) -> str:
        text = self.qtys.get(units)
        if text is None:
            whole, frac = divmod(units, _UNITS)
            text = f"{whole}.{frac:08d}"
            if self._coinbase:
                text = text.rstrip("0").rstrip(".") if frac else str(whole)
            if len(self.qtys) > self._LIMIT:
                self.qtys.clear()
            self.qtys[units] = text
        return text


def instrument_for(venue: str, market: str, base_price: float) -> Instrument:
    """Native symbol, tick and lot of a canonical market on a venue, as the venues list them."""
    base, _, quote = market.partition("/")
    if venue == "binance":
        symbol = base + ("USDT" if quote == "USD" else quote)
    elif venue == "binanceus":
        symbol = base + quote
    else:
        symbol = f"{base}-{quote}"
    magnitude = math.floor(math.log10(base_price))
    price_decimals = max(2, 5 - magnitude)
    lot_exp = min(8, max(0, 7 - magnitude))  # Binance: BTC 1e-5, ETH 1e-4
    lot = 10**lot_exp
    if venue == "coinbase" and base_price >= 100:
        lot = 1  # Coinbase base_increment 1e-8 for the large coins
    return Instrument(venue, symbol, market, base_price, price_decimals, lot)


@dataclass(slots=True)
class RawStep:
    """What one message changed, in ticks and units (formatting happens later)."""

    bids: dict[int, int]  # tick -> new absolute quantity (0 removes)
    asks: dict[int, int]
    trades: list[tuple[str, int, int]]  # (taker side "buy"|"sell", tick, units)
    n_ids: int  # how many venue update ids this message spans (Binance u - U + 1)


class BookModel:
    """Exact book of one instrument plus the seeded process that changes it."""

    def __init__(
        self,
        instrument: Instrument,
        rng: random.Random,
        levels: int,
        fair: float,
        changes: tuple[int, int],
        half_spread_ticks: float,
    ) -> None:
        self.instrument = instrument
        self.rng = rng
        self.target = max(levels, 2)
        slack = max(1, self.target // 50)
        # Depths within this band are left alone (see _keep_depth).
        self._depth_band = (self.target - slack, self.target + slack)
        self.changes = changes
        self.half_spread = half_spread_ticks
        tick = instrument.tick
        # Typical gap between neighbouring levels near the touch: a quarter of a bp.
        self.gap = max(1, round(instrument.base_price * 0.25e-4 / tick))
        self._sizes = self._size_table(8_000.0)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_ticks: list[int] = []  # ascending: best bid is the last
        self.ask_ticks: list[int] = []  # ascending: best ask is the first
        self._changes_b: dict[int, int] = {}
        self._changes_a: dict[int, int] = {}
        self._tick = tick
        self._change_params = (self._sizes, 10 * self.gap, _BUCKETS - 1, self.target // 2)
        self._draws = self._draw_pool()
        self._seed_book(fair / tick)

    # ------------------------------------------------------------------ queries

    def best(self) -> tuple[int, int, int, int] | None:
        """(bid tick, bid units, ask tick, ask units) or None while a side is empty."""
        if not self.bid_ticks or not self.ask_ticks:
            return None
        bid, ask = self.bid_ticks[-1], self.ask_ticks[0]
        return bid, self.bids[bid], ask, self.asks[ask]

    def side_levels(self, side: str, limit: int | None = None) -> list[tuple[int, int]]:
        """(tick, units) of one side, best first, at most ``limit`` levels."""
        if side == "bid":
            ticks = self.bid_ticks[::-1] if limit is None else self.bid_ticks[: -limit - 1 : -1]
            book = self.bids
        else:
            ticks = self.ask_ticks if limit is None else self.ask_ticks[:limit]
            book = self.asks
        return [(t, book[t]) for t in ticks]

    # ------------------------------------------------------------------ the step

    def step(self, fair: float, n_trades: int) -> RawStep:
        """Change the book for one message around ``fair`` and return what changed.

        One function with local names, the random changes inlined and the helpers
        called only when they have something to do: at high message rates this is the
        simulator's hot path (a call and its setup cost as much as a level change). The
        draws and their order are those of the helpers it calls only when needed
        (``_refill_touch``, ``_keep_depth``), so inlining them changed no step.
        """
        rnd = self.rng.random
        changes_b: dict[int, int] = {}
        changes_a: dict[int, int] = {}
        self._changes_b, self._changes_a = changes_b, changes_a
        bids, asks = self.bids, self.asks
        bid_ticks, ask_ticks = self.bid_ticks, self.ask_ticks
        fair_ticks = fair / self._tick
        half = self.half_spread * (0.5 + rnd())
        bid_cap = math.floor(fair_ticks - half)
        ask_floor = math.ceil(fair_ticks + half)
        if ask_floor <= bid_cap:
            ask_floor = bid_cap + 1
        refill = self.half_spread + 1

        # 1. The fair price moved through these levels: they are gone.
        while bid_ticks and bid_ticks[-1] > bid_cap:
            tick = bid_ticks.pop()
            del bids[tick]
            changes_b[tick] = 0
        while ask_ticks and ask_ticks[0] < ask_floor:
            tick = ask_ticks.pop(0)
            del asks[tick]
            changes_a[tick] = 0
        if (
            not bid_ticks
            or not ask_ticks
            or bid_cap - bid_ticks[-1] > refill
            or ask_ticks[0] - ask_floor > refill
        ):
            self._refill_touch(bid_cap, ask_floor)

        # 2. Takers hit the touch.
        trades = []
        for _ in range(n_trades):
            trade = self._trade()
            if trade is not None:
                trades.append(trade)

        # 3. Random changes until the message carries ``wanted`` distinct levels. Per
        # change: a side at random; 3 % delete and 87 % resize an existing level whose
        # rank from the touch is geometric (mean 12), 10 % add a level at a fresh distance.
        # The side, kind, rank and size of a change come from a pool drawn once (see
        # _draw_pool), read on from a random start: one draw per message, not four per
        # change.
        low, high = self.changes
        wanted = low + int(rnd() * (high - low + 1))
        sizes, bucket_width, last_bucket, half_target = self._change_params
        draws = self._draws
        j = int(rnd() * _DRAWS)
        for _ in range(4 * wanted):
            if len(changes_b) + len(changes_a) >= wanted:
                break
            is_bid, roll, rank, pick = draws[j]
            j = (j + 1) & _DRAWS_MASK
            ticks = bid_ticks if is_bid else ask_ticks
            if roll < 0.90 and ticks:
                # An existing level: resize it in place, or (3 %) delete it.
                if rank >= len(ticks):
                    rank = len(ticks) - 1
                if is_bid:
                    tick, book, changes = ticks[-1 - rank], bids, changes_b
                    distance = bid_cap - tick
                else:
                    tick, book, changes = ticks[rank], asks, changes_a
                    distance = tick - ask_floor
                if roll < 0.03 and len(ticks) > half_target:
                    changes[tick] = 0
                    del book[tick]
                    del ticks[bisect_left(ticks, tick)]
                else:
                    bucket = distance // bucket_width
                    if bucket > last_bucket:
                        bucket = last_bucket
                    book[tick] = changes[tick] = sizes[bucket][pick]
            else:
                d = self._distance()
                tick = bid_cap - d if is_bid else ask_floor + d
                if tick <= 0:
                    continue
                if is_bid:
                    self._set_bid(tick, self._size(d))
                else:
                    self._set_ask(tick, self._size(d))

        # 4. Keep the touch near the fair price and each side near its target depth.
        log = math.log
        if (
            not bid_ticks
            or not ask_ticks
            or bid_cap - bid_ticks[-1] > refill
            or ask_ticks[0] - ask_floor > refill
        ):
            self._refill_touch(bid_cap, ask_floor)
        low, high = self._depth_band
        if not (low <= len(bid_ticks) <= high and low <= len(ask_ticks) <= high):
            self._keep_depth()
        n_changes = len(changes_b) + len(changes_a)
        # Several updates to one level collapse into one change: ids outnumber changes.
        extra = -(1 + n_changes / 2) * log(1.0 - rnd())
        return RawStep(changes_b, changes_a, trades, max(1, n_changes + int(extra)))

    # ------------------------------------------------------------------ internals

    def _seed_book(self, fair_ticks: float) -> None:
        bid_cap = math.floor(fair_ticks - self.half_spread)
        ask_floor = max(math.ceil(fair_ticks + self.half_spread), bid_cap + 1)
        self._set_bid(bid_cap, self._size(0))
        self._set_ask(ask_floor, self._size(0))
        for _ in range(50 * self.target):
            if len(self.bids) >= self.target and len(self.asks) >= self.target:
                break
            d = self._distance()
            if len(self.bids) < self.target and bid_cap - d > 0:
                self._set_bid(bid_cap - d, self._size(d))
            if len(self.asks) < self.target:
                self._set_ask(ask_floor + d, self._size(d))

    def _draw_pool(self) -> list[tuple[bool, float, int, int]]:
        """Per change: (bid side?, kind roll, rank from the touch, size pick), drawn once.

        The rank is geometric with mean 12 (activity concentrates near the touch); the
        roll picks delete (< 0.03), resize (< 0.90) or a new level. A step reads a run
        of these from a random start: at 50 000 messages/s the per-change loop is most
        of the model's cost, and four draws, a log and an int per change were most of it.
        """
        rnd, log = self.rng.random, math.log
        return [
            (rnd() < 0.5, rnd(), int(-12.0 * log(1.0 - rnd())), int(rnd() * _POOL))
            for _ in range(_DRAWS)
        ]

    def _distance(self) -> int:
        """Distance from the touch of a new level: mostly close, sometimes deep."""
        rng = self.rng
        if rng.random() < 0.6:
            return int(rng.expovariate(1.0 / (6 * self.gap)))
        return int(rng.uniform(0, 1.5 * self.target * self.gap))

    def _size_table(self, notional: float) -> list[list[int]]:
        """Resting sizes to draw from, per distance bucket of 10 gaps from the touch.

        Drawn once from the book's generator: lognormal notional around ``notional``
        (quote currency), larger away from the touch, rounded to the lot. A table keeps
        the per-change cost at one random draw, which matters at 50 000 messages/s.
        """
        inst, rng = self.instrument, self.rng
        base = [rng.lognormvariate(math.log(notional), 1.0) for _ in range(_POOL)]
        table = []
        for bucket in range(_BUCKETS):
            factor = 1.0 + bucket / 4.0
            table.append(
                [
                    max(1, round(n * factor / inst.base_price * _UNITS / inst.lot)) * inst.lot
                    for n in base
                ]
            )
        return table

    def _size(self, distance: int) -> int:
        bucket = min(distance // (10 * self.gap), _BUCKETS - 1)
        return self._sizes[bucket][int(self.rng.random() * _POOL)]

    def _set_bid(self, tick: int, units: int) -> None:
        self._changes_b[tick] = units
        _set(self.bids, self.bid_ticks, tick, units)

    def _set_ask(self, tick: int, units: int) -> None:
        self._changes_a[tick] = units
        _set(self.asks, self.ask_ticks, tick, units)

    def _refill_touch(self, bid_cap: int, ask_floor: int) -> None:
        """Market makers re-quote: a touch left far from the fair price gets a new level."""
        if not self.bid_ticks or bid_cap - self.bid_ticks[-1] > self.half_spread + 1:
            self._set_bid(bid_cap - int(self.rng.random() * 2), self._size(0))
        if not self.ask_ticks or self.ask_ticks[0] - ask_floor > self.half_spread + 1:
            self._set_ask(ask_floor + int(self.rng.random() * 2), self._size(0))

    def _trade(self) -> tuple[str, int, int] | None:
        rng = self.rng
        buy = rng.random() < 0.5
        ticks, book = (self.ask_ticks, self.asks) if buy else (self.bid_ticks, self.bids)
        if len(ticks) < 2:
            return None
        tick = ticks[0] if buy else ticks[-1]
        resting = book[tick]
        lot = self.instrument.lot
        # rng.uniform(0.05, 1.0), spelled out: the same draw without a Python-level call.
        taken = max(lot, round(resting * (0.05 + (1.0 - 0.05) * rng.random()) / lot) * lot)
        left = 0 if taken >= resting * 0.9 else resting - taken
        taken = resting - left
        (self._set_ask if buy else self._set_bid)(tick, left)
        return ("buy" if buy else "sell", tick, taken)

    def _keep_depth(self) -> None:
        """Trim or extend the far end, with some slack so depth is not churned every step."""
        target = self.target
        slack = max(1, target // 50)
        if (
            target - slack <= len(self.bid_ticks) <= target + slack
            and target - slack <= len(self.ask_ticks) <= target + slack
        ):
            return
        rng = self.rng
        for ticks, far_end, setter, sign in (
            (self.bid_ticks, 0, self._set_bid, -1),
            (self.ask_ticks, -1, self._set_ask, 1),
        ):
            if len(ticks) > self.target + slack:
                while len(ticks) > self.target:
                    setter(ticks[far_end], 0)
            elif len(ticks) < self.target - slack:
                # Refill faster the more is missing (a dislocation can wipe out a side).
                for _ in range(max(2, (self.target - len(ticks)) // 10)):
                    worst = ticks[far_end]
                    tick = worst + sign * (1 + int(rng.expovariate(1.0 / self.gap)))
                    if tick > 0:
                        setter(tick, self._size(abs(tick - ticks[-1 if sign < 0 else 0])))


def _set(book: dict[int, int], ticks: list[int], tick: int, units: int) -> None:
    """Set one level of one side, keeping the sorted tick list in step with the dict."""
    if units:
        if tick not in book:
            insort(ticks, tick)
        book[tick] = units
    elif tick in book:
        del book[tick]
        del ticks[bisect_left(ticks, tick)]
