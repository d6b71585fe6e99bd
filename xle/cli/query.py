"""Commands over the replayed tables and the raw log with DuckDB: ``query`` and ``arb``.

Both read in place through the views of ``xle.store.views`` (nothing is copied); ``arb``
reads what ``xle replay`` wrote and says so when it wrote nothing yet. Computed figures
are rounded to the market's tick and lot (or 2 decimals of bps) before they are printed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from xle import numfmt
from xle._native.book import format_decimal
from xle.cli.common import console, existing_root, open_views, parse_time_option, warn
from xle.cli.options import DataOption, FormatOption, check_finite
from xle.cli.output import Format, print_rows
from xle.errors import DataError, UsageError
from xle.replay.session import log_inventory
from xle.store.paths import derived_dir
from xle.timeutil import format_ns

__all__ = ["TABLE_LIMIT", "arb", "query"]

#: Rows a table shows unless --limit says otherwise: a screenful or two, not 28,000.
TABLE_LIMIT = 100

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(\*/|\Z)", re.DOTALL)


def _check_sql(sql: str) -> None:
    if not _COMMENTS.sub("", sql).strip(" \t\r\n;"):
        raise UsageError(
            'empty query: give SQL, e.g. xle query "select * from quotes limit 10"'
            " (views: raw, quotes, arbitrage, integrity)"
        )


def query(
    sql: Annotated[
        str,
        typer.Argument(
            metavar="SQL",
            help="SQL over the views raw, quotes, arbitrage, integrity and the backtest "
            "views orders, fills, positions, equity, backtests.",
        ),
    ],
    fmt: FormatOption = Format.TABLE,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            metavar="N",
            min=0,
            help=f"Print at most N rows (default: {TABLE_LIMIT} for the table, all for csv"
            " and json; 0: all). Says how many were left out.",
            show_default=False,
        ),
    ] = None,
    data: DataOption = None,
) -> None:
    """Run SQL with DuckDB over the raw log and the replayed tables, in place."""
    _check_sql(sql)
    con = open_views(existing_root(data))
    cursor = con.execute(sql)
    if cursor is None or cursor.description is None:
        return
    columns = [d[0] for d in cursor.description]
    if limit is None:
        limit = TABLE_LIMIT if fmt is Format.TABLE else 0
    if limit == 0:
        print_rows(columns, cursor.fetchall(), fmt, console())
        return
    rows = cursor.fetchmany(limit)
    left_out = 0
    while batch := cursor.fetchmany(65_536):
        left_out += len(batch)
    print_rows(columns, rows, fmt, console(), left_out=left_out, note=console(stderr=True))


_ARB_SQL = """
WITH closed AS (SELECT * FROM arbitrage WHERE status = 'closed'),
still_open AS (
    SELECT * FROM arbitrage a WHERE status = 'open' AND NOT EXISTS (
        SELECT 1 FROM closed c
        WHERE c.market = a.market AND c.buy_venue = a.buy_venue
          AND c.sell_venue = a.sell_venue AND c.start_ns = a.start_ns))
SELECT start_ns, end_ns, duration_ns, market, buy_venue, sell_venue, status, close_reason,
       peak_edge_bps, edge_bps, executable_size, profit
FROM (SELECT * FROM closed UNION ALL SELECT * FROM still_open)
WHERE coalesce(end_ns, 9223372036854775807) >= $since AND start_ns <= $until
  AND peak_edge_bps >= $min_bps AND ($market IS NULL OR market = $market)
