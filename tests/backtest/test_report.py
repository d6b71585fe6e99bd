"""The HTML report: one self-contained file with the three panels."""

from __future__ import annotations

from pathlib import Path

from tests.backtest.helpers import GOLDEN_RANGE, example, golden_copy
from xle.backtesting import backtest
from xle.backtesting.report import PANEL_TITLES, write_report
from xle.numfmt import trimmed


def test_report_is_one_self_contained_file_with_the_three_panels(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    result = backtest(example("taker_arbitrage").TakerArbitrage(), root, *GOLDEN_RANGE)
    target = write_report(result, tmp_path / "deep" / "report.html")
    html = target.read_text("utf-8")
    for title in PANEL_TITLES:
        assert title in html
    assert "<script src=" not in html  # plotly.js is inline: the file opens offline
    assert "Plotly.newPlot" in html


def test_report_hover_text_shows_exact_fills_and_rounded_figures(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    result = backtest(example("taker_arbitrage").TakerArbitrage(), root, *GOLDEN_RANGE)
    html = write_report(result, tmp_path / "report.html").read_text("utf-8")
    fill = result.fills.to_pylist()[0]
    assert f'"{fill["exchange"]}:{fill["symbol"]}"' in html
    assert f'"{fill["qty"].normalize()}"' in html  # exact, as the exchange wrote it
    for value in result.equity.column("equity").to_pylist():
        if value is not None:
            assert f'"{trimmed(value, 2)}"' in html  # to the cent
