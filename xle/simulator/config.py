"""Everything the simulator can be told, in one frozen dataclass.

Defaults follow the real venues (docs/design.md, "Venue protocols"): Binance depth at
100 ms, pings every 20 s with a one-minute pong deadline, 24 h connection lifetime, 5
incoming messages per second; Coinbase drops a client that has not subscribed within 5 s
and sends heartbeats once a second. Tests shorten the timers; benchmarks raise the rates
and depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xle.simulator.faults import FaultConfig

__all__ = ["DEFAULT_MARKETS", "VENUES", "SimConfig"]

#: Venues the simulator speaks, as they appear in the URL and in ``exchange=``.
VENUES: tuple[str, ...] = ("binance", "binanceus", "coinbase")

#: Canonical market -> starting price. Symbols follow: BTC/USD is BTCUSDT on Binance,
#: BTCUSD on Binance.US and BTC-USD on Coinbase.
DEFAULT_MARKETS: dict[str, float] = {"BTC/USD": 60_000.0, "ETH/USD": 3_000.0}


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    port: int = 0  # 0: let the OS pick a free port (see Simulator.port)
    markets: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MARKETS))
    venues: tuple[str, ...] = VENUES
    levels: int = 300  # levels per side of every true book
    binance_rate: float = 10.0  # depth messages/s per Binance book (<sym>@depth@100ms)
    coinbase_rate: float = 20.0  # l2_data updates/s per Coinbase product
    trade_rate: float = 2.0  # trades/s per book
    changes: tuple[int, int] = (5, 40)  # random level changes per Binance message
    coinbase_changes: tuple[int, int] = (1, 12)  # ... per Coinbase update
    depth_1000ms_every: int = 10  # <sym>@depth aggregates this many @100ms messages
    ping_interval: float | None = 20.0  # server pings; None disables
    ping_timeout: float | None = 60.0  # a client that has not ponged by then is dropped
    max_lifetime: float = 86_400.0  # the server closes every connection after this (s)
    subscribe_timeout: float = 5.0  # Coinbase: no subscribe within this -> disconnect
    heartbeat_interval: float = 1.0  # Coinbase heartbeats channel period (s)
    max_incoming_per_s: float | None = 5.0  # Binance: more client messages/s -> disconnect
    max_streams: int = 1024  # Binance: streams per connection
    max_backlog: int = 100_000  # frames queued for a client that does not keep up -> cut it
    recent_trades: int = 50  # Coinbase market_trades snapshot length
    faults: FaultConfig = field(default_factory=FaultConfig)
    truth_dir: Path | None = None  # write the ground truth here (see truth.py)
    start_ns: int | None = None  # wall-clock epoch ns of model time 0 (default: now)
    tick_s: float = 0.005  # how often the clock advances the model
    tls: bool = False  # also serve wss:// and https:// on a second port (see tls.py)
    tls_port: int = 0  # port of that listener (0: let the OS pick)
    tls_dir: Path | None = None  # where its certificate goes (default: a temporary directory)

    def __post_init__(self) -> None:
        unknown = [v for v in self.venues if v not in VENUES]
        if unknown:
            raise ValueError(f"unknown venues {unknown}; known: {', '.join(VENUES)}")
        if self.binance_rate <= 0 or self.coinbase_rate <= 0 or self.trade_rate < 0:
            raise ValueError("rates must be positive")
        if self.levels < 2:
            raise ValueError("levels must be at least 2")
        low, high = self.changes
        if not 1 <= low <= high:
            raise ValueError(f"changes must be 1 <= low <= high, got {self.changes}")
