"""``xle compact``: merge the small Parquet files of closed hours of the raw log.

Compaction is a store operation (``xle.store.compact``); this module only reads the
arguments and prints what each exchange's compaction did.
"""

from __future__ import annotations

from typing import Annotated

import typer

from xle.cli.common import existing_root, parse_time_option
from xle.cli.options import DataOption, ExchangeOption
from xle.replay.session import check_exchanges

__all__ = ["compact"]


def compact(
    exchange: ExchangeOption = None,
    before: Annotated[
        str | None,
        typer.Option("--before", metavar="T", help="Only hours that end at or before T."),
    ] = None,
    data: DataOption = None,
) -> None:
    """Merge the small Parquet files of closed hours of the raw log."""
    from xle.store.compact import compact as compact_log

    root = existing_root(data)
    before_ns = parse_time_option(before, "--before") if before else None
    names = check_exchanges(exchange)
    for name in names or (None,):
        summary = compact_log(root, exchange=name, before_ns=before_ns)
        for result in summary.compacted:
            typer.echo(str(result))
        typer.echo(f"{name or 'all exchanges'}: {summary}")
