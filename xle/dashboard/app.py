"""The Dash app: layout of one dense trading screen, built around a live or replay session.

Nothing in the page holds state that matters: the session's engine and histories live on
the server (``state.py``), the browser polls them every ``tick_ms`` and patches what
changed. The layout is built per page load, so a reloaded page's replay controls (play
or pause, speed, position) show what the replay is doing, not what it did at start-up.
The theme is a ``data-theme`` attribute on ``<html>`` switching CSS variables, stored in
``localStorage`` by a ``dcc.Store`` so that it survives reloads; the ladder depth and the
VWAP size and side are remembered the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash_ag_grid as dag
from dash import Dash, dcc, html

from xle.dashboard.callbacks import LADDER_DEPTHS, SPEEDS, register_callbacks, speed_value
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
    "wrapperBorderRadius: 0, rowHeight: 21, headerHeight: 24, cellHorizontalPadding: 6, "
    "inputBackgroundColor: 'var(--panel-2)', inputTextColor: 'var(--text)', "
    "menuBackgroundColor: 'var(--panel)', menuTextColor: 'var(--text)'})"
)


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


def _replay_controls(session: ReplaySession, speeds_allowed: list[str]) -> html.Div:
    speeds = [{"label": f"{v}×" if v != "max" else v, "value": v} for v in speeds_allowed]
    span_s = max(1e-3, (session.end_ns - session.start_ns) / 1e9)
    position = min(span_s, max(0.0, (session.position_ns - session.start_ns) / 1e9))
    return html.Div(
        [
            html.Button(
                "❚❚ pause" if session.playing else "▶ play",
                id="replay-play",
                className="btn btn-play",
                n_clicks=0,
            ),
            dcc.Dropdown(
                id="replay-speed",
                options=speeds,
                value=speed_value(session.speed),
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
                    value=position,
                    marks=None,
                    updatemode="mouseup",
                    tooltip=None,
                    allow_direct_input=False,
                ),
                className="scrub",
            ),
            html.Span(id="replay-time", className="replay-time mono"),
            dcc.Store(id="scrub-shadow", data=position),
            dcc.Store(id="replay-ack"),
        ],
        className="replay-controls",
    )


def _header(session: Session, speeds: list[str]) -> html.Header:
    mode = session.mode
    markets = session.state.markets()
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
            options=[{"label": m, "value": m} for m in markets],
            value=markets[0] if markets else None,
            clearable=False,
            searchable=False,
            placeholder="market",
            className="market-select",
        ),
    ]
    if isinstance(session, ReplaySession):
        items.append(_replay_controls(session, speeds))
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
                persistence=True,
                persistence_type="local",
            ),
            dcc.Input(
                id="vwap-size",
                type="number",
                value=default_size,
                min=0,
                step="any",
                placeholder="size (base units)",
                # Applied as you type, once typing pauses (not only on Enter or blur).
                debounce=0.35,
                persistence=True,
                persistence_type="local",
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
    if ladder_depth not in LADDER_DEPTHS:
        raise ValueError(f"ladder_depth must be one of {LADDER_DEPTHS}, got {ladder_depth}")
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
    speeds = list(SPEEDS)
    if isinstance(session, ReplaySession) and speed_value(session.speed) not in speeds:
        speeds.insert(0, speed_value(session.speed))  # the speed the replay was started at

    def layout() -> html.Div:
        return _layout(session, speeds, default_size, threshold, ladder_depth, tick_ms, slow_ms)

    # Dash calls a layout function on every page load: the controls show the session now.
    app.layout = layout
    register_callbacks(app, session, history or EpisodeHistory(None), speeds)
    return app


def _layout(
    session: Session,
    speeds: list[str],
    default_size: float,
    threshold: float,
    ladder_depth: int,
    tick_ms: int,
    slow_ms: int,
) -> html.Div:
    grid = dag.AgGrid(
        id="arb-table",
        columnDefs=EPISODE_COLUMNS,
        rowData=[],
        getRowId="params.data.key",
        defaultColDef={
            "sortable": True,
            "resizable": True,
            "floatingFilter": True,
            "filter": True,
            "cellDataType": "text",
            "minWidth": 44,
            "suppressHeaderMenuButton": True,
            # No funnel button beside each floating filter: it doubled the width of narrow
            # columns. Number filters mean "at least" (see panels.EPISODE_COLUMNS).
            "suppressFloatingFilterButton": True,
            "suppressHeaderFilterButton": True,
        },
        columnSize="responsiveSizeToFit",
        dashGridOptions={
            "theme": {"function": _GRID_THEME},
            "animateRows": False,
            "suppressCellFocus": True,
            "suppressColumnVirtualisation": True,
            "tooltipShowDelay": 300,
            "localeText": {
                "noRowsToShow": "no arbitrage episode: no net edge after taker fees "
                "has exceeded the threshold"
            },
            "rowClassRules": {"row-open": "params.data.status == 'open'"},
        },
        style={"height": "100%", "width": "100%"},
        className="arb-grid",
    )
    return html.Div(
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
            _header(session, speeds),
            html.Div(
                [
                    html.Span("alerts", className="alert-label"),
                    html.Div(id="toasts", className="toasts"),
                ],
                className="alert-bar",
                title="arbitrage episodes opened in the last few seconds",
            ),
            html.Main(
                [
                    _panel(
                        "Order books",
                        html.Div(id="ladders", className="ladders"),
                        "ladders",
                        dcc.RadioItems(
                            id="ladder-depth",
                            options=[{"label": str(n), "value": n} for n in LADDER_DEPTHS],
                            value=ladder_depth,
                            inline=True,
                            className="seg",
                            persistence=True,
                            persistence_type="local",
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
        ],
        id="root",
        className="xle",
    )
