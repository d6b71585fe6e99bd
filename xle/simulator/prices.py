"""Fair prices: one latent price per canonical market, seen by each venue with lag and noise.

Why this shape: arbitrage gaps between venues must open and close the way they do in
real markets. A single latent random walk per market (``BTC/USD``) is what every venue
prices; each venue sees it late (its *lag*), with its own mean-reverting noise and a
small constant *basis* (USDT vs USD), and now and then a short *dislocation* of 25-60
bps that outruns the taker fees on both sides. Everything lives on a fixed 10 ms grid
and every grid value comes from its own seeded generator, so the fair price of a venue
at model time ``t`` depends only on the seed and ``t``, never on how fast the server
happens to run.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

__all__ = ["GRID_NS", "VENUE_PROFILES", "FairPrices", "VenueProfile"]

#: Resolution of the latent processes (10 ms).
GRID_NS = 10_000_000
_GRID_S = GRID_NS / 1e9
#: Grid values kept per series; fair prices are only ever asked for near "now".
_WINDOW = 4096


@dataclass(frozen=True)
class VenueProfile:
    """How one venue sees the latent price."""

    lag_steps: int  # grid steps (10 ms) behind the latent price
    basis_bps: float  # constant premium, e.g. USDT trading slightly above USD
    noise_bps: float  # stationary standard deviation of the venue's own noise
    half_spread_ticks: float  # typical distance of the touch from the fair price


VENUE_PROFILES: dict[str, VenueProfile] = {
    "binance": VenueProfile(lag_steps=0, basis_bps=0.8, noise_bps=1.0, half_spread_ticks=0.6),
    "coinbase": VenueProfile(lag_steps=5, basis_bps=0.0, noise_bps=1.2, half_spread_ticks=1.5),
    "binanceus": VenueProfile(lag_steps=15, basis_bps=-0.5, noise_bps=2.0, half_spread_ticks=3.0),
}

# Latent random walk: relative standard deviation per sqrt(second) (about 2 %/day).
_VOL_PER_SQRT_S = 0.7e-4
# Venue noise: Ornstein-Uhlenbeck with a five-second time constant.
_NOISE_THETA = _GRID_S / 5.0
# Dislocations: about one per 40 s per venue and market, 25-60 bps, lasting 1-4 s.
_DISLOCATION_P = _GRID_S / 40.0
_DISLOCATION_BPS = (25.0, 60.0)
_DISLOCATION_S = (1.0, 4.0)


class _Series:
    """A lazily extended, windowed series indexed by grid step."""

    __slots__ = ("first", "values")

    def __init__(self, first_value: float) -> None:
        self.first = 0  # grid index of values[0]
        self.values: deque[float] = deque([first_value], maxlen=_WINDOW)

    @property
    def last_index(self) -> int:
        return self.first + len(self.values) - 1

    def append(self, value: float) -> None:
        if len(self.values) == _WINDOW:
            self.first += 1
        self.values.append(value)

    def at(self, index: int) -> float:
        if index < self.first:
            raise ValueError(f"grid step {index} fell out of the window (first {self.first})")
        return self.values[index - self.first]


class _Latent:
    """Geometric random walk of one canonical market."""

    def __init__(self, seed: int, market: str, base: float) -> None:
        self._rng = random.Random(f"{seed}:latent:{market}")
        self._sd = _VOL_PER_SQRT_S * math.sqrt(_GRID_S)
        self.series = _Series(base)

    def extend_to(self, index: int) -> None:
        series, rng, sd = self.series, self._rng, self._sd
        value = series.values[-1]
        for _ in range(series.last_index, index):
            value *= math.exp(rng.gauss(0.0, sd))
            series.append(value)


class _Deviation:
    """One venue's relative deviation from the latent price: basis + noise + dislocation."""

    def __init__(self, seed: int, venue: str, market: str, profile: VenueProfile) -> None:
        self._rng = random.Random(f"{seed}:noise:{venue}:{market}")
        self._basis = profile.basis_bps * 1e-4
        self._noise_sd = profile.noise_bps * 1e-4 * math.sqrt(2 * _NOISE_THETA)
        self._noise = 0.0
        self._dis_amp = 0.0  # current dislocation amplitude (relative)
        self._dis_left = 0  # grid steps the dislocation still lasts
        self._dis_len = 1
        self.series = _Series(self._basis)

    def extend_to(self, index: int) -> None:
        series, rng = self.series, self._rng
        for _ in range(series.last_index, index):
            self._noise += -_NOISE_THETA * self._noise + rng.gauss(0.0, self._noise_sd)
            if self._dis_left == 0 and rng.random() < _DISLOCATION_P:
                sign = 1.0 if rng.random() < 0.5 else -1.0
                self._dis_amp = sign * rng.uniform(*_DISLOCATION_BPS) * 1e-4
                self._dis_len = int(rng.uniform(*_DISLOCATION_S) / _GRID_S)
                self._dis_left = self._dis_len
            dislocation = 0.0
            if self._dis_left:
                # Trapezoid: ramp up over 30 % of the episode, hold, ramp down over 40 %.
                done = (self._dis_len - self._dis_left) / self._dis_len
                shape = min(1.0, done / 0.3, (1.0 - done) / 0.4)
                dislocation = self._dis_amp * max(shape, 0.0)
                self._dis_left -= 1
            series.append(self._basis + self._noise + dislocation)


class FairPrices:
    """Fair price of every (venue, market) at any model time, from the seed alone."""

    def __init__(self, seed: int, markets: dict[str, float], venues: tuple[str, ...]) -> None:
        self._latent = {m: _Latent(seed, m, base) for m, base in markets.items()}
        self._deviation = {
            (v, m): _Deviation(seed, v, m, VENUE_PROFILES[v]) for v in venues for m in markets
        }
        self._lag = {v: VENUE_PROFILES[v].lag_steps for v in venues}

    def fair(self, venue: str, market: str, t_ns: int) -> float:
        """The price ``venue`` quotes around for ``market`` at model time ``t_ns``."""
        index = t_ns // GRID_NS
        lag = self._lag[venue]
        latent = self._latent[market]
        latent.extend_to(index)
        deviation = self._deviation[(venue, market)]
        deviation.extend_to(index)
        # Before the lag has elapsed, a venue sees the starting price.
        base = latent.series.at(max(index - lag, 0))
        return base * (1.0 + deviation.series.at(index))

    def latent(self, market: str, t_ns: int) -> float:
        """The shared latent price (no venue lag or noise)."""
        index = t_ns // GRID_NS
        latent = self._latent[market]
        latent.extend_to(index)
        return latent.series.at(index)
