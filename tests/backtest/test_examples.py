"""The examples in ``examples/`` on the golden log and on real Binance data."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.backtest.helpers import (
    EXAMPLES,
    GOLDEN_RANGE,
    REAL_RANGE,
    example,
    golden_copy,
    real_copy,
    xle,
)
from xle.backtesting import backtest
from xle.store.views import connect

D = Decimal


def _engine_episodes(root: Path) -> list[dict]:
    """The engine's arbitrage episodes of the golden log (``xle replay`` first)."""
    result = xle("replay", "--from", GOLDEN_RANGE[0], "--to", GOLDEN_RANGE[1], "--data", root)
    assert result.exit_code == 0, result.stderr
    con = connect(root)
    cursor = con.execute(
        "select start_ns, buy_venue, sell_venue, status, executable_size, profit "
        "from arbitrage order by start_ns, status desc"
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _balances_from_fills(result) -> dict[tuple[str, str], Decimal]:
    """Each venue's base and quote change, recomputed from the fills table alone."""
    from xle.config import load_config

    change: dict[tuple[str, str], Decimal] = {}
    for fill in result.fills.to_pylist():
        base, quote = load_config().assets_of(fill["exchange"], fill["symbol"])
        sign = 1 if fill["side"] == "buy" else -1
        ex = fill["exchange"]
        change[(ex, base)] = change.get((ex, base), D(0)) + sign * fill["qty"]
        cash = -sign * fill["price"] * fill["qty"] - fill["fee"]
        change[(ex, quote)] = change.get((ex, quote), D(0)) + cash
    return change


def _final_balances(result) -> dict[tuple[str, str], Decimal]:
    rows = result.positions.to_pylist()
    last = max(r["t_ns"] for r in rows)
    return {(r["exchange"], r["asset"]): r["balance"] for r in rows if r["t_ns"] == last}


def _assert_balances_follow_fills(result, start: dict[str, dict[str, str]]) -> None:
    final = _final_balances(result)
    for key, delta in _balances_from_fills(result).items():
        assert final[key] == D(start[key[0]][key[1]]) + delta, key


def test_taker_pnl_per_episode_equals_the_engines_profit_at_the_opening(tmp_path: Path) -> None:
    """Zero latency, the engine's fees: each episode the strategy trades pays exactly what
    the engine's episode row said when the episode opened (its executable size and
    profit); where the engine found nothing better later, that is also the closed
    episode's profit."""
    root = golden_copy(tmp_path)
    engine = _engine_episodes(root)
    opened = [e for e in engine if e["status"] == "open"]
    closed = {e["start_ns"]: e for e in engine if e["status"] == "closed"}
    strategy = example("taker_arbitrage").TakerArbitrage()
    backtest(strategy, root, *GOLDEN_RANGE)
    assert len(strategy.episodes) == len(opened) == 3
    for ours, theirs in zip(strategy.episodes, opened, strict=True):
        assert (ours.start_ns, ours.buy, ours.sell) == (
            theirs["start_ns"], theirs["buy_venue"], theirs["sell_venue"],
        )  # fmt: skip
        assert ours.filled == {"buy": ours.size, "sell": ours.size}
        assert float(ours.size) == pytest.approx(theirs["executable_size"], rel=1e-12)
        assert float(ours.pnl) == pytest.approx(theirs["profit"], rel=1e-12)
        assert ours.pnl == ours.expected  # the fills are the walk, to the last digit
        end = closed[ours.start_ns]
        if end["executable_size"] == theirs["executable_size"] and end["profit"] <= theirs[
            "profit"
        ] * (1 + 1e-12):
            assert float(ours.pnl) == pytest.approx(end["profit"], rel=1e-12)
    # The first episode's books improved after it opened: the engine's closed row keeps
    # the best profit seen (57.98975), a taker that traded at the opening made 57.8396.
    assert [float(e.pnl) for e in strategy.episodes] == pytest.approx([57.8396, 38.8999, 28.5597])


def test_taker_balances_follow_its_fills_on_the_golden_log(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    strategy = example("taker_arbitrage").TakerArbitrage()
    result = backtest(strategy, root, *GOLDEN_RANGE)
    assert result.summary["fills"] == 6 and result.summary["rejected"] == 0
    _assert_balances_follow_fills(result, strategy.balances)
    positions = {k: v for k, v in _balances_from_fills(result).items() if k[1] == "BTC"}
    assert positions == {("binance", "BTC"): D("0.9"), ("coinbase", "BTC"): D("-0.9")}


def test_taker_with_entry_latency_meets_later_books(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    zero = backtest(example("taker_arbitrage").TakerArbitrage(), root, *GOLDEN_RANGE)
    slow = backtest(
        example("taker_arbitrage").TakerArbitrage(), root, *GOLDEN_RANGE, latency="1500ms"
    )
    assert slow.digest != zero.digest
    assert slow.fills.to_pylist() != zero.fills.to_pylist()


def test_market_maker_quotes_both_sides_on_the_golden_log(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    strategy = example("market_maker").MarketMaker(spread_bps=2.0)
    result = backtest(strategy, root, *GOLDEN_RANGE)
    orders = result.orders.to_pylist()
    assert {o["side"] for o in orders} == {"buy", "sell"}
    assert {o["tif"] for o in orders} == {"POST_ONLY"}
    assert all(o["status"] != "rejected" for o in orders)
    for order in orders:  # the bid below the ask, both around the mid
        if order["side"] == "buy":
            assert order["limit"] < max(o["limit"] for o in orders if o["side"] == "sell")


def test_market_maker_on_real_binance_data_fills_and_stays_within_its_inventory(
    tmp_path: Path,
) -> None:
    root = real_copy(tmp_path)
    strategy = example("market_maker").MarketMaker(size="0.01", max_inventory="0.05")
    result = backtest(strategy, root, *REAL_RANGE)
    fills = result.fills.to_pylist()
    assert len(fills) > 50
    assert {f["side"] for f in fills} == {"buy", "sell"}
    assert {f["liquidity"] for f in fills} == {"maker"}
    assert all(f["fee"] > 0 and f["fee_asset"] == "USDT" for f in fills)
    _assert_balances_follow_fills(result, strategy.balances)
    position = D(0)
    for fill in fills:
        position += fill["qty"] if fill["side"] == "buy" else -fill["qty"]
        # at most one resting quote beyond the limit can fill before it is pulled
        assert abs(position) <= D("0.05") + D("0.01")
    again = backtest(
        example("market_maker").MarketMaker(size="0.01", max_inventory="0.05"), root, *REAL_RANGE
    )
    assert again.digest == result.digest


def test_taker_refuses_two_books_of_different_markets(tmp_path: Path) -> None:
    spec = f"{EXAMPLES / 'taker_arbitrage.py'}:TakerArbitrage"
    result = xle(
        "backtest", spec, "--from", GOLDEN_RANGE[0], "--to", GOLDEN_RANGE[1],
        "--data", golden_copy(tmp_path), "--param", "b=binance:ETHUSDT",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        "error: TakerArbitrage: ValueError: binance:BTCUSDT is BTC/USD but "
        "binance:ETHUSDT is ETH/USD: both books must trade one market\n"
    )


def test_cli_runs_both_examples_over_real_data_and_the_runs_are_queryable(
    tmp_path: Path,
) -> None:
    root = real_copy(tmp_path)
    for spec, params in (
        ("market_maker.py:MarketMaker", ["--param", "size=0.01"]),
        ("taker_arbitrage.py:TakerArbitrage", ["--param", "b=binance:BTCUSDT"]),
    ):
        result = xle(
            "backtest", f"{EXAMPLES / spec}", "--from", REAL_RANGE[0], "--to", REAL_RANGE[1],
            "--data", root, *params,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
    rows = xle(
        "query",
        "select b.strategy, b.fills, count(f.fill_id) as n from backtests b "
        "left join fills f using (run) group by all order by b.strategy",
        "--data",
        root,
        "-f",
        "json",
    )
    assert rows.exit_code == 0, rows.stderr
    (mm, taker) = json.loads(rows.stdout)
    assert mm["strategy"] == "MarketMaker" and mm["fills"] == mm["n"] > 0
    assert taker["strategy"] == "TakerArbitrage" and taker["fills"] == taker["n"] == 0
