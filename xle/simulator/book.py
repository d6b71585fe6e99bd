"""The true L2 book of one venue's symbol, and how it changes from one message to the next.

Prices are integer ticks and quantities integer units of 1e-8, so the book is exact and
the level strings a venue would print follow from it (``Instrument.binance_price`` and
friends). One call to ``BookModel.step`` is one exchange message worth of change:

1. levels the moving fair price has run through are removed (cancelled or filled),
2. trades take liquidity at the touch,
3. 5-40 random changes, concentrated near the touch (rank drawn geometrically): about a
   fifth deletions, the rest new sizes or new levels,
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
from dataclasses import dataclass, field

__all__ = ["BookModel", "Instrument", "RawStep"]

_UNITS = 100_000_000  # quantity units per 1 base unit (1e-8 resolution)


@dataclass(frozen=True)
class Instrument:
    """One venue's symbol: how its prices and sizes are quantized and printed."""

    venue: str  # binance | binanceus | coinbase
    symbol: str  # exchange-native: BTCUSDT, BTCUSD, BTC-USD
    market: str  # canonical: BTC/USD
    base_price: float  # starting price of the market
    price_decimals: int  # tick = 10**-price_decimals
    lot: int  # size step in 1e-8 units
    _price_cache: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def tick(self) -> float:
        return 10.0**-self.price_decimals

    def price_str(self, ticks: int) -> str:
        """Price as this venue prints it (cached: the same ticks recur all the time)."""
        cached = self._price_cache.get(ticks)
        if cached is not None:
            return cached
        whole, frac = divmod(ticks, 10**self.price_decimals)
        if self.venue == "coinbase":
            text = f"{whole}.{frac:0{self.price_decimals}d}".rstrip("0").rstrip(".")
        else:
            text = f"{whole}.{frac:0{self.price_decimals}d}" + "0" * (8 - self.price_decimals)
        if len(self._price_cache) > 200_000:
            self._price_cache.clear()
        self._price_cache[ticks] = text
        return text

    def qty_str(self, units: int) -> str:
        """Size as this venue prints it: Binance ``"0.50000000"``, Coinbase ``"0.5"``."""
        whole, frac = divmod(units, _UNITS)
        if self.venue == "coinbase":
            return f"{whole}.{frac:08d}".rstrip("0").rstrip(".") if frac else str(whole)
        return f"{whole}.{frac:08d}"


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
        self.changes = changes
        self.half_spread = half_spread_ticks
        tick = instrument.tick
        # Typical gap between neighbouring levels near the touch: a quarter of a bp.
        self.gap = max(1, round(instrument.base_price * 0.25e-4 / tick))
        self.notional = 8_000.0  # typical resting size near the touch, in quote currency
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_ticks: list[int] = []  # ascending: best bid is the last
        self.ask_ticks: list[int] = []  # ascending: best ask is the first
        self._changes_b: dict[int, int] = {}
        self._changes_a: dict[int, int] = {}
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
        """Change the book for one message around ``fair`` and return what changed."""
        rng = self.rng
        self._changes_b, self._changes_a = {}, {}
        fair_ticks = fair / self.instrument.tick
        half = self.half_spread * (0.5 + rng.random())
        bid_cap = math.floor(fair_ticks - half)
        ask_floor = max(math.ceil(fair_ticks + half), bid_cap + 1)

        # 1. The fair price moved through these levels: they are gone.
        while self.bid_ticks and self.bid_ticks[-1] > bid_cap:
            self._set_bid(self.bid_ticks[-1], 0)
        while self.ask_ticks and self.ask_ticks[0] < ask_floor:
            self._set_ask(self.ask_ticks[0], 0)
        self._refill_touch(bid_cap, ask_floor)

        # 2. Takers hit the touch.
        trades = [t for t in (self._trade() for _ in range(n_trades)) if t is not None]

        # 3. Random changes until the message carries its share.
        wanted = rng.randint(*self.changes)
        for _ in range(4 * wanted):
            if len(self._changes_b) + len(self._changes_a) >= wanted:
                break
            self._random_change(bid_cap, ask_floor)

        # 4. Keep the touch near the fair price and each side near its target depth.
        self._refill_touch(bid_cap, ask_floor)
        self._keep_depth()
        n_changes = len(self._changes_b) + len(self._changes_a)
        n_ids = max(1, n_changes + int(rng.expovariate(1.0 / (1 + n_changes / 2))))
        return RawStep(self._changes_b, self._changes_a, trades, n_ids)

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

    def _distance(self) -> int:
        """Distance from the touch of a new level: mostly close, sometimes deep."""
        rng = self.rng
        if rng.random() < 0.6:
            return int(rng.expovariate(1.0 / (6 * self.gap)))
        return int(rng.uniform(0, 1.5 * self.target * self.gap))

    def _rank(self, n: int) -> int:
        """Rank of an existing level to touch: geometric, so activity sits near the touch."""
        return min(int(self.rng.expovariate(1.0 / 12.0)), n - 1)

    def _size(self, distance: int) -> int:
        inst = self.instrument
        notional = self.rng.lognormvariate(math.log(self.notional), 1.0)
        notional *= 1.0 + distance / (40.0 * self.gap)
        lots = max(1, round(notional / inst.base_price * _UNITS / inst.lot))
        return lots * inst.lot

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
        taken = max(lot, round(resting * rng.uniform(0.05, 1.0) / lot) * lot)
        left = 0 if taken >= resting * 0.9 else resting - taken
        taken = resting - left
        (self._set_ask if buy else self._set_bid)(tick, left)
        return ("buy" if buy else "sell", tick, taken)

    def _random_change(self, bid_cap: int, ask_floor: int) -> None:
        rng = self.rng
        is_bid = rng.random() < 0.5
        ticks = self.bid_ticks if is_bid else self.ask_ticks
        setter = self._set_bid if is_bid else self._set_ask
        roll = rng.random()
        if roll < 0.03 and len(ticks) > self.target // 2:
            rank = self._rank(len(ticks))
            setter(ticks[-1 - rank] if is_bid else ticks[rank], 0)
        elif roll < 0.90 and ticks:
            rank = self._rank(len(ticks))
            tick = ticks[-1 - rank] if is_bid else ticks[rank]
            setter(tick, self._size(abs(tick - (bid_cap if is_bid else ask_floor))))
        else:
            d = self._distance()
            tick = bid_cap - d if is_bid else ask_floor + d
            if tick > 0:
                setter(tick, self._size(d))

    def _keep_depth(self) -> None:
        """Trim or extend the far end, with some slack so depth is not churned every step."""
        rng = self.rng
        slack = max(1, self.target // 50)
        for ticks, far_end, setter, sign in (
            (self.bid_ticks, 0, self._set_bid, -1),
            (self.ask_ticks, -1, self._set_ask, 1),
        ):
            if len(ticks) > self.target + slack:
                while len(ticks) > self.target:
                    setter(ticks[far_end], 0)
            elif len(ticks) < self.target - slack:
                for _ in range(2):
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
