"""Plotly figures of the dashboard, drawn in the page's theme.

The CSS themes (``assets/xle.css``) and these palettes name the same colours; figures get
a transparent background so the panel's CSS colour shows through, and everything else
(fonts, grid, sides, venues) comes from :data:`THEMES`. Each time-series builder fixes the
order of its traces from the (books, pairs) it is given, and :func:`series_rows` turns
new history frames into ``extendData`` in that same order, so the browser only ever
receives the points it has not drawn yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xle._native.book import format_decimal
from xle.dashboard.state import BookKey, Frame, PairKey

if TYPE_CHECKING:
    from xle.dashboard.fills import FillMark

__all__ = [
    "THEMES",
    "Figure",
    "Places",
    "Theme",
    "depth_data",
    "depth_figure",
    "gap_figure",
    "gap_rows",
    "imbalance_gauge",
    "imbalance_history",
    "imbalance_rows",
    "mid_spread_figure",
    "mid_spread_rows",
    "theme_of",
    "venue_color",
]


@dataclass(frozen=True)
class Theme:
    name: str
    text: str
    muted: str
    grid: str
    zero: str
    bid: str
    ask: str
    accent: str
    hover_bg: str
    venues: dict[str, str]


THEMES: dict[str, Theme] = {
    "dark": Theme(
        name="dark",
        text="#c9d1d9",
        muted="#7d8590",
        grid="#1f262e",
        zero="#30363d",
        bid="#0ecb81",
        ask="#f6465d",
        accent="#f0b90b",
        hover_bg="#161b22",
        venues={"binance": "#f0b90b", "binanceus": "#3dd6c6", "coinbase": "#5b8def"},
    ),
    "light": Theme(
        name="light",
        text="#1f2328",
        muted="#656d76",
        grid="#e8eaed",
        zero="#d0d7de",
        bid="#03a66d",
        ask="#cf304a",
        accent="#b7791f",
        hover_bg="#ffffff",
        venues={"binance": "#c99400", "binanceus": "#0f9d8f", "coinbase": "#1652f0"},
    ),
}

_FALLBACK_VENUES = ("#a371f7", "#ff7b72", "#79c0ff", "#d2a8ff")
_MONO = "JetBrains Mono, SFMono-Regular, Menlo, Consolas, monospace"


def theme_of(name: str | None) -> Theme:
    return THEMES.get(name or "dark", THEMES["dark"])


def venue_color(theme: Theme, exchange: str, index: int = 0) -> str:
    return theme.venues.get(exchange) or _FALLBACK_VENUES[index % len(_FALLBACK_VENUES)]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _label(key: BookKey) -> str:
    return f"{key[0]}:{key[1]}"


Figure = dict[str, Any]
"""A plotly figure as plain JSON-ready dicts: building ``go.Figure`` objects validates
every property and costs far more, which a 400 ms poll cannot afford."""


def _axis(theme: Theme, **extra: Any) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "gridcolor": theme.grid,
        "zerolinecolor": theme.zero,
        "linecolor": theme.grid,
        "tickfont": {"family": _MONO, "size": 10, "color": theme.muted},
        "title": {"font": {"size": 9, "color": theme.muted}},
        "showspikes": False,
        "automargin": True,
    }
    axis.update(extra)
    return axis


def _time_axis(theme: Theme, **extra: Any) -> dict[str, Any]:
    return _axis(theme, type="date", tickformat="%H:%M:%S", hoverformat="%H:%M:%S.%L", **extra)


def _layout(theme: Theme, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": _MONO, "size": 10, "color": theme.text},
        "margin": {"l": 8, "r": 10, "t": 18, "b": 4},
        "showlegend": True,
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.0,
            "yanchor": "bottom",
            "font": {"size": 9, "color": theme.muted},
            "bgcolor": "rgba(0,0,0,0)",
        },
        "hoverlabel": {
            "bgcolor": theme.hover_bg,
            "bordercolor": theme.zero,
            "font": {"family": _MONO, "size": 10, "color": theme.text},
        },
        "hovermode": "x unified",
        "uirevision": "keep",
    }
    layout.update(extra)
    return layout


def _line(x: list[Any], y: list[Any], name: str, color: str, **extra: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "name": name,
        "line": {"color": color, "width": 1.3},
        "hovertemplate": "%{y:.6~r}<extra>" + name + "</extra>",
    }
    trace.update(extra)
    return trace


#: Decimal places per book: (tick, lot). Hover labels round computed figures with them
#: (a mid to half a tick, a cumulative size to the lot) so that no float noise shows.
Places = Mapping[BookKey, tuple[int, int]]
_DEFAULT_PLACES = (2, 8)

#: Hover formats of computed figures (d3-format): bps to two decimals, imbalance to three.
BPS_HOVER = "%{y:.2f}"
IMBALANCE_HOVER = "%{y:+.3f}"


def _tick(places: Places | None, key: BookKey) -> int:
    return (places or {}).get(key, _DEFAULT_PLACES)[0]


def _lot(places: Places | None, key: BookKey) -> int:
    return (places or {}).get(key, _DEFAULT_PLACES)[1]


def _ms(frame: Frame) -> float:
    return frame.t_ns / 1e6


# --------------------------------------------------------------------------- mid and spread


def mid_spread_figure(
    theme_name: str,
    books: Sequence[BookKey],
    frames: Sequence[Frame],
    places: Places | None = None,
    fills: Sequence[FillMark] | None = None,
) -> Figure:
    """Mid per venue (top) and spread in bps (bottom); traces: mids, then spreads, then
    (with ``fills``, a backtest's) buy and sell markers at each fill's price.

    A mid is half a tick finer than the book, so it is shown to one more decimal place.
    """
    theme = theme_of(theme_name)
    xs, columns = mid_spread_rows(books, frames)
    data = []
    for i, key in enumerate(books):
        color = venue_color(theme, key[0], i)
        mid_format = f"%{{y:,.{_tick(places, key) + 1}~f}}"
        data.append(
            _line(
                xs[i],
                columns[i],
                _label(key),
                color,
                legendgroup=_label(key),
                hovertemplate=f"{mid_format}<extra>{_label(key)}</extra>",
            )
        )
    for i, key in enumerate(books):
        color = venue_color(theme, key[0], i)
        n = len(books) + i
        data.append(
            _line(
                xs[n],
                columns[n],
                f"{_label(key)} spread bps",
                color,
                legendgroup=_label(key),
                showlegend=False,
                xaxis="x2",
                yaxis="y2",
                line={"color": color, "width": 1},
                hovertemplate=f"{BPS_HOVER} bps<extra>{_label(key)}</extra>",
            )
        )
    if fills is not None:
        fill_xs, fill_ys, fill_text = fill_rows(books, fills)
        for i, (side, symbol, color) in enumerate(
            (("buy", "triangle-up", theme.bid), ("sell", "triangle-down", theme.ask))
        ):
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": fill_xs[i],
                    "y": fill_ys[i],
                    "customdata": fill_text[i],
                    "name": f"backtest {side}s",
                    "marker": {"symbol": symbol, "size": 9, "color": color,
                               "line": {"width": 1, "color": theme.text}},
                    "hovertemplate": "%{customdata}<extra>backtest</extra>",
                }
            )  # fmt: skip
    layout = _layout(
        theme,
        xaxis=_time_axis(theme, matches="x2", showticklabels=False, domain=[0, 1]),
        yaxis=_axis(theme, domain=[0.36, 1], tickformat="~r", title={"text": "mid"}),
        xaxis2=_time_axis(theme, anchor="y2", domain=[0, 1]),
        yaxis2=_axis(theme, domain=[0, 0.3], tickformat="~r", title={"text": "spr bps"}),
    )
    return {"data": data, "layout": layout}


def mid_spread_rows(
    books: Sequence[BookKey], frames: Sequence[Frame]
) -> tuple[list[list[float]], list[list[float | None]]]:
    """(x per trace, y per trace) for :func:`mid_spread_figure`'s trace order."""
    x = [_ms(f) for f in frames]
    mids: list[list[float | None]] = []
    spreads: list[list[float | None]] = []
    for key in books:
        samples = [f.books.get(key) for f in frames]
        mids.append([s.mid if s is not None else None for s in samples])
        spreads.append([s.spread_bps if s is not None else None for s in samples])
    columns = mids + spreads
    return [x] * len(columns), columns


def fill_rows(
    books: Sequence[BookKey], fills: Sequence[FillMark]
) -> tuple[list[list[float]], list[list[float]], list[list[str]]]:
    """(x, y, hover text) of the buy and the sell marker traces: the fills of ``books``."""
    shown = set(books)
    xs: list[list[float]] = [[], []]
    ys: list[list[float]] = [[], []]
    text: list[list[str]] = [[], []]
    for fill in fills:
        if (fill.exchange, fill.symbol) not in shown:
            continue
        i = 0 if fill.side == "buy" else 1
        xs[i].append(fill.t_ns / 1e6)
        ys[i].append(fill.price)
        text[i].append(
            f"{fill.side} {fill.qty} @ {format_decimal(fill.price)} {fill.exchange}:{fill.symbol}"
        )
    return xs, ys, text


# --------------------------------------------------------------------------- arbitrage gap


def _pair_label(pair: PairKey) -> str:
    return f"{pair[1].partition(':')[0]}→{pair[2].partition(':')[0]}"


def gap_figure(
    theme_name: str, pairs: Sequence[PairKey], frames: Sequence[Frame], threshold_bps: float
) -> Figure:
    """Net edge after fees per (buy, sell) pair with the threshold; above it is highlighted.

    Traces: one line per pair ("buy A → sell B"), then one "opportunity" overlay per pair
    holding only the points above the threshold (thick, in the bid colour).
    """
    theme = theme_of(theme_name)
    xs, columns = gap_rows(pairs, frames, threshold_bps)
    data = []
    for i, pair in enumerate(pairs):
        color = venue_color(theme, pair[1].partition(":")[0], i)
        dash = "solid" if pair[1] < pair[2] else "dot"
        data.append(
            _line(
                xs[i],
                columns[i],
                _pair_label(pair),
                color,
                line={"color": color, "width": 1.2, "dash": dash},
                hovertemplate=f"{BPS_HOVER} bps<extra>{_pair_label(pair)}</extra>",
            )
        )
    for i, pair in enumerate(pairs):
        n = len(pairs) + i
        data.append(
            _line(
                xs[n],
                columns[n],
                f"{_pair_label(pair)} opportunity",
                theme.bid,
                mode="lines+markers",
                showlegend=False,
                connectgaps=False,
                line={"color": theme.bid, "width": 3},
                marker={"color": theme.bid, "size": 4},
                hovertemplate=f"{BPS_HOVER} bps<extra>above threshold</extra>",
            )
        )
    layout = _layout(
        theme,
        xaxis=_time_axis(theme),
        yaxis=_axis(theme, tickformat="~r", title={"text": "net edge bps"}),
        shapes=[
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": threshold_bps,
                "y1": threshold_bps,
                "line": {"color": theme.accent, "width": 1, "dash": "dash"},
            }
        ],
        annotations=[
            {
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "yref": "y",
                "y": threshold_bps,
                "yanchor": "bottom",
                "showarrow": False,
                "text": f"threshold {threshold_bps:g} bps",
                "font": {"size": 9, "color": theme.accent},
            }
        ],
    )
    return {"data": data, "layout": layout}


