"""Printing query results as a rich table, CSV or JSON (``--format table|csv|json``).

CSV and JSON are for scripts: JSON is one array of objects keyed by column name; nested
values (the ``vwap`` list of structs) stay nested in JSON and become JSON text in a CSV
cell; binary payloads are shown as UTF-8 text (bytes that are not UTF-8 as ``\\xNN``).

Every format shows a float with at most 12 significant digits: enough for any price or
size an exchange sends, few enough to drop the binary noise of arithmetic on computed
figures (``60096.664851600006`` -> ``60096.6648516``). A ``Decimal`` (a figure already
rounded to its tick, lot or 2 decimals of bps) is printed as it is.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["FLOAT_DIGITS", "Format", "clean_float", "jsonable", "print_rows", "readable"]

FLOAT_DIGITS = 12


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def clean_float(value: float) -> float:
    """``value`` to ``FLOAT_DIGITS`` significant digits; its repr then has no noise."""
    if value != value or value in (float("inf"), float("-inf")):
        return value
    return float(format(value, f".{FLOAT_DIGITS}g"))


def readable(value: Any) -> Any:
    """``jsonable(value)`` with every float cleaned of arithmetic noise (what is printed;
    ``jsonable`` itself stays exact for the golden exports)."""
    value = jsonable(value)
    if isinstance(value, float):
        return clean_float(value)
    if isinstance(value, dict):
        return {k: readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """A database value as plain JSON data, exact."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    value = readable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, f".{FLOAT_DIGITS}g") if abs(value) >= 1e16 else _plain(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _plain(value: float) -> str:
    """``1e-08`` -> ``"0.00000001"``: a person reads a price, not an exponent."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def print_rows(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: Format,
    console: Console,
    *,
    left_out: int = 0,
    note: Console | None = None,
) -> None:
    """Print ``rows``; ``left_out`` rows were cut by a limit, which is said after the
    table, or on ``note`` (stderr) for CSV and JSON so the document stays clean."""
    if fmt is Format.JSON:
        doc = [dict(zip(columns, map(readable, row), strict=True)) for row in rows]
        sys.stdout.write(json.dumps(doc) + "\n")
    elif fmt is Format.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
    else:
        table = Table(show_edge=False)
        for name in columns:
            table.add_column(escape(name), overflow="fold")
        for row in rows:
            table.add_row(*(escape(_cell(v)) for v in row))
        console.print(table)
        shown = f"{len(rows):,} row{'s' if len(rows) != 1 else ''}"
        if left_out:
            shown += f" shown, {left_out:,} more left out (--limit N to see more, 0 for all)"
        console.print(shown, style="dim", highlight=False)
        return
    if left_out and note is not None:
        note.print(
            f"note: {len(rows):,} rows printed, {left_out:,} more left out"
            " (--limit N to print more, 0 for all)",
            highlight=False,
            markup=False,
        )
