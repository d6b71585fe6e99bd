"""The HTML report of a backtest: equity, balances and fills over the mids, one file.

Three panels share the time axis so a drawdown, the inventory behind it and the fills
that built it line up. The file embeds plotly.js: it opens offline and can be mailed.
Hover text shows exchange values as their exact decimal strings and computed figures
rounded (``xle.numfmt``): equity to the cent, mids to half a tick of the traded prices.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from xle.backtesting.results import BacktestResult, plain
from xle.config import EngineConfig, load_config
from xle.numfmt import max_decimals, trimmed

__all__ = ["PANEL_TITLES", "write_report"]

PANEL_TITLES: tuple[str, str, str] = (
    "Equity (USD, marked to mid)",
    "Balances per venue and asset",
    "Fills over the mids",
)

_BUY, _SELL = "#2ca02c", "#d62728"


def _times(values: list[int]) -> list[datetime]:
    return [datetime.fromtimestamp(ns / 1e9, tz=UTC) for ns in values]


def _stamp(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S") + (
        f".{ns % 1_000_000_000:09d}"
    )


def _rows(table: pa.Table | None) -> list[dict]:
    return [] if table is None else table.to_pylist()


def write_report(
    result: BacktestResult, path: str | Path, config: EngineConfig | None = None
) -> Path:
    """Write the report to ``path`` (parents created) and return it."""
    from plotly.subplots import make_subplots

    config = config or load_config()
    figure = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=PANEL_TITLES,
        specs=[[{}], [{"secondary_y": True}], [{}]],
    )

    equity = _rows(result.equity)
    marked = [r for r in equity if r["equity"] is not None]
    figure.add_scatter(
        x=_times([r["t_ns"] for r in marked]),
        y=[r["equity"] for r in marked],
        customdata=[[_stamp(r["t_ns"]), trimmed(r["equity"], 2)] for r in marked],
        hovertemplate="%{customdata[0]}<br>equity %{customdata[1]} USD<extra></extra>",
        mode="lines",
        name="equity",
        line={"color": "#1f77b4"},
        row=1,
        col=1,
    )

    series: dict[tuple[str, str], list[dict]] = {}
    for row in _rows(result.positions):
        series.setdefault((row["exchange"], row["asset"]), []).append(row)
    for (exchange, asset), rows in sorted(series.items()):
        usd = config.is_usd(asset)
        figure.add_scatter(
            x=_times([r["t_ns"] for r in rows]),
            y=[float(r["balance"]) for r in rows],
            customdata=[[_stamp(r["t_ns"]), plain(Decimal(r["balance"]))] for r in rows],
            hovertemplate=(
                f"%{{customdata[0]}}<br>{exchange} {asset} %{{customdata[1]}}<extra></extra>"
            ),
            mode="lines",
            line={"shape": "hv", "dash": "dot" if usd else "solid"},
            name=f"{exchange} {asset}",
            row=2,
            col=1,
            secondary_y=usd,
        )

    fills = _rows(result.fills)
    books = sorted({(f["exchange"], f["symbol"]) for f in fills})
    mids: dict[tuple[str, str], list[dict]] = {}
    for row in _rows(result.mids):
        key = (row["exchange"], row["symbol"])
        if key in books or not books:
            mids.setdefault(key, []).append(row)
    for key, rows in sorted(mids.items()):
        prices = [plain(Decimal(f["price"])) for f in fills if (f["exchange"], f["symbol"]) == key]
        places = max_decimals(prices, default=1) + 1  # a mid is at most half a tick off
        figure.add_scatter(
            x=_times([r["t_ns"] for r in rows]),
            y=[r["mid"] for r in rows],
            customdata=[[_stamp(r["t_ns"]), trimmed(r["mid"], places)] for r in rows],
            hovertemplate=(
                f"%{{customdata[0]}}<br>{key[0]}:{key[1]} mid %{{customdata[1]}}<extra></extra>"
            ),
            mode="lines",
            line={"width": 1},
            name=f"mid {key[0]}:{key[1]}",
            row=3,
            col=1,
        )
    for side, color, symbol in (("buy", _BUY, "triangle-up"), ("sell", _SELL, "triangle-down")):
        chosen = [f for f in fills if f["side"] == side]
        if not chosen:
            continue
        figure.add_scatter(
            x=_times([f["venue_ns"] for f in chosen]),
            y=[float(f["price"]) for f in chosen],
            customdata=[
                [
                    _stamp(f["venue_ns"]),
                    f"{f['exchange']}:{f['symbol']}",
                    plain(Decimal(f["qty"])),
                    plain(Decimal(f["price"])),
                    f"{plain(Decimal(f['fee']))} {f['fee_asset']}",
                    f["liquidity"],
                    f["order_id"],
                ]
                for f in chosen
            ],
            hovertemplate=(
                f"%{{customdata[0]}}<br>{side} %{{customdata[2]}} %{{customdata[1]}} "
                "@ %{customdata[3]}<br>fee %{customdata[4]} (%{customdata[5]}), "
                "order %{customdata[6]}<extra></extra>"
            ),
            mode="markers",
            marker={"color": color, "symbol": symbol, "size": 9},
            name=f"{side} fills",
            row=3,
            col=1,
        )

    summary = result.summary
    title = f"Backtest {summary.get('strategy', '')}"
    if result.run_id:
        title += f" (run {result.run_id})"
    figure.update_layout(
        title={"text": title + "<br><sup>" + " | ".join(result.summary_lines()[-2:-1]) + "</sup>"},
        height=1000,
        hovermode="closest",
        legend={"orientation": "h", "y": -0.05},
        template="plotly_white",
    )
    figure.update_yaxes(title_text="USD", row=1, col=1)
    figure.update_yaxes(title_text="base assets", row=2, col=1, secondary_y=False)
    figure.update_yaxes(title_text="USD assets", row=2, col=1, secondary_y=True)
    figure.update_yaxes(title_text="price", row=3, col=1)
    from xle.store.fs import ObjectPath

    if isinstance(path, ObjectPath):  # beside the run's files on object storage: one upload
        path.write_bytes(figure.to_html(include_plotlyjs=True, full_html=True).encode())
        return path  # type: ignore[return-value]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(target, include_plotlyjs=True, full_html=True)
    return target
