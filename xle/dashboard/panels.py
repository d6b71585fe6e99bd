"""HTML pieces of the dashboard built from engine state: ladders, BBO, VWAP, events, toasts.

Prices and sizes are printed with :func:`xle._native.book.format_decimal`, i.e. the
exchange's own decimal strings, so what the ladder shows is exactly what the engine
holds. Size bars are a CSS gradient whose width comes from a ``--w`` custom property.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dash import html

from xle._native.book import format_decimal
from xle.analytics.engine import BookView
from xle.records import ArbitrageEpisode, IntegrityEvent, VwapResult

__all__ = [
    "bbo_table",
    "clock_text",
    "episode_rows",
    "format_computed",
    "integrity_list",
    "ladder",
    "short_time",
    "toast",
    "vwap_table",
]

Level = tuple[float, float]


def short_time(ns: int | None, millis: bool = True) -> str:
    if ns is None:
        return "—"
    moment = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    text = moment.strftime("%H:%M:%S")
    return f"{text}.{(ns // 1_000_000) % 1000:03d}" if millis else text


def day_time(ns: int | None) -> str:
    """``03:00:12.345`` (UTC, milliseconds)."""
    return short_time(ns) if ns is not None else "—"


def clock_text(ns: int | None) -> str:
    """Record time as ``2021-10-12 00:30:15.123 UTC``."""
    if ns is None:
        return "waiting for data"
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{(ns // 1_000_000) % 1000:03d} UTC"


def _fmt(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _dot(color_class: str) -> html.Span:
    return html.Span(className=f"venue-dot {color_class}")


# --------------------------------------------------------------------------- ladders


def ladder(view: BookView | None, label: str, depth: int, now_ns: int | None) -> html.Div:
    """One venue's book: bids and asks side by side, best first, with size bars."""
    exchange, _, symbol = label.partition(":")
    bids: Sequence[Level] = view.bids[:depth] if view is not None else []
    asks: Sequence[Level] = view.asks[:depth] if view is not None else []
    status = view.status if view is not None else "unsynced"
    biggest = max([q for _, q in bids] + [q for _, q in asks] + [0.0]) or 1.0
    rows = []
    for i in range(depth):
        bid = bids[i] if i < len(bids) else None
        ask = asks[i] if i < len(asks) else None
        rows.append(
            html.Tr(
                [
                    _cell(bid[1] if bid else None, "bid-qty qty", biggest),
                    html.Td(format_decimal(bid[0]) if bid else "", className="bid-px px"),
                    html.Td(format_decimal(ask[0]) if ask else "", className="ask-px px"),
                    _cell(ask[1] if ask else None, "ask-qty qty", biggest),
                ],
                className="lad-row",
            )
        )
    spread = ""
    if bids and asks:
        best_bid, best_ask = bids[0][0], asks[0][0]
        mid = (best_bid + best_ask) / 2
        width = best_ask - best_bid
        spread = f"spread {format_decimal(round(width, 10))} · {width / mid * 1e4:.2f} bps"
    age = ""
    if view is not None and view.last_recv_ns is not None and now_ns is not None:
        age = f"updated {max(0.0, (now_ns - view.last_recv_ns) / 1e9):.1f}s ago"
    header = html.Div(
        [
            _dot(f"v-{exchange}"),
            html.Span(exchange, className="lad-venue"),
            html.Span(symbol, className="lad-symbol"),
            html.Span(status, className=f"badge badge-{status}"),
        ],
        className="lad-head",
    )
    footer = html.Div(
        [
            html.Span(spread, className="lad-spread"),
            html.Span(age, className="lad-age", title="record time since the last update"),
        ],
        className="lad-foot",
    )
    table = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("size", className="qty"),
                        html.Th("bid", className="px"),
                        html.Th("ask", className="px"),
                        html.Th("size", className="qty"),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="lad-table",
    )
    return html.Div([header, table, footer], className="ladder", **{"data-book": label})


def _cell(qty: float | None, classes: str, biggest: float) -> html.Td:
    if qty is None:
        return html.Td("", className=classes)
    width = f"{min(100.0, qty / biggest * 100):.1f}%"
    return html.Td(format_decimal(qty), className=classes, style={"--w": width})


# --------------------------------------------------------------------------- consolidated BBO


