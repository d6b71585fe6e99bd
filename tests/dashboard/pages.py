"""Readers of the dashboard page for the browser tests (what a user sees, as text)."""

from __future__ import annotations

from typing import Any

from xle._native.book import format_decimal
from xle.analytics.engine import BookView

_LADDER_JS = """(label) => {
    const ladder = document.querySelector(`.ladder[data-book="${label}"]`);
    if (!ladder) return null;
    return Array.from(ladder.querySelectorAll('tr.lad-row')).map(
        row => Array.from(row.querySelectorAll('td')).map(td => td.textContent));
}"""

_FIGURE_JS = """(id) => {
    const plot = document.querySelector(`#${id} .js-plotly-plot`);
    if (!plot || !plot.data) return null;
    return {data: plot.data.map(t => ({name: t.name, x: Array.from(t.x || []),
                                       y: Array.from(t.y || [])})),
            font: plot.layout.font && plot.layout.font.color};
}"""


def ladder_rows(page: Any, label: str) -> list[list[str]] | None:
    """Rows of one venue's ladder: [bid size, bid, ask, ask size], "" where empty."""
    return page.evaluate(_LADDER_JS, label)


def expected_ladder(view: BookView, depth: int) -> list[list[str]]:
    """What the ladder must show for ``view``: the engine's levels as exact decimals."""
    rows = []
    for i in range(depth):
        bid = view.bids[i] if i < len(view.bids) else None
        ask = view.asks[i] if i < len(view.asks) else None
        rows.append(
            [
                format_decimal(bid[1]) if bid else "",
                format_decimal(bid[0]) if bid else "",
                format_decimal(ask[0]) if ask else "",
                format_decimal(ask[1]) if ask else "",
            ]
        )
    return rows


def figure(page: Any, graph_id: str) -> dict[str, Any] | None:
    return page.evaluate(_FIGURE_JS, graph_id)


def text(page: Any, selector: str) -> str:
    return page.locator(selector).inner_text()


def grid_rows(page: Any) -> list[dict[str, str]]:
    """The episode grid's rendered rows as {column id: text}."""
    return page.evaluate(
        """() => Array.from(
            document.querySelectorAll('#arb-table .ag-center-cols-container .ag-row')
        ).map(row => Object.fromEntries(Array.from(row.querySelectorAll('.ag-cell'))
            .map(cell => [cell.getAttribute('col-id'), cell.textContent])))"""
    )
