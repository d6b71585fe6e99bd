"""HTML pieces of the dashboard built from engine state: ladders, BBO, VWAP, events, toasts.

Prices and sizes are printed with :func:`xle._native.book.format_decimal`, i.e. the
exchange's own decimal strings, so what the ladder shows is exactly what the engine
holds; a book's prices are only padded with zeros to its tick so that columns line up.
Figures xle computes (a VWAP, a spread in bps, a filled size) go through
:mod:`xle.numfmt`: prices to the book's tick, sizes to its lot, bps to two decimals.
Size bars are a CSS gradient whose width comes from a ``--w`` custom property.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dash import html

from xle import numfmt
from xle._native.book import format_decimal
from xle.analytics.engine import BookView
from xle.records import ArbitrageEpisode, IntegrityEvent, VwapResult

__all__ = [
    "CLOSE_REASONS",
    "EPISODE_COLUMNS",
    "align_sizes",
    "bbo_table",
    "bps_text",
    "clock_text",
    "episode_rows",
    "format_computed",
    "integrity_list",
    "ladder",
    "lot_places",
    "pad_price",
    "price_places",
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


def _dot(color_class: str) -> html.Span:
    return html.Span(className=f"venue-dot {color_class}")


def price_places(view: BookView | None) -> int:
    """The book's tick as decimal places, read off the prices it holds."""
    if view is None:
        return 0
    return numfmt.max_decimals(format_decimal(p) for p, _ in (*view.bids, *view.asks))


def lot_places(view: BookView | None) -> int:
    """The book's lot as decimal places, read off the sizes it holds."""
    if view is None:
        return 0
    return numfmt.max_decimals(format_decimal(q) for _, q in (*view.bids, *view.asks))


def pad_price(price: float, places: int) -> str:
    """The exchange's exact price padded with zeros to ``places``: ``60028.6`` -> ``60028.60``.

    Never rounds: a price finer than ``places`` keeps its digits.
    """
    text = format_decimal(price)
    have = numfmt.decimals(text)
    if have >= places:
        return text
    return f"{text}{'' if '.' in text else '.'}{'0' * (places - have)}"


def bps_text(value: float | None) -> str:
    """Basis points to two decimals; a nonzero value below 0.005 keeps two significant
    digits (``0.0017``) so that a tight spread never reads as ``0.00``."""
    if value is None:
        return "—"
    if value != 0 and abs(value) < 0.005:
        places = -math.floor(math.log10(abs(value))) + 1
        return numfmt.fixed(value, places)
    return numfmt.bps(value)


# --------------------------------------------------------------------------- ladders