ORDER BY start_ns DESC, market, buy_venue, sell_venue
"""


def arb(
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="T", help="Episodes still open at or after T."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="T", help="Episodes started at or before T."),
    ] = None,
    min_bps: Annotated[
        float | None,
        typer.Option("--min-bps", metavar="BPS", help="Minimum peak net edge in basis points."),
    ] = None,
    market: Annotated[
        str | None,
        typer.Option("--market", "-m", metavar="MARKET", help="Canonical market, e.g. BTC/USD."),
    ] = None,
    fmt: FormatOption = Format.TABLE,
    data: DataOption = None,
) -> None:
    """Arbitrage episodes that xle replay found, newest first."""
    if min_bps is not None:
        check_finite(min_bps, "--min-bps")
    params = {
        "since": parse_time_option(since, "--since") if since else 0,
        "until": parse_time_option(until, "--until") if until else 2**63 - 1,
        "min_bps": float("-inf") if min_bps is None else min_bps,
        "market": market.upper() if market else None,
    }
    root = existing_root(data)
    _check_replayed(root)
    con = open_views(root)
    markets = [m for (m,) in con.execute(_MARKETS_SQL).fetchall()]
    if params["market"] is not None and params["market"] not in markets:
        listed = ", ".join(markets) if markets else "none"
        raise UsageError(
            f"no market {params['market']} in the replayed data under {root / 'derived'}"
            f" (markets: {listed})"
        )
    rows = con.execute(_ARB_SQL, params).fetchall()
    precision = _precisions(con, sorted({r[3] for r in rows}))
    columns = ["start", "end", "duration_s"]
    columns += ["market", "buy_venue", "sell_venue", "status", "close_reason"]
    columns += ["peak_edge_bps", "edge_bps", "executable_size", "profit", "start_ns", "end_ns"]
    shaped = []
    for r in rows:
        tick, lot = precision.get(r[3], (_FALLBACK_PLACES, _FALLBACK_PLACES))
        shaped.append(
            (
                format_ns(r[0]),
                format_ns(r[1]) if r[1] is not None else None,
                _seconds(r[2]) if r[2] is not None else None,
                *r[3:8],
                Decimal(numfmt.bps(r[8])),
                Decimal(numfmt.bps(r[9])),
                Decimal(numfmt.trimmed(r[10], lot)),
                Decimal(numfmt.trimmed(r[11], tick)),
                r[0],
                r[1],
            )
        )
    if fmt is Format.TABLE:  # the columns a reader needs; scripts get them all
        keep = [i for i, c in enumerate(columns) if c not in ("edge_bps", "start_ns", "end_ns")]
        columns = [columns[i] for i in keep]
        shaped = [tuple(row[i] for i in keep) for row in shaped]
        # Times to the millisecond for a reader (csv and json keep every nanosecond).
        shaped = [
            (r[0][:23], (r[1] or "")[:23], None if r[2] is None else f"{r[2]:.3f}", *r[3:])
            for r in shaped
        ]
    print_rows(columns, shaped, fmt, console())
    if not rows:
        total, first, last = con.execute(
            "SELECT count(DISTINCT (market, buy_venue, sell_venue, start_ns)), min(start_ns),"
            " max(start_ns) FROM arbitrage"
        ).fetchone() or (0, None, None)
        if total:
            warn(
                f"no episode matches; the replayed data holds {total:,} episodes in"
                f" {', '.join(markets)} started from {format_ns(first)} to {format_ns(last)}"
            )
        else:
            warn(
                f"the replayed data under {root / 'derived'} holds no arbitrage episode"
                f" (markets quoted: {', '.join(markets) or 'none'})"
            )


_MARKETS_SQL = """
SELECT market FROM (SELECT market FROM arbitrage UNION SELECT market FROM quotes)
WHERE market IS NOT NULL ORDER BY market
"""

#: Decimals of a figure whose market has no quote to read a tick or lot from.
_FALLBACK_PLACES = 8


def _precisions(con: Any, markets: list[str]) -> dict[str, tuple[int, int]]:
    """(tick, lot) decimals per market, read off the exchange prices and sizes of a
    sample of its quotes (the top of book holds the venue's own strings)."""
    if not markets:
        return {}
    rows = con.execute(
        "SELECT market, bid, ask, bid_size, ask_size FROM quotes"
        " WHERE list_contains($markets, market) LIMIT 20000",
        {"markets": markets},
    ).fetchall()
    prices: dict[str, list[str]] = {}
    sizes: dict[str, list[str]] = {}
    for m, bid, ask, bid_size, ask_size in rows:
        prices.setdefault(m, []).extend(format_decimal(v) for v in (bid, ask) if v is not None)
        sizes.setdefault(m, []).extend(
            format_decimal(v) for v in (bid_size, ask_size) if v is not None
        )
    return {
        m: (
            numfmt.max_decimals(prices.get(m, []), _FALLBACK_PLACES),
            numfmt.max_decimals(sizes.get(m, []), _FALLBACK_PLACES),
        )
        for m in markets
        if m in prices
    }


def _seconds(ns: int) -> Decimal:
    """Nanoseconds as exact seconds: ``1500000000`` -> ``1.5``."""
    return Decimal(ns).scaleb(-9).normalize()


def _check_replayed(root: Path) -> None:
    """``xle arb`` reads what ``xle replay`` wrote: say so when it wrote nothing yet."""
    tables = ("quotes", "arbitrage", "integrity")
    if any(_has_files(derived_dir(root, table)) for table in tables):
        return
    holdings = log_inventory(root)
    if holdings:
        first = format_ns(min(h.first_ns for h in holdings))
        last = format_ns(max(h.last_ns for h in holdings))
        hint = f"; run: xle replay --data {root} --from {first} --to {last}"
    else:
        hint = "; record some first (xle record or xle demo), then run xle replay"
    raise DataError(
        f"nothing replayed yet under {root / 'derived'}: xle arb reads what xle replay writes{hint}"
    )


def _has_files(directory: Path) -> bool:
    return any(not p.name.startswith(".") for p in directory.rglob("*.parquet"))
