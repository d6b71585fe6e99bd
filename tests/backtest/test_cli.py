"""``xle backtest`` end to end on copies of the golden log, and the backtest views."""

from __future__ import annotations

import json
from pathlib import Path

from tests.backtest.helpers import EXAMPLES, GOLDEN_RANGE, golden_copy, xle
from xle.cli.backtest import parse_balances, parse_latencies, parse_params

TAKER = f"{EXAMPLES / 'taker_arbitrage.py'}:TakerArbitrage"
START, END = GOLDEN_RANGE


def _run_dir(root: Path) -> Path:
    (run,) = sorted((root / "derived" / "backtests").glob("run=*"))
    return run


def test_backtest_prints_the_summary_and_writes_the_run_and_its_report(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    result = xle("backtest", TAKER, "--from", START, "--to", END, "--data", root)
    assert result.exit_code == 0, result.stderr
    assert "orders 6 (0 rejected), fills 6, fill ratio 100.00%" in result.stdout
    assert "digest " in result.stdout
    run = _run_dir(root)
    for name in ("orders", "fills", "positions", "equity", "mids", "summary"):
        assert (run / f"{name}.parquet").is_file()
    assert f"run {run.name.removeprefix('run=')}: {run}" in result.stdout
    assert f"report {run / 'report.html'}" in result.stdout
    assert (run / "report.html").stat().st_size > 1_000_000  # plotly.js inline


def test_backtest_results_are_queryable_by_run(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    assert xle("backtest", TAKER, "--from", START, "--to", END, "--data", root).exit_code == 0
    run = _run_dir(root).name.removeprefix("run=")
    by_run = xle(
        "query", "select run, count(*) as n from fills group by run", "--data", root, "-f", "json"
    )
    assert by_run.exit_code == 0, by_run.stderr
    assert json.loads(by_run.stdout) == [{"run": run, "n": 6}]
    summary = xle(
        "query", "select run, strategy, fills, digest from backtests", "--data", root, "-f", "json"
    )
    (row,) = json.loads(summary.stdout)
    assert (row["run"], row["strategy"], row["fills"]) == (run, "TakerArbitrage", 6)
    joined = xle(
        "query",
        "select o.side, sum(f.qty) as qty from orders o join fills f using (run, order_id) "
        "group by o.side order by o.side",
        "--data",
        root,
        "-f",
        "json",
    )
    assert [(r["side"], float(r["qty"])) for r in json.loads(joined.stdout)] == [
        ("buy", 0.9),
        ("sell", 0.9),
    ]


def test_backtest_views_are_empty_when_no_backtest_ran(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    for view in ("orders", "fills", "positions", "equity", "backtests"):
        result = xle("query", f"select count(*) as n, count(run) from {view}", "--data", root)
        assert result.exit_code == 0, result.stderr
        assert "│ 0 " in result.stdout


def test_the_same_run_again_replaces_its_folder(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    for _ in range(2):
        assert xle("backtest", TAKER, "--from", START, "--to", END, "--data", root).exit_code == 0
    assert len(list((root / "derived" / "backtests").glob("run=*"))) == 1


def test_no_write_prints_the_summary_and_writes_nothing(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    result = xle("backtest", TAKER, "--from", START, "--to", END, "--data", root, "--no-write")
    assert result.exit_code == 0, result.stderr
    assert "fills 6" in result.stdout
    assert not (root / "derived" / "backtests").exists()


def test_report_option_puts_the_report_where_asked(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    target = tmp_path / "out" / "r.html"
    result = xle(
        "backtest", TAKER, "--from", START, "--to", END, "--data", root, "--report", target
    )
    assert result.exit_code == 0, result.stderr
    assert target.is_file()
    assert f"report {target}" in result.stdout


def test_params_balance_and_latency_reach_the_run(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    result = xle(
        "backtest", TAKER, "--from", START, "--to", END, "--data", root, "--no-write",
        "--param", "max_size=0.1", "--latency", "coinbase=50ms", "--latency", "1ms",
        "--balance", "binance:USDT=100000", "--balance", "coinbase:BTC=1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "params max_size=0.1" in result.stdout
    assert "orders 6 (0 rejected)" in result.stdout


def test_a_strategy_raising_in_a_callback_is_one_line_and_exit_1(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    strategy = tmp_path / "broken.py"
    strategy.write_text(
        "from xle.backtesting import Strategy\n\n"
        "class Broken(Strategy):\n"
        "    def on_start(self, ctx):\n"
        "        ctx.subscribe('binance', 'BTCUSDT', events=('book',))\n\n"
        "    def on_book(self, ctx, book):\n"
        "        raise RuntimeError('no edge today')\n"
    )
    result = xle("backtest", f"{strategy}:Broken", "--from", START, "--to", END, "--data", root)
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: strategy failed in on_book at 2024-01-02T03:00:")
    assert line.endswith("(broken.py:8): RuntimeError: no edge today")


def test_a_bad_order_from_the_strategy_is_reported_as_the_strategys_failure(
    tmp_path: Path,
) -> None:
    root = golden_copy(tmp_path)
    strategy = tmp_path / "zero.py"
    strategy.write_text(
        "from xle.backtesting import Strategy\n\n"
        "class Zero(Strategy):\n"
        "    def on_start(self, ctx):\n"
        "        ctx.buy('binance', 'BTCUSDT', 0)\n"
    )
    result = xle("backtest", f"{strategy}:Zero", "--from", START, "--to", END, "--data", root)
    assert result.exit_code == 1
    assert "strategy failed in on_start" in result.stderr
    assert "UsageError: qty must be positive, not 0" in result.stderr


def test_command_line_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    cases = {
        ("nofile.py:X",): "strategy file not found: nofile.py",
        (f"{EXAMPLES / 'taker_arbitrage.py'}:Nope",): "has no Strategy subclass 'Nope'",
        (TAKER, "--param", "oops"): "--param expects NAME=VALUE, not 'oops'",
        (TAKER, "--param", "bogus=1"): "unexpected keyword argument 'bogus'",
        (TAKER, "--balance", "binance=1"): "--balance expects VENUE:ASSET=AMOUNT",
        (TAKER, "--latency", "binance=fast"): "not a duration: 'fast'",
    }
    for args, message in cases.items():
        result = xle("backtest", *args, "--from", START, "--to", END, "--data", root)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1
    bad_time = xle("backtest", TAKER, "--from", "yesterday", "--to", END, "--data", root)
    assert bad_time.exit_code == 2 and bad_time.stderr.startswith("error: --from/--to:")
    missing = xle("backtest", TAKER, "--from", START, "--to", END, "--data", tmp_path / "none")
    assert missing.exit_code == 2 and "data directory not found" in missing.stderr


def test_params_are_python_literals_else_strings() -> None:
    assert parse_params(["a=1", "b=0.5", "c=binance:BTCUSDT", "d='x'", "e=[1, 2]"]) == {
        "a": 1,
        "b": 0.5,
        "c": "binance:BTCUSDT",
        "d": "x",
        "e": [1, 2],
    }


def test_a_latency_without_a_venue_applies_to_every_venue() -> None:
    assert parse_latencies(["5ms", "coinbase=entry=5ms,feed=1ms", "entry=2ms,response=1ms"]) == {
        "*": "entry=2ms,response=1ms",
        "coinbase": "entry=5ms,feed=1ms",
    }


def test_balances_are_grouped_by_venue() -> None:
    assert parse_balances(["binance:USDT=10", "binance:BTC=1", "coinbase:USD=5"]) == {
        "binance": {"USDT": "10", "BTC": "1"},
        "coinbase": {"USD": "5"},
    }
    assert parse_balances(None) is None


def test_an_unwritable_result_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    (root / "derived").write_text("a file where the folder should be")
    result = xle("backtest", TAKER, "--from", START, "--to", END, "--data", root)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write the backtest result to {root}/derived")
    assert len(result.stderr.splitlines()) == 1