def ladder(view: BookView | None, label: str, depth: int, now_ns: int | None) -> html.Div:
    """One venue's book: bids and asks side by side, best first, with size bars."""
    exchange, _, symbol = label.partition(":")
    bids: Sequence[Level] = view.bids[:depth] if view is not None else []
    asks: Sequence[Level] = view.asks[:depth] if view is not None else []
    status = view.status if view is not None else "unsynced"
    places = price_places(view)
    biggest = max([q for _, q in bids] + [q for _, q in asks] + [0.0]) or 1.0
    rows = []
    for i in range(depth):
        bid = bids[i] if i < len(bids) else None
        ask = asks[i] if i < len(asks) else None
        rows.append(
            html.Tr(
                [
                    _cell(bid[1] if bid else None, "bid-qty qty", biggest),
                    html.Td(pad_price(bid[0], places) if bid else "", className="bid-px px"),
                    html.Td(pad_price(ask[0], places) if ask else "", className="ask-px px"),
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
        spread = f"spread {numfmt.fixed(width, places)} · {bps_text(width / mid * 1e4)} bps"
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
    places = max((price_places(view) for _, view in views), default=0)
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
                        pad_price(bid[0], places) if bid else "—",
                        className="num bid" + (" best" if bid_best else ""),
                    ),
                    html.Td(
                        pad_price(ask[0], places) if ask else "—",
                        className="num ask" + (" best" if ask_best else ""),
                    ),
                    html.Td(format_decimal(ask[1]) if ask else "—", className="num muted"),
                    html.Td(bps_text(spr), className="num"),
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
            html.Span(pad_price(best_bid, places), className="bid"),
            html.Span("/", className="muted"),
            html.Span(pad_price(best_ask, places), className="ask"),
            html.Span(
                f"crossed by {bps_text(-gap)} bps before fees"
                if crossed
                else f"spread {bps_text(gap)} bps",
                className="crossed" if crossed else "muted",
            ),
        ]
    return html.Div(
        [html.Table(rows, className="data-table"), html.Div(summary, className="bbo-summary")]
    )


# --------------------------------------------------------------------------- VWAP


def format_computed(value: float, places: int) -> str:
    """A price xle computed (not one the exchange sent), rounded to the book's tick.

    A VWAP is a float quotient whose last digits are arithmetic noise
    (``60008.160276099996``); at a tick of 0.01 the page shows ``60008.16``.
    """
    return numfmt.fixed(value, places)


#: One VWAP row: the book's label, the engine's result, the book's tick and lot places.
VwapRow = tuple[str, VwapResult, int, int]


def vwap_table(results: Sequence[VwapRow], side: str, size: float) -> html.Div:
    """Effective price per venue for one size, as the engine computed it.

    The best venue (cheapest to buy, richest to sell) among those that fill the whole
    size is marked; a venue that cannot fill it gets a full-width warning row under its
    own, saying how much it could fill.
    """
    full = [r.price for _, r, _, _ in results if r.price is not None and not r.insufficient]
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
    for label, res, price_dp, lot_dp in results:
        exchange = label.partition(":")[0]
        is_best = best is not None and res.price == best and not res.insufficient
        price_class = f"num vwap-price {'bid' if side == 'sell' else 'ask'}"
        rows.append(
            html.Tr(
                [
                    html.Td([_dot(f"v-{exchange}"), exchange], className="venue", title=label),
                    html.Td(
                        format_computed(res.price, price_dp) if res.price is not None else "—",
                        className=price_class + (" best" if is_best else ""),
                        title="best venue for this size" if is_best else None,
                    ),
                    html.Td(
                        numfmt.trimmed(res.filled, lot_dp),
                        className="num vwap-filled" + (" warn-text" if res.insufficient else ""),
                    ),
                    html.Td(bps_text(res.slippage_bps), className="num vwap-slip"),
                ],
                **{"data-book": label},
            )
        )
        if res.insufficient:
            rows.append(
                html.Tr(
                    html.Td(
                        html.Div(
                            f"insufficient depth: the book holds "
                            f"{numfmt.trimmed(res.filled, lot_dp)} of "
                            f"{numfmt.trimmed(res.size, lot_dp)}",
                            className="vwap-warn warn",
                        ),
                        colSpan=4,
                    ),
                    className="vwap-warn-row",
                    **{"data-book": label},
                )
            )
    note = html.Div(
        f"{side} {format_decimal(size)} walks the {'asks' if side == 'buy' else 'bids'} "
        "from the best level; slippage is the VWAP's distance from it",
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


def toast(episode: ArbitrageEpisode, alert_id: int, lot_dp: int = 8) -> html.Div:
    """The one-line alert shown in the alert bar when an arbitrage episode opens."""
    return html.Div(
        [
            html.Span("ARB OPEN", className="toast-tag"),
            html.Span(episode.market, className="toast-market"),
            html.Span("buy", className="muted"),
            html.Span(episode.buy_venue, className="ask"),
            html.Span("→ sell", className="muted"),
            html.Span(episode.sell_venue, className="bid"),
            html.Span(
                f"net edge {'+' if episode.edge_bps >= 0 else ''}{bps_text(episode.edge_bps)} bps"
                f" · size {numfmt.trimmed(episode.executable_size, lot_dp)}"
                f" · at {short_time(episode.start_ns)}",
                className="muted",
            ),
        ],
        className="toast",
        key=f"alert-{alert_id}",
        **{"data-alert": str(alert_id)},
    )


# --------------------------------------------------------------------------- episode table

#: Why an episode closed, as the table says it (the engine's reason is the tooltip).
CLOSE_REASONS = {
    "edge": ("edge gone", "the net edge fell back below the threshold"),
    "book_unsynced": ("book unsynced", "one of the two books lost sync"),
    "end_of_data": ("end of data", "the recording ended with the episode open"),
}

_FIXED = "params.value == null ? '' : params.value.toFixed(%s)"


def _number(field: str, name: str, places: str, **extra: Any) -> dict[str, Any]:
    """A right-aligned number column whose filter means "at least" unless told otherwise."""
    column = {
        "field": field,
        "headerName": name,
        "type": "rightAligned",
        "cellDataType": "number",
        "filter": "agNumberColumnFilter",
        "filterParams": {
            "filterOptions": [
                "greaterThanOrEqual",
                "lessThanOrEqual",
                "equals",
                "inRange",
                "blank",
            ],
            "defaultOption": "greaterThanOrEqual",
            "maxNumConditions": 1,
        },
        "valueFormatter": {"function": _FIXED % places},
        "headerTooltip": f"{name}; the filter below keeps rows at least this value",
    }
    column.update(extra)
    return column


def _width(chars: int) -> int:
    """Pixels for ``chars`` characters of the grid's 11 px monospace font (0.6 em each)
    plus the cell's padding: the narrowest a column may get before its text is cut."""
    return math.ceil(chars * 6.6) + 14


#: AG Grid column definitions of the episode table. Numbers stay numbers (so filters and
#: sorting work) and are shown with a fixed number of decimals per column. Each column
#: has room for its usual text; the grid stretches them to fill the panel.
EPISODE_COLUMNS: list[dict[str, Any]] = [
    {
        "field": "start",
        "headerName": "start (UTC)",
        "tooltipField": "start_full",
        "minWidth": _width(18),
    },
    {"field": "market", "headerName": "market", "minWidth": _width(8)},
    {"field": "buy", "headerName": "buy on", "tooltipField": "buy_label", "minWidth": _width(9)},
    {
        "field": "sell",
        "headerName": "sell on",
        "tooltipField": "sell_label",
        "minWidth": _width(9),
    },
    _number("peak_bps", "peak bps", "2", minWidth=_width(8)),
    _number("duration_s", "dur s", "3", minWidth=_width(6)),
    _number("size", "size", "params.data.size_dp", minWidth=_width(12)),  # 8-decimal lots
    _number(
        "profit",
        "profit",
        "2",
        valueFormatter={
            "function": "params.value == null ? '' : "
            "params.value.toFixed(2) + ' ' + params.data.quote"
        },
        headerTooltip="profit at the peak edge and executable size, in the quote currency; "
        "the filter below keeps rows at least this value",
        minWidth=_width(11),
    ),
    {
        "field": "state",
        "headerName": "status",
        "tooltipField": "close_why",
        "headerTooltip": "open, or why the episode closed",
        "minWidth": _width(13),
    },
    {
        "field": "source",
        "headerName": "src",
        "headerTooltip": "engine: seen by this session; log: read from the stored replay",
        "minWidth": _width(6),
    },
]


def _quote(market: str | None) -> str:
    """``"BTC/USD"`` -> ``"USD"``: the currency a profit is counted in."""
    return (market or "").rpartition("/")[2]


def episode_rows(
    episodes: Sequence[ArbitrageEpisode | dict[str, Any]], source: str
) -> list[dict[str, Any]]:
    """Table rows from engine episodes or DuckDB rows (dicts with the same field names).

    Computed figures are rounded here (bps and profit to 2 decimals, sizes to 8, i.e.
    no coarser than any venue's lot) so that the page never receives float noise.
    """
    rows = []
    for ep in episodes:
        get = ep.get if isinstance(ep, dict) else lambda k, e=ep: getattr(e, k)
        start = get("start_ns")
        duration = get("duration_ns")
        full = clock_text(start).removesuffix(" UTC")
        reason = get("close_reason") or ""
        short, why = CLOSE_REASONS.get(reason, (reason, reason))
        if get("status") == "open":
            short, why = "open", "the net edge is above the threshold"
        size = float(numfmt.trimmed(get("executable_size"), 8))
        rows.append(
            {
                "key": f"{get('market')}|{get('buy_venue')}|{get('sell_venue')}|{start}",
                "start_ns": start,
                "start": full[5:],
                "start_full": full,
                "market": get("market"),
                "quote": _quote(get("market")),
                "buy": get("buy_venue").partition(":")[0],
                "buy_label": get("buy_venue"),
                "sell": get("sell_venue").partition(":")[0],
                "sell_label": get("sell_venue"),
                "status": get("status"),
                "duration_s": round(duration / 1e9, 3) if duration is not None else None,
                "peak_bps": float(numfmt.bps(get("peak_edge_bps"))),
                "size": size,
                "size_dp": 0,
                "profit": float(numfmt.fixed(get("profit"), 2)),
                "state": short,
                "close_why": why,
                "source": source,
            }
        )
    return align_sizes(rows)


def align_sizes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every row the size column's finest precision, so the sizes line up."""
    size_dp = max((numfmt.decimals(format_decimal(r["size"])) for r in rows), default=0)
    for row in rows:
        row["size_dp"] = size_dp
    return rows
