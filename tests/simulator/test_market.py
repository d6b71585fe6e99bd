"""The market model alone: deterministic, exact, never crossed, realistic enough."""

from __future__ import annotations

import itertools
import re
import statistics

import pytest

from tests.simulator.helpers import apply
from xle.simulator import MarketModel, SimConfig, Step

SECOND = 1_000_000_000


def _run(seconds: float, **options: object) -> tuple[MarketModel, list[Step]]:
    model = MarketModel(SimConfig(**options))  # type: ignore[arg-type]
    return model, model.advance(int(seconds * SECOND))


def test_same_seed_gives_identical_steps() -> None:
    _, first = _run(5, seed=7)
    _, second = _run(5, seed=7)
    assert first == second


def test_different_seeds_give_different_markets() -> None:
    _, first = _run(2, seed=1)
    _, second = _run(2, seed=2)
    assert [s.bids for s in first[:20]] != [s.bids for s in second[:20]]


def test_stepping_in_small_increments_equals_one_big_advance() -> None:
    model = MarketModel(SimConfig(seed=3))
    pieces: list[Step] = []
    for ms in range(7, 3001, 7):
        pieces.extend(model.advance(ms * 1_000_000))
    pieces.extend(model.advance(3 * SECOND))
    _, whole = _run(3, seed=3)
    assert pieces == whole


def test_default_symbols_per_venue() -> None:
    model = MarketModel(SimConfig())
    assert model.symbols("binance") == ["BTCUSDT", "ETHUSDT"]
    assert model.symbols("binanceus") == ["BTCUSD", "ETHUSD"]
    assert model.symbols("coinbase") == ["BTC-USD", "ETH-USD"]


def test_binance_update_ids_are_contiguous_and_cover_at_least_one_id() -> None:
    _, steps = _run(10)
    for venue in ("binance", "binanceus"):
        ids = [(s.first_id, s.last_id) for s in steps if (s.venue, s.symbol[:3]) == (venue, "BTC")]
        assert all(last >= first for first, last in ids)
        assert all(nxt[0] == prev[1] + 1 for prev, nxt in itertools.pairwise(ids))


def test_coinbase_steps_are_numbered_one_by_one() -> None:
    _, steps = _run(3)
    ids = [s.last_id for s in steps if s.symbol == "BTC-USD"]
    assert ids == list(range(1, len(ids) + 1))


def test_message_rates_follow_the_config() -> None:
    _, steps = _run(10, binance_rate=10.0, coinbase_rate=20.0)
    assert sum(1 for s in steps if s.symbol == "BTCUSDT") == 100
    assert sum(1 for s in steps if s.symbol == "BTC-USD") == 200


def test_steps_applied_to_the_start_book_give_the_model_book() -> None:
    model = MarketModel(SimConfig(seed=5))
    start = model.snapshot("binance", "ETHUSDT")
    bids, asks = dict(start.bids), dict(start.asks)
    for step in model.advance(20 * SECOND):
        if (step.venue, step.symbol) == ("binance", "ETHUSDT"):
            apply(bids, step.bids)
            apply(asks, step.asks)
    now = model.snapshot("binance", "ETHUSDT")
    assert bids == dict(now.bids)
    assert asks == dict(now.asks)


@pytest.mark.parametrize("venue,symbol", [("binance", "BTCUSDT"), ("coinbase", "ETH-USD")])
def test_books_are_never_crossed(venue: str, symbol: str) -> None:
    model = MarketModel(SimConfig(seed=11))
    for ms in range(100, 60_001, 100):
        model.advance(ms * 1_000_000)
        snap = model.snapshot(venue, symbol, 1)
        assert float(snap.bids[0][0]) < float(snap.asks[0][0])


def test_binance_messages_change_5_to_40_levels_with_about_a_fifth_deletions() -> None:
    _, steps = _run(60)
    binance = [s for s in steps if s.venue == "binance"]
    sizes = [len(s.bids) + len(s.asks) for s in binance]
    in_range = sum(5 <= n <= 40 for n in sizes) / len(sizes)
    zeros = sum(1 for s in binance for _, q in s.bids + s.asks if float(q) == 0)
    assert in_range > 0.8
    assert 8 <= statistics.median(sizes) <= 35
    assert 0.12 < zeros / sum(sizes) < 0.3


