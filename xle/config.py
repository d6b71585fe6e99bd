"""Engine configuration: markets, fees, VWAP sizes and thresholds.

Defaults live in ``default_config.toml`` beside this file (documented there); a user
file passed with ``--config`` overrides any subset of keys.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from xle.errors import ConfigError

__all__ = ["EngineConfig", "demo_config_path", "load_config"]


@dataclass(frozen=True)
class EngineConfig:
    quote_interval_ns: int = 1_000_000_000
    stale_after_ns: int = 60_000_000_000
    imbalance_levels: int = 10
    arb_threshold_bps: float = 0.0
    fees: dict[str, float] = field(default_factory=dict)  # taker
    maker_fees: dict[str, float] = field(default_factory=dict)
    usd_stablecoins: tuple[str, ...] = ()
    markets: dict[str, str] = field(default_factory=dict)
    vwap_sizes: dict[str, tuple[float, ...]] = field(default_factory=dict)
    max_update_span: int = 1_000_000
    stale_stream_updates: int = 50
    stale_stream_ns: int = 10_000_000_000

    def market_of(self, exchange: str, symbol: str) -> str | None:
        """Canonical market of a native symbol: the explicit mapping, else ``BASE/QUOTE`` by
        the venue's symbol rule (stablecoins counted as USD)."""
        explicit = self.markets.get(f"{exchange}:{symbol}")
        if explicit is not None:
            return explicit
        assets = self.assets_of(exchange, symbol)
        if assets is None:
            return None
        base, quote = assets
        if quote in self.usd_stablecoins:
            quote = "USD"
        return f"{base}/{quote}"

    @staticmethod
    def assets_of(exchange: str, symbol: str) -> tuple[str, str] | None:
        """(base, quote) assets of a native symbol as the venue names them, by the venue's
        own rule (``BTCUSDT`` -> ("BTC", "USDT") on Binance, ``BTC-USD`` -> ("BTC", "USD")
        on Coinbase); None for a symbol that does not parse or a venue not registered."""
        from xle.exchanges import find_venue  # registers the built-in venues

        spec = find_venue(exchange)
        return spec.assets_of(symbol) if spec is not None else None

    def is_usd(self, asset: str) -> bool:
        """USD, or a stablecoin priced as USD."""
        return asset == "USD" or asset in self.usd_stablecoins

    def maker_fee(self, exchange: str) -> float:
        return self.maker_fees.get(exchange, self.fee(exchange))

    def sizes_for(self, market: str | None) -> tuple[float, ...]:
        if market is not None and market in self.vwap_sizes:
            return self.vwap_sizes[market]
        return self.vwap_sizes.get("default", (1.0,))

    def fee(self, exchange: str) -> float:
        return self.fees.get(exchange, 0.0)


def _defaults() -> dict[str, Any]:
    text = resources.files("xle").joinpath("default_config.toml").read_text("utf-8")
    return tomllib.loads(text)


def demo_config_path() -> Path:
    """The packaged config of ``xle demo`` (fees of a high-volume tier, see the file)."""
    return Path(str(resources.files("xle").joinpath("demo_config.toml")))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None) -> EngineConfig:
    """Defaults, overridden by the TOML file at ``path`` if given."""
    raw = _defaults()
    if path is not None:
        try:
            raw = _merge(raw, tomllib.loads(Path(path).read_text("utf-8")))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    for key in ("max_update_span", "stale_stream_updates", "stale_stream_s"):
        value = raw.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"bad config value: {key} must be a positive number, not {value!r}")
    try:
        return EngineConfig(
            quote_interval_ns=int(float(raw["quote_interval_ms"]) * 1_000_000),
            stale_after_ns=int(float(raw["stale_after_s"]) * 1_000_000_000),
            imbalance_levels=int(raw["imbalance_levels"]),
            arb_threshold_bps=float(raw["arb_threshold_bps"]),
            fees={k: float(v) for k, v in raw["fees"].items()},
            maker_fees={k: float(v) for k, v in raw.get("maker_fees", {}).items()},
            usd_stablecoins=tuple(raw["canonical"]["usd_stablecoins"]),
            markets=dict(raw["markets"]),
            vwap_sizes={k: tuple(float(s) for s in v) for k, v in raw["vwap_sizes"].items()},
            max_update_span=int(raw["max_update_span"]),
            stale_stream_updates=int(raw["stale_stream_updates"]),
            stale_stream_ns=int(float(raw["stale_stream_s"]) * 1_000_000_000),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"bad config value: {exc}") from exc
