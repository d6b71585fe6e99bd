"""The digest: the same backtest gives the same digest in one process or several."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tests.backtest.helpers import GOLDEN_RANGE, example, golden_copy
from xle.backtesting import backtest


def _digest(root: str, latency: str | None) -> str:
    """One whole backtest in whatever process runs it (seeded latency draws)."""
    strategy = example("market_maker").MarketMaker(spread_bps=1.0)
    taker = example("taker_arbitrage").TakerArbitrage()
    first = backtest(strategy, root, *GOLDEN_RANGE, latency=latency, seed=3)
    second = backtest(taker, root, *GOLDEN_RANGE, latency=latency, seed=3)
    return first.digest + second.digest


def _latency_file(tmp_path: Path) -> str:
    path = tmp_path / "latency.txt"
    path.write_text("1ms,2ms\n5ms,1ms\n250us\n40ms,3ms\n")
    return f"file={path},feed=1ms"


def test_digest_is_identical_across_two_runs(tmp_path: Path) -> None:
    root = str(golden_copy(tmp_path))
    latency = _latency_file(tmp_path)
    assert _digest(root, latency) == _digest(root, latency)


def test_digest_is_identical_across_a_process_pool(tmp_path: Path) -> None:
    root = str(golden_copy(tmp_path))
    latency = _latency_file(tmp_path)
    here = _digest(root, latency)
    with ProcessPoolExecutor(max_workers=2) as pool:
        there = list(pool.map(_digest, [root] * 4, [latency] * 4))
    assert there == [here] * 4


def test_a_different_seed_draws_different_latencies(tmp_path: Path) -> None:
    root = str(golden_copy(tmp_path))
    latency = _latency_file(tmp_path)
    taker = example("taker_arbitrage").TakerArbitrage
    digests = {
        backtest(taker(), root, *GOLDEN_RANGE, latency=latency, seed=seed).digest
        for seed in range(4)
    }
    assert len(digests) > 1
