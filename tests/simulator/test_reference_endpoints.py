"""Binance ``exchangeInfo`` / ``ping`` / ``time`` and Coinbase's public product endpoints,
checked against the shapes the venues document, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from tests.simulator.conftest import MakeSim

#: Keys of a ``symbols[]`` entry in Binance spot's documented ``exchangeInfo`` response.
BINANCE_SYMBOL_KEYS = {
    "symbol",
    "status",
    "baseAsset",
    "baseAssetPrecision",
    "quoteAsset",
    "quotePrecision",
    "quoteAssetPrecision",
    "baseCommissionPrecision",
    "quoteCommissionPrecision",
    "orderTypes",
    "icebergAllowed",
    "ocoAllowed",
    "otoAllowed",
    "quoteOrderQtyMarketAllowed",
    "allowTrailingStop",
    "cancelReplaceAllowed",
    "isSpotTradingAllowed",
    "isMarginTradingAllowed",
    "filters",
    "permissions",
    "permissionSets",
    "defaultSelfTradePreventionMode",
    "allowedSelfTradePreventionModes",
}
#: Keys of one product in Coinbase Advanced Trade's documented ``products`` responses.
COINBASE_PRODUCT_KEYS = {
    "product_id",
    "price",
    "price_percentage_change_24h",
    "volume_24h",
    "volume_percentage_change_24h",
    "base_increment",
    "quote_increment",
    "quote_min_size",
    "quote_max_size",
    "base_min_size",
    "base_max_size",
    "base_name",
    "quote_name",
    "watched",
    "is_disabled",
    "new",
    "status",
    "cancel_only",
    "limit_only",
    "post_only",
    "trading_disabled",
    "auction_mode",
    "product_type",
    "quote_currency_id",
    "base_currency_id",
    "fcm_trading_session_details",
    "mid_market_price",
    "alias",
    "alias_to",
    "base_display_symbol",
    "quote_display_symbol",
    "view_only",
    "price_increment",
    "display_name",
    "product_venue",
    "approximate_quote_24h_volume",
}


def _filters(symbol: dict) -> dict[str, dict]:
    return {f["filterType"]: f for f in symbol["filters"]}


def _multiple(value: str, step: str) -> bool:
    return Decimal(value) % Decimal(step) == 0


async def test_exchange_info_lists_the_served_symbols_in_binance_shape(make_sim: MakeSim) -> None:
    sim = await make_sim()
    async with httpx.AsyncClient() as http:
        reply = await http.get(sim.urls["binance"].rest + "/api/v3/exchangeInfo")
    assert reply.status_code == 200
    assert int(reply.headers["x-mbx-used-weight-1m"]) >= 20
    info = reply.json()
    assert set(info) == {"timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"}
    assert info["timezone"] == "UTC" and isinstance(info["serverTime"], int)
    assert {"rateLimitType", "interval", "intervalNum", "limit"} == set(info["rateLimits"][0])
    assert [s["symbol"] for s in info["symbols"]] == sim.symbols("binance")
    btc = info["symbols"][0]
    assert set(btc) == BINANCE_SYMBOL_KEYS
    assert (btc["status"], btc["baseAsset"], btc["quoteAsset"]) == ("TRADING", "BTC", "USDT")
    assert btc["baseAssetPrecision"] == btc["quoteAssetPrecision"] == 8
    filters = _filters(btc)
    assert {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"} <= set(filters)
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"


async def test_exchange_info_tick_and_lot_fit_every_level_of_the_books(make_sim: MakeSim) -> None:
    sim = await make_sim()
    async with httpx.AsyncClient() as http:
        for venue in ("binance", "binanceus"):
            rest = sim.urls[venue].rest
            info = (await http.get(rest + "/api/v3/exchangeInfo")).json()
            for symbol in info["symbols"]:
                filters = _filters(symbol)
                tick, step = filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"]
                query = f"/api/v3/depth?symbol={symbol['symbol']}&limit=5000"
                depth = (await http.get(rest + query)).json()
                levels = depth["bids"] + depth["asks"]
                assert levels
                assert all(_multiple(p, tick) and _multiple(q, step) for p, q in levels)


async def test_exchange_info_answers_one_symbol_or_a_list(make_sim: MakeSim) -> None:
    sim = await make_sim()
    rest = sim.urls["binanceus"].rest + "/api/v3/exchangeInfo"
    async with httpx.AsyncClient() as http:
        one = (await http.get(rest, params={"symbol": "ETHUSD"})).json()
        listed = (await http.get(rest, params={"symbols": '["ETHUSD","BTCUSD"]'})).json()
        unknown = await http.get(rest, params={"symbol": "DOGEUSD"})
    assert [s["symbol"] for s in one["symbols"]] == ["ETHUSD"]
    assert one["symbols"][0]["quoteAsset"] == "USD"
    assert [s["symbol"] for s in listed["symbols"]] == ["ETHUSD", "BTCUSD"]
    assert unknown.status_code == 400
    assert unknown.json() == {"code": -1121, "msg": "Invalid symbol."}


async def test_ping_and_time_answer_like_binance(make_sim: MakeSim) -> None:
    sim = await make_sim()
    async with httpx.AsyncClient() as http:
        ping = await http.get(sim.urls["binance"].rest + "/api/v3/ping")
        clock = await http.get(sim.urls["binance"].rest + "/api/v3/time")
    assert (ping.status_code, ping.json()) == (200, {})
    assert set(clock.json()) == {"serverTime"} and clock.json()["serverTime"] > 1_600_000_000_000


@pytest.mark.parametrize(
    "prefix", ["/api/v3/brokerage/market/products", "/api/v3/brokerage/products"]
)
async def test_coinbase_lists_its_products_in_coinbase_shape(
    make_sim: MakeSim, prefix: str
) -> None:
    sim = await make_sim()
    async with httpx.AsyncClient() as http:
        reply = await http.get(sim.urls["coinbase"].rest + prefix)
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"products", "num_products"}
    assert body["num_products"] == 2
    assert [p["product_id"] for p in body["products"]] == ["BTC-USD", "ETH-USD"]
    btc = body["products"][0]
    assert set(btc) == COINBASE_PRODUCT_KEYS
    assert (btc["base_increment"], btc["quote_increment"]) == ("0.00000001", "0.01")
    assert (btc["base_currency_id"], btc["quote_currency_id"]) == ("BTC", "USD")
    assert btc["status"] == "online" and btc["product_type"] == "SPOT"
    assert Decimal(btc["price"]) > 0


async def test_coinbase_serves_each_product_by_id(make_sim: MakeSim) -> None:
    sim = await make_sim()
    rest = sim.urls["coinbase"].rest
    async with httpx.AsyncClient() as http:
        public = await http.get(rest + "/api/v3/brokerage/market/products/ETH-USD")
        signed = await http.get(rest + "/api/v3/brokerage/products/ETH-USD")
        unknown = await http.get(rest + "/api/v3/brokerage/market/products/DOGE-USD")
        filtered = await http.get(
            rest + "/api/v3/brokerage/market/products", params={"product_ids": "ETH-USD"}
        )
    assert public.status_code == signed.status_code == 200
    assert public.json()["product_id"] == signed.json()["product_id"] == "ETH-USD"
    assert set(public.json()) == COINBASE_PRODUCT_KEYS
    assert unknown.status_code == 404 and unknown.json()["error"] == "NOT_FOUND"
    assert [p["product_id"] for p in filtered.json()["products"]] == ["ETH-USD"]


async def test_coinbase_price_follows_the_trades(make_sim: MakeSim) -> None:
    sim = await make_sim(trade_rate=50.0)
    url = sim.urls["coinbase"].rest + "/api/v3/brokerage/market/products/BTC-USD"
    async with httpx.AsyncClient() as http:
        await _wait_for_trades(http, url)
        after = (await http.get(url)).json()
    assert Decimal(after["volume_24h"]) > 0
    assert Decimal(after["approximate_quote_24h_volume"]) > 0
    assert _multiple(after["price"], after["quote_increment"])


async def _wait_for_trades(http: httpx.AsyncClient, url: str) -> None:
    for _ in range(50):
        if Decimal((await http.get(url)).json()["volume_24h"]) > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no trade in 2.5 s at 50 trades/s")


async def test_coinbase_time_endpoint_answers(make_sim: MakeSim) -> None:
    sim = await make_sim()
    async with httpx.AsyncClient() as http:
        body = (await http.get(sim.urls["coinbase"].rest + "/api/v3/brokerage/time")).json()
    assert set(body) == {"iso", "epochSeconds", "epochMillis"}
    assert int(body["epochMillis"]) // 1000 == int(body["epochSeconds"])