def gap_rows(
    pairs: Sequence[PairKey], frames: Sequence[Frame], threshold_bps: float
) -> tuple[list[list[float]], list[list[float | None]]]:
    x = [_ms(f) for f in frames]
    lines: list[list[float | None]] = []
    above: list[list[float | None]] = []
    for pair in pairs:
        values = [f.edges.get(pair) for f in frames]
        lines.append(values)
        above.append([v if v is not None and v > threshold_bps else None for v in values])
    columns = lines + above
    return [x] * len(columns), columns


# --------------------------------------------------------------------------- imbalance


def _gauge_colors(theme: Theme, value: float | None) -> str:
    return theme.bid if (value or 0.0) >= 0 else theme.ask


def imbalance_gauge(
    theme_name: str, books: Sequence[BookKey], values: Sequence[float | None]
) -> Figure:
    """One horizontal bullet gauge per venue, -1 (asks heavy) to +1 (bids heavy)."""
    theme = theme_of(theme_name)
    n = max(1, len(books))
    data = []
    for i, key in enumerate(books):
        value = values[i] if i < len(values) else None
        color = _gauge_colors(theme, value)
        top = 1 - i / n
        data.append(
            {
                "type": "indicator",
                "mode": "number+gauge",
                "value": value if value is not None else 0.0,
                "number": {
                    "valueformat": "+.3f",
                    "font": {"size": 12, "family": _MONO, "color": color},
                },
                "title": {
                    "text": key[0],
                    "font": {"size": 10, "color": venue_color(theme, key[0], i)},
                },
                "domain": {"x": [0.26, 0.8], "y": [top - 0.8 / n, top - 0.15 / n]},
                "gauge": {
                    "shape": "bullet",
                    "axis": {"range": [-1, 1], "visible": False},
                    "bar": {"color": color, "thickness": 0.6},
                    "bgcolor": "rgba(0,0,0,0)",
                    "borderwidth": 0,
                    "steps": [
                        {"range": [-1, 0], "color": _rgba(theme.ask, 0.12)},
                        {"range": [0, 1], "color": _rgba(theme.bid, 0.12)},
                    ],
                    "threshold": {
                        "line": {"color": theme.muted, "width": 1},
                        "thickness": 1,
                        "value": 0,
                    },
                },
            }
        )
    layout = {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": _MONO, "color": theme.text},
        "margin": {"l": 6, "r": 6, "t": 4, "b": 4},
        "uirevision": "keep",
    }
    return {"data": data, "layout": layout}


