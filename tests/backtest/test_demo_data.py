"""``xle backtest`` over the demo's data: the simulator recorded by ``xle record``, the
same pipeline ``xle demo`` runs, with the demo's fee tier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.backtest.helpers import EXAMPLES, xle
from xle.config import demo_config_path
from xle.simulator import SimConfig, start_in_thread
from xle.store.reader import read_records
from xle.timeutil import format_ns


def _record(data: Path, seconds: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINBASE_")}
    with start_in_thread(SimConfig(seed=1, levels=40)) as sim:
        done = subprocess.run(
            [sys.executable, "-m", "xle.cli", "record", "--simulator", f"127.0.0.1:{sim.port}",
             "--duration", str(seconds), "--data", str(data)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_backtest_runs_both_examples_over_recorded_demo_data(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    _record(data, 6)
    times = [r.recv_ns for r in read_records(data).records()]
    start, end = format_ns(min(times)), format_ns(max(times))
    config = demo_config_path()
    runs = (
        ("taker_arbitrage.py:TakerArbitrage", ["--param", f"config={str(config)!r}"]),
        ("market_maker.py:MarketMaker", ["--param", "spread_bps=0.5", "--param", "size=0.001"]),
    )
    for spec, params in runs:
        result = xle(
            "backtest", f"{EXAMPLES / spec}", "--from", start, "--to", end, "--data", data,
            "--config", config, *params,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert "digest " in result.stdout
    rows = xle(
        "query", "select strategy, orders, fills from backtests order by strategy",
        "--data", data, "-f", "json",
    )  # fmt: skip
    assert rows.exit_code == 0, rows.stderr
    mm, taker = json.loads(rows.stdout)
    assert (mm["strategy"], taker["strategy"]) == ("MarketMaker", "TakerArbitrage")
    assert mm["orders"] > 0
