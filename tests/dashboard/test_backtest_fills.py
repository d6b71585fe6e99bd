"""A backtest's fills over the replay (``xle dashboard --replay … --backtest RUN``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import xle
from xle.dashboard import DashboardServer, create_app
from xle.dashboard.figures import fill_rows, mid_spread_figure
from xle.dashboard.fills import FillMark, load_fills
from xle.errors import DataError

from .conftest import GOLDEN, T1_NS, eventually, make_replay, new_page
from .pages import figure

BTC = ("binance", "BTCUSDT")


class TwoTakes(xle.Strategy):
    """Buys, then sells, a little BTCUSDT once its book is synced."""

    def __init__(self) -> None:
        self.balances = {"binance": {"USDT": "1000000", "BTC": "10"}}
        self.sent = 0

    def on_start(self, ctx) -> None:
        ctx.subscribe(*BTC, events=("book",))

    def on_book(self, ctx, book) -> None:
        if book.synced and self.sent < 2:
            self.sent += 1
            (ctx.buy if self.sent == 1 else ctx.sell)(*BTC, "0.1")


@pytest.fixture
def backtested(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "golden"
    shutil.copytree(GOLDEN, root)
    result = xle.backtest(TwoTakes(), xle.open(root), write=True)
    assert result.fills.num_rows == 2
    return root, result.run_id


def test_fills_of_a_written_run_load_in_time_order(backtested) -> None:
    root, run = backtested
    fills = load_fills(root, run)
    assert [(m.side, m.qty) for m in fills.marks] == [("buy", "0.1"), ("sell", "0.1")]
    assert fills.between(None, fills.marks[0].t_ns) == fills.marks[:1]
    assert fills.between(fills.marks[0].t_ns, T1_NS) == fills.marks[1:]


def test_an_unknown_run_is_a_one_line_error_listing_the_runs(backtested) -> None:
    root, run = backtested
    with pytest.raises(DataError, match=f"no backtest run 'nope'.*runs: {run}"):
        load_fills(root, "nope")


def test_the_mid_chart_gets_a_buy_and_a_sell_marker_trace_for_its_books() -> None:
    marks = [
        FillMark(1_000_000, "binance", "BTCUSDT", "buy", 42001.0, "0.1"),
        FillMark(2_000_000, "binance", "BTCUSDT", "sell", 42000.5, "0.1"),
        FillMark(3_000_000, "coinbase", "BTC-USD", "sell", 42010.0, "1"),
    ]
    fig = mid_spread_figure("dark", [BTC], [], None, marks)
    buys, sells = fig["data"][-2:]
    assert (buys["x"], buys["y"]) == ([1.0], [42001.0])
    assert (sells["x"], sells["y"]) == ([2.0], [42000.5])
    assert sells["customdata"] == ["sell 0.1 @ 42000.5 binance:BTCUSDT"]
    xs, _, _ = fill_rows([("coinbase", "BTC-USD")], marks)
    assert xs == [[], [3.0]]


def test_cli_refuses_an_unknown_backtest_run_in_one_line(backtested) -> None:
    from typer.testing import CliRunner

    from xle.cli import app

    root, run = backtested
    args = ["dashboard", "--replay", "--data", str(root), "--backtest", "nope",
            "--from", "2024-01-02T03:00:00Z", "--to", "2024-01-02T03:01:00Z"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: no backtest run 'nope'")
    assert run in result.stderr and "\n" not in result.stderr.strip()


@pytest.mark.browser
def test_the_replay_draws_the_fills_once_it_reaches_them(backtested, browser) -> None:
    root, run = backtested
    session = make_replay(root, speed=None, playing=True)
    session.state.fills = load_fills(root, run)
    server = DashboardServer(create_app(session), "127.0.0.1", 0).start()
    page = new_page(browser)
    try:
        page.goto(server.url)

        def markers() -> list[int] | None:
            fig = figure(page, "mid-chart")
            if not fig:
                return None
            named = {t.get("name"): len(t["x"]) for t in fig["data"]}
            found = [named.get("backtest buys"), named.get("backtest sells")]
            return found if found == [1, 1] else None

        assert eventually(markers, timeout=20)
    finally:
        page.context.close()
        server.stop()
        session.stop()
