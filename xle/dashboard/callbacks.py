"""Dash callbacks: the browser polls, the server answers with only what changed.

Pollers share the work: ``tick`` (fast, ~400 ms) refreshes the books (ladders, BBO,
depth, imbalance gauge) and extends the time series by the history frames the page has
not drawn yet (``extendData``); ``slow-tick`` (1 s) refreshes the market list, integrity
events and the episode table. Each keeps a small cursor in a ``dcc.Store`` -- the last
frame drawn, the generation of the state, the market and theme the figures were built
for -- and rebuilds a figure only when one of those changed (new market, new theme, a
venue appeared, a replay scrub reset the state). Everything else is a ``Patch``.

Every value a callback receives is checked on the server against what the page could
have sent (a depth among :data:`LADDER_DEPTHS`, a speed among the offered ones, a finite
positive VWAP size, a known market and theme, a scrub position inside the replay): a
crafted POST to ``/_dash-update-component`` gets the default or a clamp, never a
ladder a billion rows deep.

The two heavy pollers are gated in the browser: a tick only starts a request when the
previous one has answered. Dash drops the answer of a request that a newer one of the
same callback overtook, so on a busy machine an ungated poll slower than the interval
would be overtaken forever and the page would freeze; gated, it just updates less often.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dash import Dash, Input, Output, Patch, State, html, no_update

from xle.dashboard import figures, panels
from xle.dashboard.history import EpisodeHistory
from xle.dashboard.sessions import ReplaySession, Session
from xle.dashboard.state import DEFAULT_HISTORY, DashboardState

__all__ = ["LADDER_DEPTHS", "MAX_VWAP_SIZE", "SPEEDS", "register_callbacks", "speed_value"]

#: Ladder depths the page offers; any other value is replaced by the default.
LADDER_DEPTHS = (10, 15, 20)
DEFAULT_DEPTH = 15
#: Replay speeds the page offers (multiples of real time, or "max").
SPEEDS = ["1", "10", "60", "600", "max"]
#: The largest VWAP size accepted, in base units: beyond any book's depth, so a bigger
#: one could only say "insufficient" at more cost.
MAX_VWAP_SIZE = 1e9

#: Seconds an arbitrage toast stays up, and how many show at once.
TOAST_SECONDS = 8.0
MAX_TOASTS = 2
#: Levels read per side for the depth chart (the ladder shows fewer).
DEPTH_LEVELS = 50

#: Clientside gate: pass a tick on only if the channel's last request has answered (or has
#: been pending for more than 5 s, i.e. was lost).
_GATE = """
function(n) {
    const gates = window.xleGates || (window.xleGates = {});
    const now = Date.now();
    const gate = gates["%(channel)s"];
    if (gate && gate.pending && now - gate.at < 5000) {
        return window.dash_clientside.no_update;
    }
    gates["%(channel)s"] = {pending: true, at: now};
    return n;
}
"""
_OPEN_GATE = """
function(cursor) {
    const gates = window.xleGates || (window.xleGates = {});
    gates["%(channel)s"] = {pending: false, at: Date.now()};
    return cursor ? cursor.poll : null;
}
"""

_TOGGLE_THEME = """
function(n, theme) { return theme === 'light' ? 'dark' : 'light'; }
"""
_APPLY_THEME = """
function(theme) {
    const t = theme === 'light' ? 'light' : 'dark';
    document.documentElement.setAttribute('data-theme', t);
    return t === 'light' ? '☾' : '☀';
}
"""


def speed_value(speed: float | None) -> str:
    """A replay speed as the speed dropdown names it: ``None`` -> ``"max"``, 10.0 -> ``"10"``."""
    return "max" if speed is None else f"{speed:g}"


# --------------------------------------------------------------------------- input checks


def _depth(value: Any) -> int:
    return value if value in LADDER_DEPTHS and isinstance(value, int) else DEFAULT_DEPTH


def _theme(value: Any) -> str:
    return value if isinstance(value, str) and value in figures.THEMES else "dark"


def _market(state: DashboardState, value: Any) -> str | None:
    return value if isinstance(value, str) and value in state.markets() else None


def _cursor(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _finite(value: Any) -> float | None:
    """A finite float from a number or numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _places(state: DashboardState, keys: Sequence[tuple[str, str]]) -> dict[Any, tuple[int, int]]:
    """(tick places, lot places) per book, read off the levels the engine holds."""
    out = {}
    with state.lock:
        for key in keys:
            view = state.engine.book_view(key[0], key[1], DEPTH_LEVELS)
            out[key] = (panels.price_places(view), panels.lot_places(view))
    return out


