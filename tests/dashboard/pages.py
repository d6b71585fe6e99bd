"""Readers of the dashboard page for the browser tests (what a user sees, as text)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from xle._native.book import format_decimal
from xle.analytics.engine import BookView
from xle.dashboard.panels import lot_places, pad_price, price_places

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
    """What the ladder must show for ``view``: the engine's levels as exact decimals, the
    prices padded with zeros to the book's tick."""
    places = price_places(view)
    rows = []
    for i in range(depth):
        bid = view.bids[i] if i < len(view.bids) else None
        ask = view.asks[i] if i < len(view.asks) else None
        rows.append(
            [
                format_decimal(bid[1]) if bid else "",
                pad_price(bid[0], places) if bid else "",
                pad_price(ask[0], places) if ask else "",
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


# --------------------------------------------------------------------------- raw callbacks


def _split_output(output: str) -> list[dict[str, str]]:
    """``"..a.children...b.data@x.."`` -> [{"id": "a", "property": "children"}, …]."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]


def dash_post(
    url: str, output_id: str, values: dict[str, Any], timeout: float = 10.0
) -> tuple[int, Any]:
    """POST one callback request the way a crafted client would, bypassing the page.

    ``output_id`` picks the callback whose output list contains it ("ladders.children");
    ``values`` gives "id.prop" -> value for its inputs and states (missing ones are None;
    every input is reported as changed). Returns (HTTP status, decoded JSON or text).
    """
    with urllib.request.urlopen(f"{url}_dash-dependencies", timeout=timeout) as response:
        dependencies = json.load(response)
    matches = [d for d in dependencies if output_id in d["output"].split("..")]
    if not matches:
        matches = [d for d in dependencies if output_id in d["output"]]
    spec = matches[0]

    def fill(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in items]

    body = {
        "output": spec["output"],
        "outputs": _split_output(spec["output"])
        if spec["output"].startswith("..")
        else _split_output(spec["output"])[0],
        "inputs": fill(spec["inputs"]),
        "state": fill(spec["state"]),
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]],
    }
    request = urllib.request.Request(
        f"{url}_dash-update-component",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    return status, json.loads(raw) if raw else None


def book_places(engine: Any, exchange: str, symbol: str) -> tuple[int, int]:
    """(tick, lot) decimal places of a book, as the page reads them (its top 50 levels)."""
    view = engine.book_view(exchange, symbol, 50)
    return price_places(view), lot_places(view)