def test_activity_is_concentrated_near_the_touch() -> None:
    model = MarketModel(SimConfig(seed=2))
    near = total = 0
    for ms in range(100, 20_001, 100):
        for step in model.advance(ms * 1_000_000):
            if step.symbol != "BTCUSDT":
                continue
            snap = model.snapshot("binance", "BTCUSDT", 30)
            inner = {p for p, _ in snap.bids} | {p for p, _ in snap.asks}
            changed = [p for p, q in step.bids + step.asks if float(q) != 0]
            near += sum(p in inner for p in changed)
            total += len(changed)
    # 30 of ~300 levels a side (10 %) take far more than 10 % of the changes.
    assert near / total > 0.4


@pytest.mark.parametrize("levels", [300, 1000])
def test_books_keep_about_the_configured_depth(levels: int) -> None:
    model, _ = _run(20, levels=levels)
    for venue, symbol in (("binance", "BTCUSDT"), ("coinbase", "BTC-USD")):
        snap = model.snapshot(venue, symbol)
        assert levels * 0.8 <= len(snap.bids) <= levels * 1.05
        assert levels * 0.8 <= len(snap.asks) <= levels * 1.05


def test_prices_and_sizes_are_printed_as_each_venue_prints_them() -> None:
    model, steps = _run(2)
    binance = model.snapshot("binance", "BTCUSDT", 50)
    coinbase = model.snapshot("coinbase", "BTC-USD", 50)
    eight = re.compile(r"^\d+\.\d{8}$")
    plain = re.compile(r"^(0|[1-9]\d*)(\.\d*[1-9])?$")
    assert all(eight.match(p) and eight.match(q) for p, q in binance.bids + binance.asks)
    assert all(plain.match(p) and plain.match(q) for p, q in coinbase.bids + coinbase.asks)
    zeros = {q for s in steps for _, q in s.bids + s.asks if float(q) == 0}
    assert zeros == {"0.00000000", "0"}


def test_markets_start_near_their_configured_prices() -> None:
    model = MarketModel(SimConfig())
    btc = float(model.snapshot("coinbase", "BTC-USD", 1).bids[0][0])
    eth = float(model.snapshot("binance", "ETHUSDT", 1).bids[0][0])
    assert 59_000 < btc < 61_000
    assert 2_950 < eth < 3_050


def test_cross_venue_gaps_open_beyond_taker_fees_and_close_again() -> None:
    model = MarketModel(SimConfig(seed=1))
    fee = 0.001
    venues = (("binance", "BTCUSDT"), ("binanceus", "BTCUSD"), ("coinbase", "BTC-USD"))
    profitable = []
    for ms in range(100, 180_001, 100):
        model.advance(ms * 1_000_000)
        tops = [model.snapshot(v, s, 1) for v, s in venues]
        edge = max(
            float(b.bids[0][0]) * (1 - fee) - float(a.asks[0][0]) * (1 + fee)
            for a in tops
            for b in tops
            if a is not b
        )
        profitable.append(edge > 0)
    share = sum(profitable) / len(profitable)
    assert 0.0 < share < 0.5
    assert any(a and not b for a, b in itertools.pairwise(profitable))


def test_trades_take_liquidity_at_the_touch_and_the_depth_shows_it() -> None:
    model = MarketModel(SimConfig(seed=4, trade_rate=5.0))
    seen = 0
    for ms in range(100, 10_001, 100):
        for step in model.advance(ms * 1_000_000):
            if step.venue != "binance" or not step.trades:
                continue
            top = model.snapshot("binance", step.symbol, 1)
            for trade in step.trades:
                seen += 1
                if trade.side == "buy":  # lifted an ask: above every bid, that ask changed
                    assert float(trade.price) > float(top.bids[0][0])
                    assert trade.price in {p for p, _ in step.asks}
                else:
                    assert float(trade.price) < float(top.asks[0][0])
                    assert trade.price in {p for p, _ in step.bids}
    assert seen > 50
