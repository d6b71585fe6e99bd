"""``xle export``: the log's books and trades in another tool's normalized format.

A thin Typer layer over ``xle.replay.export``: check the arguments, export, print what
went in and what came out per file (``xle.cli`` turns an ``XleError`` into one
``error:`` line and exit status 2).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xle.cli.common import console, parse_time_option, recovered_root, upper_symbols, warn
from xle.cli.options import TIME_HELP, ConfigOption, DataOption, ExchangeOption, SymbolOption
from xle.config import load_config
from xle.replay.export import FORMATS, HFTBACKTEST_KINDS, TARDIS_KINDS, check_kinds
from xle.replay.export import export as run_export
from xle.replay.session import check_exchanges, check_range, check_symbols

__all__ = ["export"]

ExportFormat = StrEnum("ExportFormat", {name: name for name in FORMATS})  # type: ignore[misc]


def export(
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="tardis (gzip CSV), tardis-parquet, or hftbacktest (npz event arrays).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Directory to write the files into (created if missing).",
            show_default=False,
        ),
    ],
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            "-k",
            metavar="KIND",
            help=(
                f"What to write (repeatable; default: all). tardis: {', '.join(TARDIS_KINDS)}; "
                f"hftbacktest: {', '.join(HFTBACKTEST_KINDS)}."
            ),
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="T0", help=f"Start ({TIME_HELP}; default: the log's start)."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", metavar="T1", help="End, inclusive (default: the log's end)."),
    ] = None,
    exchange: ExchangeOption = None,
    symbol: SymbolOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the log's books and trades in another tool's normalized format: tardis.dev's
    incremental_book_L2, book_snapshot_25 and trades files, or hftbacktest's event arrays,
    one file per exchange, symbol and UTC day."""
    name = str(fmt.value)
    kinds = check_kinds(name, kind)
    start_ns = parse_time_option(start, "--from") if start else None
    end_ns = parse_time_option(end, "--to") if end else None
    if start_ns is not None and end_ns is not None:
        check_range(start_ns, end_ns)
    root = recovered_root(data)
    exchanges = check_exchanges(exchange)
    symbols = upper_symbols(symbol)
    for missing in check_symbols(root, exchanges, symbols):
        warn(f"no book for {missing} in the log")
    summary = run_export(
        root, name, out, start_ns, end_ns, kinds, exchanges, symbols, load_config(config)
    )
    table = Table(title=f"xle export --format {name}", show_edge=False)
    table.add_column("file")
    table.add_column("events in", justify="right")
    table.add_column("rows out", justify="right")
    for f in summary.files:
        table.add_row(f.path.name, f"{f.events:,}", f"{f.rows:,}")
    out_console = console()
    out_console.print(table)
    warmup = f" (+{summary.warmup_records:,} warm-up)" if summary.warmup_records else ""
    out_console.print(
        f"rows in: {summary.records:,} records{warmup}, {summary.events:,} book and trade "
        f"events; rows out: {summary.rows:,} in {len(summary.files)} files under {out}",
        highlight=False,
        markup=False,
    )