def register_callbacks(
    app: Dash, session: Session, history: EpisodeHistory, speeds: Sequence[str] = SPEEDS
) -> None:
    state = session.state
    app.clientside_callback(
        _TOGGLE_THEME,
        Output("theme", "data"),
        Input("theme-toggle", "n_clicks"),
        State("theme", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _APPLY_THEME, Output("theme-toggle", "children"), Input("theme", "data")
    )
    for channel in ("books", "series"):
        app.clientside_callback(
            _GATE % {"channel": channel},
            Output(f"{channel}-poll", "data"),
            Input("tick", "n_intervals"),
        )
        app.clientside_callback(
            _OPEN_GATE % {"channel": channel},
            Output(f"{channel}-done", "data"),
            Input(f"{channel}-cursor", "data"),
        )
    _register_markets(app, state)
    _register_books(app, session)
    _register_series(app, state)
    _register_slow(app, state, history)
    _register_vwap(app, state)
    if isinstance(session, ReplaySession):
        _register_replay(app, session, speeds)


# --------------------------------------------------------------------------- markets


def _register_markets(app: Dash, state: DashboardState) -> None:
    @app.callback(
        Output("market", "options"),
        Output("market", "value"),
        Input("slow-tick", "n_intervals"),
        State("market", "options"),
        State("market", "value"),
    )
    def markets(_n: int | None, options: list[dict[str, str]] | None, value: str | None):
        found = state.markets()
        fresh = [{"label": m, "value": m} for m in found]
        chosen = value if value in found else (found[0] if found else None)
        return (
            fresh if fresh != (options or []) else no_update,
            chosen if chosen != value else no_update,
        )


# --------------------------------------------------------------------------- books


def _register_books(app: Dash, session: Session) -> None:
    state = session.state
    # A replay's clock is the replay's time (the scrubbed-to or played-to T, also before
    # the first record after it); live, it is the time of the last record.
    replay = session if isinstance(session, ReplaySession) else None

    @app.callback(
        Output("ladders", "children"),
        Output("bbo", "children"),
        Output("depth-chart", "figure"),
        Output("imb-gauge", "figure"),
        Output("clock", "children"),
        Output("stats", "children"),
        Output("feed-status", "children"),
        Output("books-cursor", "data"),
        Input("books-poll", "data"),
        Input("market", "value"),
        Input("theme", "data"),
        Input("ladder-depth", "value"),
        State("books-cursor", "data"),
    )
    def books(poll, market, theme, depth, cursor):
        depth, market, theme = _depth(depth), _market(state, market), _theme(theme)
        keys = state.books_of(market)
        with state.lock:
            engine = state.engine
            views = [engine.book_view(ex, sym, max(depth, DEPTH_LEVELS)) for ex, sym in keys]
            imbalances = [engine.imbalance(ex, sym)[0] for ex, sym in keys]
            now_ns = state.counters.last_recv_ns
            records = state.counters.records
        labels = [f"{ex}:{sym}" for ex, sym in keys]
        ladders: Any = [
            panels.ladder(view, label, depth, now_ns)
            for view, label in zip(views, labels, strict=True)
        ] or html.Div("waiting for books…", className="empty")
        ladder_pairs = [(view.bids, view.asks) if view is not None else ([], []) for view in views]
        structure = {"market": market, "theme": theme, "books": labels}
        cursor = _cursor(cursor)
        if cursor.get("structure") != structure:
            places = {
                k: (panels.price_places(v), panels.lot_places(v))
                for k, v in zip(keys, views, strict=True)
            }
            depth_fig: Any = figures.depth_figure(theme, keys, ladder_pairs, places)
            gauge: Any = figures.imbalance_gauge(theme, keys, imbalances)
        else:
            depth_fig = Patch()
            for i, (xs, ys) in enumerate(figures.depth_data(ladder_pairs)):
                depth_fig["data"][i]["x"] = xs
                depth_fig["data"][i]["y"] = ys
            gauge = Patch()
            palette = figures.theme_of(theme)
            for i, value in enumerate(imbalances):
                color = palette.bid if (value or 0.0) >= 0 else palette.ask
                gauge["data"][i]["value"] = value if value is not None else 0.0
                gauge["data"][i]["gauge"]["bar"]["color"] = color
                gauge["data"][i]["number"]["font"]["color"] = color
        status = [
            html.Span(
                [
                    html.Span(className=f"venue-dot v-{label.partition(':')[0]}"),
                    label.partition(":")[0],
                ],
                className=f"chip {'ok' if v is not None and v.status == 'synced' else 'bad'}",
                title=f"{label}: {v.status if v is not None else 'no book'}",
            )
            for label, v in zip(labels, views, strict=True)
        ]
        rate = state.records_per_second()
        stats = f"{records:,} rec · {rate:,.0f}/s"
        return (
            ladders,
            panels.bbo_table(list(zip(labels, views, strict=True))),
            depth_fig,
            gauge,
            panels.clock_text(replay.position_ns if replay else now_ns).removesuffix(" UTC"),
            stats,
            status,
            {"structure": structure, "poll": poll},
        )


# --------------------------------------------------------------------------- time series


def _extend(xs: list[list[float]], ys: list[list[Any]]) -> Any:
    if not ys:
        return no_update
    return [{"x": xs, "y": ys}, list(range(len(ys))), DEFAULT_HISTORY]


def _register_series(app: Dash, state: DashboardState) -> None:
    @app.callback(
        Output("mid-chart", "figure"),
        Output("mid-chart", "extendData"),
        Output("gap-chart", "figure"),
        Output("gap-chart", "extendData"),
        Output("imb-chart", "figure"),
        Output("imb-chart", "extendData"),
        Output("toasts", "children"),
        Output("series-cursor", "data"),
        Input("series-poll", "data"),
        Input("market", "value"),
        Input("theme", "data"),
        State("series-cursor", "data"),
    )
    def series(poll, market, theme, cursor):
        cursor, market, theme = _cursor(cursor), _market(state, market), _theme(theme)
        keys = state.books_of(market)
        pairs = state.pairs_of(market)
        threshold = state.engine.config.arb_threshold_bps
        structure = {
            "generation": state.generation,
            "market": market,
            "theme": theme,
            "books": [list(k) for k in keys],
            "pairs": [list(p) for p in pairs],
        }
        out: list[Any] = [no_update] * 6
        fills = state.fills
        fills_ns = cursor.get("fills_ns") if isinstance(cursor.get("fills_ns"), int) else None
        if cursor.get("structure") != structure:
            frames = state.frames_after(0)
            upto = frames[-1].t_ns if frames else None
            shown = fills.between(None, upto) if fills is not None and upto else []
            out[0] = figures.mid_spread_figure(
                theme, keys, frames, _places(state, keys), shown if fills is not None else None
            )
            out[2] = figures.gap_figure(theme, pairs, frames, threshold)
            out[4] = figures.imbalance_history(theme, keys, frames)
            fills_ns = upto
        else:
            frame = cursor.get("frame", 0)
            frames = state.frames_after(frame if isinstance(frame, int) else 0)
            if frames:
                xs, ys = figures.mid_spread_rows(keys, frames)
                if fills is not None:
                    # The markers of the fills the replay reached since the last poll.
                    upto = frames[-1].t_ns
                    fxs, fys, ftext = figures.fill_rows(keys, fills.between(fills_ns, upto))
                    out[1] = [
                        {"x": xs + fxs, "y": ys + fys, "customdata": [[]] * len(ys) + ftext},
                        list(range(len(ys) + 2)),
                        DEFAULT_HISTORY,
                    ]
                    fills_ns = upto
                else:
                    out[1] = _extend(xs, ys)
                out[3] = _extend(*figures.gap_rows(pairs, frames, threshold))
                out[5] = _extend(*figures.imbalance_rows(keys, frames))
        last = frames[-1].frame_id if frames else cursor.get("frame", 0)
        toasts, shown_toasts = _toasts(state, cursor.get("toasts"))
        cursor.update(
            structure=structure, frame=last, toasts=shown_toasts, poll=poll, fills_ns=fills_ns
        )
        return (*out, toasts, cursor)


def _toasts(state: DashboardState, shown: list[int] | None) -> tuple[Any, list[int]]:
    """Toasts of the episodes opened in the last few seconds (newest first)."""
    import time

    now = time.monotonic()
    recent = [a for a in state.alerts_after(0) if now - a.wall < TOAST_SECONDS]
    recent = recent[-MAX_TOASTS:][::-1]
    ids = [a.alert_id for a in recent]
    if ids == (shown or []):
        return no_update, ids
    toasts = []
    for alert in recent:
        ep = alert.episode
        keys = [tuple(v.split(":", 1)) for v in (ep.buy_venue, ep.sell_venue)]
        lot = max(lot for _, lot in _places(state, keys).values())
        toasts.append(panels.toast(ep, alert.alert_id, lot))
    return toasts, ids


# --------------------------------------------------------------------------- slow panels


def _register_slow(app: Dash, state: DashboardState, history: EpisodeHistory) -> None:
    @app.callback(
        Output("integrity", "children"),
        Output("arb-table", "rowData"),
        Output("arb-note", "children"),
        Output("slow-cursor", "data"),
        Input("slow-tick", "n_intervals"),
        State("slow-cursor", "data"),
    )
    def slow(_n, cursor):
        cursor = _cursor(cursor)
        integrity_key = [state.generation, state.integrity_version]
        events: Any = no_update
        if cursor.get("integrity") != integrity_key:
            events = panels.integrity_list(state.integrity_events(100))
        rows = panels.align_sizes(history.rows(state.episodes()))
        signature = [len(rows), *(f"{r['key']}|{r['status']}|{r['source']}" for r in rows[:50])]
        table: Any = no_update
        if cursor.get("episodes") != signature:
            table = rows
        n_open = sum(1 for r in rows if r["status"] == "open")
        note = history.error or f"{len(rows)} episodes · {n_open} open"
        cursor.update(integrity=integrity_key, episodes=signature)
        return events, table, note, cursor


# --------------------------------------------------------------------------- VWAP


def _register_vwap(app: Dash, state: DashboardState) -> None:
    @app.callback(
        Output("vwap-out", "children"),
        Input("books-poll", "data"),
        Input("vwap-size", "value"),
        Input("vwap-side", "value"),
        Input("market", "value"),
    )
    def vwap(_n, size, side, market):
        amount = _finite(size)
        if amount is None or amount <= 0.0 or amount > MAX_VWAP_SIZE:
            got = "nothing" if size in (None, "") else repr(size)
            return html.Div(
                f"enter a size above 0 and up to {MAX_VWAP_SIZE:,.0f} base units (got {got})",
                className="empty vwap-invalid",
            )
        side = "sell" if side == "sell" else "buy"
        keys = state.books_of(_market(state, market))
        places = _places(state, keys)
        with state.lock:
            engine = state.engine
            results = [
                (f"{ex}:{sym}", engine.vwap(ex, sym, side, amount), *places[(ex, sym)])
                for ex, sym in keys
            ]
        return panels.vwap_table(results, side, amount)


# --------------------------------------------------------------------------- replay controls


def _register_replay(app: Dash, session: ReplaySession, speeds: Sequence[str]) -> None:
    span_s = max(1e-3, (session.end_ns - session.start_ns) / 1e9)
    step = span_s / 10_000

    def label() -> str:
        return "❚❚ pause" if session.playing else "▶ play"

    @app.callback(
        Output("replay-time", "children"),
        Output("replay-scrub", "value"),
        Output("scrub-shadow", "data"),
        Output("replay-play", "children"),
        Input("tick", "n_intervals"),
        State("replay-scrub", "value"),
        State("replay-scrub", "drag_value"),
    )
    def progress(_n, value, drag_value):
        session.viewer_connected()  # a page is polling: a replay held for it may start
        position = session.position_ns
        offset = (position - session.start_ns) / 1e9
        dragging = drag_value is not None and value is not None and drag_value != value
        text = f"{panels.day_time(position)} / {panels.day_time(session.end_ns)}"
        if session.loading:
            text += " · loading"
        elif session.finished:
            text += " · end"
        # Leave the slider alone when it already shows the position (a paused replay):
        # ``scrub`` waits for this request to answer (its input is our output), and
        # writing the old position back would undo a click made meanwhile.
        if dragging or (value is not None and abs(float(value) - offset) <= step):
            return text, no_update, no_update, label()
        return text, offset, offset, label()

    @app.callback(
        Output("replay-play", "children", allow_duplicate=True),
        Input("replay-play", "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle(_n):
        if session.playing:
            session.pause()
        else:
            session.play()
        return label()

    @app.callback(
        Output("replay-ack", "data"),
        Input("replay-speed", "value"),
        prevent_initial_call=True,
    )
    def speed(value):
        if value not in speeds:
            return no_update
        session.set_speed(None if value == "max" else float(value))
        return value

    @app.callback(
        Output("replay-ack", "data", allow_duplicate=True),
        Input("replay-scrub", "value"),
        State("scrub-shadow", "data"),
        prevent_initial_call=True,
    )
    def scrub(value, shadow):
        offset, shadow = _finite(value), _finite(shadow)
        if offset is None or (shadow is not None and abs(offset - shadow) <= step):
            return no_update
        offset = min(span_s, max(0.0, offset))
        session.seek(session.start_ns + int(offset * 1e9))
        return offset