def bbo_table(views: Sequence[tuple[str, BookView | None]]) -> html.Div:
    """Best bid/ask per venue with the consolidated best of each side highlighted."""
    tops = []
    for label, view in views:
        bid = view.bids[0] if view is not None and view.bids else None
        ask = view.asks[0] if view is not None and view.asks else None
        tops.append((label, bid, ask, view.status if view is not None else "unsynced"))
    synced = [t for t in tops if t[3] == "synced"]
    best_bid = max((t[1][0] for t in synced if t[1]), default=None)
    best_ask = min((t[2][0] for t in synced if t[2]), default=None)
    rows = [
        html.Tr(
            [
                html.Th("venue"),
                html.Th("bid size", className="num"),
                html.Th("bid", className="num"),
                html.Th("ask", className="num"),
                html.Th("ask size", className="num"),
                html.Th("spr bps", className="num"),
            ]
        )
    ]
    for label, bid, ask, status in tops:
        exchange = label.partition(":")[0]
        spr = None
        if bid and ask:
            spr = (ask[0] - bid[0]) / ((ask[0] + bid[0]) / 2) * 1e4
        bid_best = status == "synced" and bid is not None and bid[0] == best_bid
        ask_best = status == "synced" and ask is not None and ask[0] == best_ask
        rows.append(
            html.Tr(
                [
                    html.Td([_dot(f"v-{exchange}"), label], className="venue"),
                    html.Td(format_decimal(bid[1]) if bid else "—", className="num muted"),
                    html.Td(
                        format_decimal(bid[0]) if bid else "—",
                        className="num bid" + (" best" if bid_best else ""),
                    ),
                    html.Td(
                        format_decimal(ask[0]) if ask else "—",
                        className="num ask" + (" best" if ask_best else ""),
                    ),
                    html.Td(format_decimal(ask[1]) if ask else "—", className="num muted"),
                    html.Td(_fmt(spr), className="num"),
                ],
                className="" if status == "synced" else "unsynced",
            )
        )
    summary: list[Any] = []
    if best_bid is not None and best_ask is not None:
        mid = (best_bid + best_ask) / 2
        gap = (best_ask - best_bid) / mid * 1e4
        crossed = best_bid >= best_ask
        summary = [
            html.Span("consolidated", className="muted"),
            html.Span(format_decimal(best_bid), className="bid"),
            html.Span("/", className="muted"),
            html.Span(format_decimal(best_ask), className="ask"),
            html.Span(
                f"crossed by {-gap:.2f} bps before fees" if crossed else f"spread {gap:.2f} bps",
                className="crossed" if crossed else "muted",
            ),
        ]
    return html.Div(
        [html.Table(rows, className="data-table"), html.Div(summary, className="bbo-summary")]
    )


# --------------------------------------------------------------------------- VWAP


def format_computed(value: float) -> str:
    """A price xle computed (not one the exchange sent), to 10 significant digits.

    A VWAP is a float quotient: its last digits are arithmetic noise
    (``60008.160276099996``), so the page shows ``60008.16028`` and keeps the exact
    float in the cell's tooltip.
    """
    return format_decimal(float(f"{value:.10g}"))


def vwap_table(results: Sequence[tuple[str, VwapResult]], side: str) -> html.Div:
    """Effective price per venue for one size, as the engine computed it.

    The best venue (cheapest to buy, richest to sell) among those that fill the whole
    size is marked; a venue that cannot fill it shows how much it could.
    """
    full = [r.price for _, r in results if r.price is not None and not r.insufficient]
    best = (min(full) if side == "buy" else max(full)) if full else None
    rows = [
        html.Tr(
            [
                html.Th("venue"),
                html.Th("vwap", className="num"),
                html.Th("filled", className="num"),
                html.Th("slip bps", className="num"),
            ]
        )
    ]
    for label, res in results:
        exchange = label.partition(":")[0]
        venue: list[Any] = [_dot(f"v-{exchange}"), exchange]
        if res.insufficient:
            venue.append(
                html.Div(
                    f"insufficient depth: {format_decimal(res.filled)} of "
                    f"{format_decimal(res.size)}",
                    className="vwap-warn warn",
                )
            )
        is_best = best is not None and res.price == best and not res.insufficient
        price_class = f"num vwap-price {'bid' if side == 'sell' else 'ask'}"
        rows.append(
            html.Tr(
                [
                    html.Td(venue, className="venue", title=label),
                    html.Td(
                        format_computed(res.price) if res.price is not None else "—",
                        className=price_class + (" best" if is_best else ""),
                        title=(repr(res.price) if res.price is not None else "")
                        + (" · best venue for this size" if is_best else ""),
                    ),
                    html.Td(
                        format_decimal(res.filled),
                        className="num vwap-filled" + (" warn-text" if res.insufficient else ""),
                    ),
                    html.Td(
                        _fmt(res.slippage_bps, 3),
                        className="num vwap-slip",
                        title=repr(res.slippage_bps),
                    ),
                ],
                **{"data-book": label},
            )
        )
    note = html.Div(
        f"{side} walks the {'asks' if side == 'buy' else 'bids'} from the best level; "
        "slippage is the VWAP's distance from it",
        className="vwap-note muted small",
    )
    return html.Div([html.Table(rows, className="data-table vwap-table"), note])


