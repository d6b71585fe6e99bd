"""Clients written the way the common libraries start up, pointed at the simulator and
otherwise unchanged: reference data first, then streams, then a synced book.

The Binance client reads ``exchangeInfo`` (as cryptofeed, ccxt and python-binance do),
subscribes to the TRADING symbols' diff and aggTrade streams, syncs with Binance's
documented procedure and checks every price and size against the filters it was given.
The Coinbase client lists products (as coinbase-advanced-py and ccxt do), subscribes
level2 for the online ones and checks levels against ``quote_increment`` /
``base_increment``. Both end with the true book.
"""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from tests.simulator.conftest import MakeSim
from tests.simulator.helpers import apply, best_first, drain, recv_json, until, ws_connect


def _on_step(value: str, step: str) -> bool:
    return Decimal(value) % Decimal(step) == 0


async def test_a_binance_client_that_reads_exchange_info_first(make_sim: MakeSim) -> None:
    sim = await make_sim(binance_rate=50.0, trade_rate=20.0)
    base_ws, base_rest = sim.urls["binance"].ws, sim.urls["binance"].rest
    async with httpx.AsyncClient() as http:
        info = (await http.get(base_rest + "/api/v3/exchangeInfo")).json()
        rules = {}
        for s in info["symbols"]:
            if s["status"] == "TRADING":
                filters = {f["filterType"]: f for f in s["filters"]}
                rules[s["symbol"]] = (
                    filters["PRICE_FILTER"]["tickSize"],
                    filters["LOT_SIZE"]["stepSize"],
                )
        streams = [f"{s.lower()}@{kind}" for s in rules for kind in ("depth@100ms", "aggTrade")]
        books: dict[str, dict[str, dict[str, str]]] = {}
        ids: dict[str, int] = {}
        async with ws_connect(base_ws + "/stream?streams=" + "/".join(streams)) as ws:
            buffered = [await recv_json(ws) for _ in range(4)]
            for symbol in rules:
                snapshot = (
                    await http.get(base_rest + f"/api/v3/depth?symbol={symbol}&limit=1000")
                ).json()
                books[symbol] = {"bids": {}, "asks": {}}
                apply(books[symbol]["bids"], snapshot["bids"])
                apply(books[symbol]["asks"], snapshot["asks"])
                ids[symbol] = snapshot["lastUpdateId"]
            first = dict.fromkeys(rules, True)
            frames = buffered + await until(
                ws,
                lambda f: (
                    f["stream"].endswith("depth@100ms") and f["data"]["u"] > max(ids.values())
                ),
            )
            sim.pause()
            frames += await drain(ws, 0.3)
    for frame in frames:
        data = frame["data"]
        tick, step = rules[data["s"]]
        if data["e"] == "aggTrade":
            assert _on_step(data["p"], tick) and _on_step(data["q"], step)
            continue
        symbol = data["s"]
        if data["u"] <= ids[symbol]:
            continue  # older than the snapshot
        if first[symbol]:
            assert data["U"] <= ids[symbol] + 1 <= data["u"]
            first[symbol] = False
        else:
            assert data["U"] == ids[symbol] + 1
        for p, q in data["b"] + data["a"]:
            assert _on_step(p, tick) and _on_step(q, step)
        apply(books[symbol]["bids"], data["b"])
        apply(books[symbol]["asks"], data["a"])
        ids[symbol] = data["u"]
    for symbol, book in books.items():
        true = sim.book("binance", symbol)
        assert ids[symbol] == true.update_id
        assert best_first(book) == (true.bids, true.asks)


async def test_a_coinbase_client_that_lists_products_first(make_sim: MakeSim) -> None:
    sim = await make_sim(coinbase_rate=50.0)
    async with httpx.AsyncClient() as http:
        listing = (
            await http.get(sim.urls["coinbase"].rest + "/api/v3/brokerage/market/products")
        ).json()
    rules = {
        p["product_id"]: (p["quote_increment"], p["base_increment"])
        for p in listing["products"]
        if p["status"] == "online" and not p["trading_disabled"]
    }
    assert len(rules) == listing["num_products"]
    books = {p: {"bids": {}, "asks": {}} for p in rules}
    async with ws_connect(sim.urls["coinbase"].ws) as ws:
        subscribe = {"type": "subscribe", "product_ids": list(rules), "channel": "level2"}
        await ws.send(json.dumps(subscribe))
        frames = await until(ws, lambda f: f["channel"] == "subscriptions")
        frames += [await recv_json(ws) for _ in range(20)]
        sim.pause()
        frames += await drain(ws, 0.3)
    assert [f["sequence_num"] for f in frames] == list(range(len(frames)))
    for frame in frames:
        if frame["channel"] != "l2_data":
            continue
        for event in frame["events"]:
            tick, lot = rules[event["product_id"]]
            for u in event["updates"]:
                assert _on_step(u["price_level"], tick) and _on_step(u["new_quantity"], lot)
                side = "bids" if u["side"] == "bid" else "asks"
                apply(books[event["product_id"]][side], [(u["price_level"], u["new_quantity"])])
    for product, book in books.items():
        true = sim.book("coinbase", product)
        assert best_first(book) == (true.bids, true.asks)
