"""The Dash app: layout of one dense trading screen, built around a live or replay session.

Nothing in the page holds state that matters: the session's engine and histories live on
the server (``state.py``), the browser polls them every ``tick_ms`` and patches what
changed. The theme is a ``data-theme`` attribute on ``<html>`` switching CSS variables,
stored in ``localStorage`` by a ``dcc.Store`` so that it survives reloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash_ag_grid as dag
from dash import Dash, dcc, html

from xle.dashboard.callbacks import register_callbacks
from xle.dashboard.history import EpisodeHistory
from xle.dashboard.panels import EPISODE_COLUMNS
from xle.dashboard.sessions import ReplaySession, Session

__all__ = ["create_app"]

ASSETS = Path(__file__).parent / "assets"

#: The episode grid: AG Grid's Balham, dense, its colours taken from the page's CSS
#: variables so the theme toggle restyles it without a re-render.
_GRID_THEME = (
    "themeBalham.withParams({"
    "backgroundColor: 'var(--panel)', foregroundColor: 'var(--text)', "
    "headerBackgroundColor: 'var(--panel-2)', headerTextColor: 'var(--muted)', "
    "borderColor: 'var(--border)', rowHoverColor: 'var(--hover)', "
    "oddRowBackgroundColor: 'var(--panel-alt)', accentColor: 'var(--accent)', "
    "fontFamily: 'var(--mono)', fontSize: 11, headerFontSize: 10, spacing: 3, "
    "wrapperBorderRadius: 0, rowHeight: 21, headerHeight: 24, "
    "inputBackgroundColor: 'var(--panel-2)', inputTextColor: 'var(--text)', "
    "menuBackgroundColor: 'var(--panel)', menuTextColor: 'var(--text)'})"
)

_SPEEDS = [
    {"label": "1×", "value": "1"},
    {"label": "10×", "value": "10"},
    {"label": "60×", "value": "60"},
    {"label": "600×", "value": "600"},
    {"label": "max", "value": "max"},
]


def _panel(title: str, body: Any, area: str, extra: Any = None) -> html.Section:
    head = [html.H2(title)]
    if extra is not None:
        head.append(html.Div(extra, className="panel-tools"))
    return html.Section(
        [html.Div(head, className="panel-head"), html.Div(body, className="panel-body")],
        className=f"panel area-{area}",
    )


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id,
        className="chart",
        config={"displayModeBar": False, "responsive": True},
        style={"height": "100%", "width": "100%"},
    )


def _replay_controls(session: ReplaySession) -> html.Div:
    speeds = list(_SPEEDS)
    if _speed_value(session.speed) not in {o["value"] for o in speeds}:
        label = f"{session.speed:g}×"
        speeds.insert(0, {"label": label, "value": _speed_value(session.speed)})
    span_s = max(1e-3, (session.end_ns - session.start_ns) / 1e9)
    return html.Div(
        [
            html.Button("▶ play", id="replay-play", className="btn btn-play", n_clicks=0),
            dcc.Dropdown(
                id="replay-speed",
                options=speeds,
                value=_speed_value(session.speed),
                clearable=False,
                searchable=False,
                className="speed-select",
            ),
            html.Div(
                dcc.Slider(
                    id="replay-scrub",
                    min=0.0,
                    max=span_s,
                    step=span_s / 10_000,
                    value=0.0,
                    marks=None,
                    updatemode="mouseup",
                    tooltip=None,
                    allow_direct_input=False,
                ),
                className="scrub",
            ),
            html.Span(id="replay-time", className="replay-time mono"),
            dcc.Store(id="scrub-shadow", data=0.0),
            dcc.Store(id="replay-ack"),
        ],
        className="replay-controls",
    )


def _speed_value(speed: float | None) -> str:
    return "max" if speed is None else f"{speed:g}"


def _header(session: Session) -> html.Header:
    mode = session.mode
    badge = html.Span(
        [html.Span(className="pulse"), "LIVE" if mode == "live" else "REPLAY"],
        className=f"mode mode-{mode}",
    )
    items: list[Any] = [
        html.Div(
            [
                html.Span("xle", className="logo"),
                html.Span("liquidity engine", className="tagline"),
            ],
            className="brand",
        ),
        badge,
        dcc.Dropdown(
            id="market",
            options=[],
            value=None,
            clearable=False,
            searchable=False,
            placeholder="market",
            className="market-select",
        ),
    ]
    if isinstance(session, ReplaySession):
        items.append(_replay_controls(session))
    items += [
        html.Div(className="spacer"),
        html.Div(
            id="feed-status",
            className="feed-status",
            # In a replay the ladders' badges say it; the bar needs the room for controls.
            style={"display": "none"} if mode == "replay" else None,
        ),
        html.Span(id="clock", className="clock mono", title="record time of the engine"),
        html.Span(id="stats", className="stats mono"),
        html.Button(
            "☀",
            id="theme-toggle",
            className="btn btn-theme",
            n_clicks=0,
            title="switch dark / light theme",
        ),
    ]
    return html.Header(items, className="topbar")


def _vwap_inputs(default_size: float) -> html.Div:
    return html.Div(
        [
            dcc.RadioItems(
                id="vwap-side",
                options=[{"label": "buy", "value": "buy"}, {"label": "sell", "value": "sell"}],
                value="buy",
                inline=True,
                className="seg side-toggle",
            ),
            dcc.Input(
                id="vwap-size",
                type="number",
                value=default_size,
                min=0,
                step="any",
                placeholder="size (base units)",
                debounce=True,
                className="size-input mono",
            ),
        ],
        className="vwap-inputs",
    )


def create_app(
    session: Session,
    *,
    history: EpisodeHistory | None = None,
    tick_ms: int = 400,
    slow_ms: int = 1000,
    ladder_depth: int = 15,
) -> Dash:
    """The dashboard for ``session``; serve ``app.server`` (a Flask app) on 127.0.0.1."""
    app = Dash(
        __name__,
        assets_folder=str(ASSETS),
        title="xle · dashboard",
        update_title=None,
        serve_locally=True,
    )
    state = session.state
    default_size = state.engine.config.sizes_for(None)[0]
    threshold = state.engine.config.arb_threshold_bps
    grid = dag.AgGrid(
        id="arb-table",
        columnDefs=[
            {
                "field": c["id"],
                "headerName": c["name"],
                "type": "rightAligned" if c.get("type") == "numeric" else None,
                "filter": "agNumberColumnFilter" if c.get("type") == "numeric" else True,
                "cellDataType": "number" if c.get("type") == "numeric" else "text",
            }
            for c in EPISODE_COLUMNS
        ],
        rowData=[],
        getRowId="params.data.key",
        defaultColDef={
            "sortable": True,
            "resizable": True,
            "floatingFilter": True,
            "minWidth": 60,
            "suppressHeaderMenuButton": True,
        },
        columnSize="autoSize",
        dashGridOptions={
            "theme": {"function": _GRID_THEME},
            "animateRows": False,
            "suppressCellFocus": True,
            "suppressColumnVirtualisation": True,
            "localeText": {
                "noRowsToShow": "no arbitrage episode: no net edge after taker fees "
                "has exceeded the threshold"
            },
            "rowClassRules": {"row-open": "params.data.status == 'open'"},
        },
        style={"height": "100%", "width": "100%"},
        className="arb-grid",
    )
    app.layout = html.Div(
        [
            dcc.Store(id="theme", storage_type="local", data="dark"),
            dcc.Store(id="series-cursor", data={}),
            dcc.Store(id="books-cursor", data={}),
            dcc.Store(id="slow-cursor", data={}),
            dcc.Store(id="books-poll"),
            dcc.Store(id="series-poll"),
            dcc.Store(id="books-done"),
            dcc.Store(id="series-done"),
            dcc.Interval(id="tick", interval=tick_ms),
            dcc.Interval(id="slow-tick", interval=slow_ms),
            _header(session),
            html.Main(
                [
                    _panel(
                        "Order books",
                        html.Div(id="ladders", className="ladders"),
                        "ladders",
                        dcc.RadioItems(
                            id="ladder-depth",
                            options=[{"label": str(n), "value": n} for n in (10, 15, 20)],
                            value=ladder_depth,
                            inline=True,
                            className="seg",
                        ),
                    ),
                    _panel("Consolidated best bid / ask", html.Div(id="bbo"), "bbo"),
                    _panel("Mid and spread", _graph("mid-chart"), "mid"),
                    _panel("Depth", _graph("depth-chart"), "depth"),
                    _panel(
                        "Arbitrage gap · net of taker fees",
                        _graph("gap-chart"),
                        "gap",
                        html.Span(f"threshold {threshold:g} bps", className="muted small"),
                    ),
                    _panel(
                        "Imbalance · top levels",
                        html.Div([_graph("imb-gauge"), _graph("imb-chart")], className="imb"),
                        "imb",
                    ),
                    _panel(
                        "VWAP",
                        html.Div(id="vwap-out", className="vwap-out"),
                        "vwap",
                        _vwap_inputs(default_size),
                    ),
                    _panel(
                        "Arbitrage episodes",
                        grid,
                        "arb",
                        html.Span(id="arb-note", className="muted small"),
                    ),
                    _panel("Integrity events", html.Div(id="integrity"), "integrity"),
                ],
                className="grid",
            ),
            html.Div(id="toasts", className="toasts"),
        ],
        id="root",
        className="xle",
    )
    register_callbacks(app, session, history or EpisodeHistory(None))
    return app
