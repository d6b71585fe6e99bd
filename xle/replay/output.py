"""Printing query results as a rich table, CSV or JSON (``--format table|csv|json``).

CSV and JSON are for scripts: JSON is one array of objects keyed by column name; nested
values (the ``vwap`` list of structs) stay nested in JSON and become JSON text in a CSV
cell; binary payloads are shown as UTF-8 text (bytes that are not UTF-8 as ``\\xNN``).
The table rounds floats to 10 significant digits for reading; CSV and JSON keep them exact.
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

__all__ = ["Format", "jsonable", "print_rows"]


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def jsonable(value: Any) -> Any:
    """A database value as plain JSON data."""
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


def _cell(value: Any, *, human: bool = False) -> str:
    value = jsonable(value)
    if value is None:
        return ""
    if human and isinstance(value, float):
        return format(value, ".10g")  # a table is for reading: CSV and JSON stay exact
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def print_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Format, console: Console
) -> None:
    if fmt is Format.JSON:
        doc = [dict(zip(columns, map(jsonable, row), strict=True)) for row in rows]
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
            table.add_row(*(escape(_cell(v, human=True)) for v in row))
        console.print(table)
        console.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", style="dim")