def imbalance_history(theme_name: str, books: Sequence[BookKey], frames: Sequence[Frame]) -> Figure:
    theme = theme_of(theme_name)
    xs, columns = imbalance_rows(books, frames)
    data = [
        _line(
            xs[i],
            columns[i],
            key[0],
            venue_color(theme, key[0], i),
            hovertemplate=f"{IMBALANCE_HOVER}<extra>{key[0]}</extra>",
        )
        for i, key in enumerate(books)
    ]
    layout = _layout(
        theme,
        showlegend=False,
        margin={"l": 8, "r": 10, "t": 4, "b": 4},
        xaxis=_time_axis(theme),
        yaxis=_axis(theme, range=[-1.05, 1.05], tickvals=[-1, -0.5, 0, 0.5, 1], zeroline=True),
    )
    return {"data": data, "layout": layout}


def imbalance_rows(
    books: Sequence[BookKey], frames: Sequence[Frame]
) -> tuple[list[list[float]], list[list[float | None]]]:
    x = [_ms(f) for f in frames]
    columns = []
    for key in books:
        samples = [f.books.get(key) for f in frames]
        columns.append([s.imbalance if s is not None else None for s in samples])
    return [x] * len(columns), columns


# --------------------------------------------------------------------------- depth


def depth_figure(
    theme_name: str,
    books: Sequence[BookKey],
    ladders: Sequence[tuple[list[tuple[float, float]], list[tuple[float, float]]]],
    places: Places | None = None,
) -> Figure:
    """Cumulative size against price per venue: bids step down-left, asks up-right."""
    theme = theme_of(theme_name)
    data = []
    for i, key in enumerate(books):
        hover = f"%{{x:.{_tick(places, key)}f}} · %{{y:,.{_lot(places, key)}~f}}"
        bids, asks = ladders[i] if i < len(ladders) else ([], [])
        color = venue_color(theme, key[0], i)
        bx, by = _cumulative(bids)
        ax, ay = _cumulative(asks)
        data.append(
            _line(
                bx,
                by,
                key[0],
                color,
                line={"color": color, "width": 1.3, "shape": "hv"},
                fill="tozeroy",
                fillcolor=_rgba(theme.bid, 0.10),
                legendgroup=key[0],
                hovertemplate=f"{hover}<extra>{key[0]} bids</extra>",
            )
        )
        data.append(
            _line(
                ax,
                ay,
                f"{key[0]} asks",
                color,
                showlegend=False,
                legendgroup=key[0],
                line={"color": color, "width": 1.3, "shape": "hv"},
                fill="tozeroy",
                fillcolor=_rgba(theme.ask, 0.10),
                hovertemplate=f"{hover}<extra>{key[0]} asks</extra>",
            )
        )
    layout = _layout(
        theme,
        hovermode="closest",
        xaxis=_axis(theme, tickformat="~r"),
        yaxis=_axis(theme, tickformat="~s", title={"text": "cum. size"}),
    )
    return {"data": data, "layout": layout}


def _cumulative(levels: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    total = 0.0
    for price, qty in levels:
        total += qty
        xs.append(price)
        ys.append(total)
    return xs, ys


def depth_data(
    ladders: Sequence[tuple[list[tuple[float, float]], list[tuple[float, float]]]],
) -> list[tuple[list[float], list[float]]]:
    """(x, y) per depth trace, in :func:`depth_figure`'s order (bids, asks per venue)."""
    out: list[tuple[list[float], list[float]]] = []
    for bids, asks in ladders:
        out.append(_cumulative(bids))
        out.append(_cumulative(asks))
    return out