# --------------------------------------------------------------------------- integrity


def integrity_list(events: Sequence[IntegrityEvent]) -> html.Div:
    if not events:
        return html.Div("no integrity events", className="empty")
    rows = [
        html.Tr(
            [
                html.Td(short_time(e.recv_ns), className="num muted"),
                html.Td(html.Span(e.kind, className=f"kind kind-{e.kind}")),
                html.Td(f"{e.exchange}:{e.symbol}" if e.symbol else e.exchange),
                html.Td(e.detail, className="detail", title=e.detail),
            ],
            className="integrity-row",
        )
        for e in events
    ]
    return html.Div(html.Table(rows, className="data-table events-table"))


# --------------------------------------------------------------------------- alerts


def toast(episode: ArbitrageEpisode, alert_id: int) -> html.Div:
    """The banner shown when an arbitrage episode opens."""
    return html.Div(
        [
            html.Div(
                [html.Span("ARB OPEN", className="toast-tag"), html.Span(episode.market)],
                className="toast-title",
            ),
            html.Div(
                [
                    html.Span("buy ", className="muted"),
                    html.Span(episode.buy_venue, className="ask"),
                    html.Span(" → sell ", className="muted"),
                    html.Span(episode.sell_venue, className="bid"),
                ]
            ),
            html.Div(
                f"net edge {episode.edge_bps:+.2f} bps · size "
                f"{format_decimal(round(episode.executable_size, 12))} · "
                f"at {short_time(episode.start_ns)}",
                className="muted",
            ),
        ],
        className="toast",
        key=f"alert-{alert_id}",
        **{"data-alert": str(alert_id)},
    )


# --------------------------------------------------------------------------- episode table


EPISODE_COLUMNS: list[dict[str, Any]] = [
    {"id": "start", "name": "start (UTC)"},
    {"id": "buy", "name": "buy on"},
    {"id": "sell", "name": "sell on"},
    {"id": "peak_bps", "name": "peak bps", "type": "numeric"},
    {"id": "duration_s", "name": "dur s", "type": "numeric"},
    {"id": "size", "name": "size", "type": "numeric"},
    {"id": "profit", "name": "profit", "type": "numeric"},
    {"id": "status", "name": "status"},
    {"id": "close", "name": "close"},
    {"id": "market", "name": "market"},
    {"id": "source", "name": "src"},
]


def episode_rows(
    episodes: Sequence[ArbitrageEpisode | dict[str, Any]], source: str
) -> list[dict[str, Any]]:
    """Table rows from engine episodes or DuckDB rows (dicts with the same field names)."""
    rows = []
    for ep in episodes:
        get = ep.get if isinstance(ep, dict) else lambda k, e=ep: getattr(e, k)
        start = get("start_ns")
        duration = get("duration_ns")
        rows.append(
            {
                "key": f"{get('market')}|{get('buy_venue')}|{get('sell_venue')}|{start}",
                "start_ns": start,
                "start": clock_text(start).removesuffix(" UTC"),
                "market": get("market"),
                "buy": get("buy_venue"),
                "sell": get("sell_venue"),
                "status": get("status"),
                "duration_s": round(duration / 1e9, 3) if duration is not None else None,
                "peak_bps": round(get("peak_edge_bps"), 2),
                "size": round(get("executable_size"), 8),
                "profit": round(get("profit"), 4),
                "close": get("close_reason") or "",
                "source": source,
            }
        )
    return rows
