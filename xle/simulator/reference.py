"""Instrument reference data in the venues' own shapes: Binance ``exchangeInfo`` and
Coinbase Advanced Trade products.

Unmodified clients (cryptofeed, ccxt, python-binance, coinbase-advanced-py) load these
before they open a socket, and some validate prices and sizes against them, so the tick
and lot they state are exactly the ones the simulated books use (``Instrument``). Fields
the simulator has no model for (commission precisions, order-count limits, fee tiers)
carry the values the real venues list for their major pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from xle.simulator.book import Instrument

__all__ = ["binance_exchange_info", "binance_symbol", "coinbase_product", "split_market"]

_UNITS = 100_000_000  # the model's quantity units per base unit (1e-8)

#: Rate limits Binance spot lists; the simulator enforces only the depth weight header.
_BINANCE_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]
_BINANCE_ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]
_NAMES = {
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "SOL": "Solana",
    "XRP": "XRP",
    "DOGE": "Dogecoin",
    "ADA": "Cardano",
    "LTC": "Litecoin",
    "USD": "US Dollar",
    "USDT": "Tether",
    "USDC": "USDC",
    "EUR": "Euro",
    "GBP": "British Pound",
}


def split_market(instrument: Instrument) -> tuple[str, str]:
    """(base, quote) as the venue names them: BTCUSDT is BTC / USDT on Binance."""
    base, _, quote = instrument.market.partition("/")
    if instrument.venue == "binance" and quote == "USD":
        quote = "USDT"
    return base, quote


def _fixed8(units: int) -> str:
    """1e-8 units as Binance prints every decimal: eight places (``"0.00001000"``)."""
    whole, frac = divmod(units, _UNITS)
    return f"{whole}.{frac:08d}"


def _plain(units: int) -> str:
    """1e-8 units as Coinbase prints them: no trailing zeros (``"0.00000001"``, ``"1"``)."""
    text = _fixed8(units).rstrip("0").rstrip(".")
    return text or "0"


def _tick_units(instrument: Instrument) -> int:
    return 10 ** (8 - instrument.price_decimals)


def binance_symbol(instrument: Instrument) -> dict[str, Any]:
    """One ``symbols[]`` entry of ``GET /api/v3/exchangeInfo``."""
    base, quote = split_market(instrument)
    tick = _fixed8(_tick_units(instrument))
    lot = _fixed8(instrument.lot)
    max_price = max(1_000_000, int(instrument.base_price) * 100)
    return {
        "symbol": instrument.symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": list(_BINANCE_ORDER_TYPES),
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": instrument.venue == "binance",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": _fixed8(max_price * _UNITS),
                "tickSize": tick,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": lot,
                "maxQty": _fixed8(9000 * _UNITS),
                "stepSize": lot,
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": _fixed8(0),
                "maxQty": _fixed8(100 * _UNITS),
                "stepSize": _fixed8(0),
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": "5",
                "bidMultiplierDown": "0.2",
                "askMultiplierUp": "5",
                "askMultiplierDown": "0.2",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": _fixed8(5 * _UNITS),
                "applyMinToMarket": True,
                "maxNotional": _fixed8(9_000_000 * _UNITS),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"] if instrument.venue == "binance" else ["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def binance_exchange_info(instruments: Iterable[Instrument], server_ms: int) -> dict[str, Any]:
    """The whole ``GET /api/v3/exchangeInfo`` body for these symbols."""
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "rateLimits": [dict(limit) for limit in _BINANCE_RATE_LIMITS],
        "exchangeFilters": [],
        "symbols": [binance_symbol(i) for i in instruments],
    }


def coinbase_product(
    instrument: Instrument, price: str, change_24h: str, volume_24h: str, quote_volume_24h: str
) -> dict[str, Any]:
    """One product of ``GET /api/v3/brokerage/market/products`` (and ``…/products/{id}``).

    ``price`` is the last trade (the best bid before the first one), ``change_24h`` the
    percentage change of that price, ``volume_24h`` and ``quote_volume_24h`` the base and
    quote volume traded, all over the simulated trades of the last 24 hours.
    """
    base, quote = split_market(instrument)
    tick = _plain(_tick_units(instrument))
    lot = _plain(instrument.lot)
    return {
        "product_id": instrument.symbol,
        "price": price,
        "price_percentage_change_24h": change_24h,
        "volume_24h": volume_24h,
        "volume_percentage_change_24h": "0",
        "base_increment": lot,
        "quote_increment": tick,
        "quote_min_size": "1",
        "quote_max_size": "150000000",
        "base_min_size": lot,
        "base_max_size": str(max(1, round(200_000_000 / instrument.base_price))),
        "base_name": _NAMES.get(base, base),
        "quote_name": _NAMES.get(quote, quote),
        "watched": False,
        "is_disabled": False,
        "new": False,
        "status": "online",
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "trading_disabled": False,
        "auction_mode": False,
        "product_type": "SPOT",
        "quote_currency_id": quote,
        "base_currency_id": base,
        "fcm_trading_session_details": None,
        "mid_market_price": "",
        "alias": "",
        "alias_to": [],
        "base_display_symbol": base,
        "quote_display_symbol": quote,
        "view_only": False,
        "price_increment": tick,
        "display_name": instrument.symbol,
        "product_venue": "CBE",
        "approximate_quote_24h_volume": quote_volume_24h,
    }
