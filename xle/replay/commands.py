"""Commands over a recorded log: ``replay``, ``book``, ``query``, ``arb``, ``audit``, ``compact``.

A thin Typer layer: parse and check the arguments, call ``xle.replay.session`` /
``xle.replay.audit`` / ``xle.store.views``, print. ``xle.cli`` wraps every command
so that an ``XleError``, an ``OSError`` or a DuckDB error is one line on stderr and exit
status 2. Figures xle computes are rounded with ``xle.numfmt`` before they are printed;
exchange values are printed as the exchange sent them.
"""

from __future__ import annotations

import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from xle import numfmt
from xle._native.book import format_decimal
from xle.cli_options import (
    ConfigOption,
    DataOption,
    ExchangeOption,
    check_finite,
)
from xle.config import EngineConfig, load_config
from xle.errors import DataError, UsageError
from xle.replay.audit import AUDIT_COLUMNS, run_audit
from xle.replay.log import IMBALANCE_PLACES, snapshot
from xle.replay.output import Format, print_rows
from xle.replay.session import (
    ReplaySummary,
    book_at,
    check_data_root,
    check_exchanges,
    describe_inventory,
    log_end_ns,
    log_inventory,
    run_replay,
)
from xle.store.derived import Scope
from xle.store.paths import data_root, derived_dir
from xle.timeutil import format_ns, parse_time

__all__ = ["COMMANDS", "arb", "audit", "book", "compact", "query", "replay"]

TIME_HELP = "ISO 8601 (UTC unless an offset is given) or epoch ns"

SymbolOption = Annotated[
    list[str] | None,
    typer.Option(
        "--symbol",
        "-s",
        metavar="SYMBOL",
        help="Exchange symbol, e.g. BTCUSDT or BTC-USD (repeatable; default: all).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    Format, typer.Option("--format", "-f", metavar="table|csv|json", help="Output format.")
]


def _time(text: str, option: str) -> int:
    try:
        return parse_time(text)  # refuses what does not fit int64 epoch ns
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _config(path: Path | None) -> EngineConfig:
    return load_config(path)


def _symbols(symbols: list[str] | None) -> tuple[str, ...] | None:
    return tuple(sorted({s.upper() for s in symbols})) if symbols else None


def _console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 240, soft_wrap=False)


def _warn(text: str) -> None:
    typer.echo(f"warning: {text}", err=True)


def _recovered(data: Path | None) -> Path:
    """The data root, after saying what reading it recovered or skipped (a crashed run's
    journal, damaged batches): readers recover a dead writer's journal before they read."""
    root = data_root(data)
    for notice in check_data_root(root):
        _warn(notice.message())
    return root


def _views(root: Path) -> Any:
    """DuckDB over ``root`` with every file the views skipped or recovered said aloud."""
    from xle.store.views import open_views

    views = open_views(root)
    for notice in views.notices:
        _warn(notice.message())
    return views.con


def _query_root(data: Path | None) -> Path:
    root = data_root(data)
    if not root.is_dir():
        raise DataError(f"data directory not found: {root}")
    return root


# --------------------------------------------------------------------------- replay


def replay(
    start: Annotated[
        str, typer.Option("--from", metavar="T0", help=f"Start of the window: {TIME_HELP}.")
    ],
    end: Annotated[
        str, typer.Option("--to", metavar="T1", help="End of the window (inclusive), same forms.")
    ],
    speed: Annotated[
        str,
        typer.Option(
            "--speed",
            metavar="max|N",
            help="'max', or N times real time by record time (1 = as recorded).",
        ),
    ] = "max",
    exchange: ExchangeOption = None,
    symbol: SymbolOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print the summary; write nothing.")
    ] = False,
    progress_every: Annotated[
        float,
        typer.Option(
            "--progress-every",
            metavar="SECONDS",
            min=0,
            help="Seconds between progress lines on stderr when it is not a terminal (0: none).",
        ),
    ] = 5.0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            help="Replay shards (UTC days, or --shard) on N processes; same rows as serial.",
        ),
    ] = 1,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="DURATION", help="Shard length for --workers: 1d, 6h."),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="ray|ray://HOST:PORT",
            help="Run one Ray task per shard on a local Ray or a cluster (pip install 'xle[ray]').",
        ),
    ] = None,
) -> None:
    """Replay the log through the engine, write quotes, arbitrage and integrity tables.

    They go to DIR/derived/{quotes,arbitrage,integrity} as Parquet, where xle query and
    xle arb read them. The newest replay owns its window (with its --exchange and
    --symbol filters): rows earlier replays stored inside it are replaced, rows outside
    it are kept.
    """
    root = data_root(data)
    scope = Scope(
        _time(start, "--from"), _time(end, "--to"), check_exchanges(exchange), _symbols(symbol)
    )
    pace: float | None = None
    if speed.strip().lower() != "max":
        try:
            pace = float(speed)
        except ValueError:
            raise UsageError(f"--speed must be 'max' or a number, not {speed!r}") from None
        check_finite(pace, "--speed", positive=True)
    if workers != 1 or shard is not None or cluster is not None:
        from xle.replay.fanout import fanout_replay

        if pace is not None:
            raise UsageError("--speed paces a serial replay; --workers/--cluster run flat out")
        summary = fanout_replay(
            root,
            scope,
            _config(config),
            workers=workers,
            shard=shard,
            cluster=cluster,
            dry_run=dry_run,
            on_warning=_warn,
        )
        _print_summary(summary, root)
        return
    summary = run_replay(
        root,
        scope,
        _config(config),
        speed=pace,
        dry_run=dry_run,
        progress=_console(stderr=True),
        progress_every=progress_every,
        on_warning=_warn,
    )
    _print_summary(summary, root)


def _print_summary(summary: ReplaySummary, root: Path) -> None:
    scope = summary.scope
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    filters = ", ".join(scope.exchanges) if scope.exchanges else "all exchanges"
    filters += "; " + (", ".join(scope.symbols) if scope.symbols else "all symbols")
    grid.add_row("window", f"{format_ns(scope.start_ns)} .. {format_ns(scope.end_ns)}")
    grid.add_row("scope", filters)
    grid.add_row("records", f"{summary.records:,} (+{summary.warmup_records:,} warm-up)")
    unsynced = [name for name, status in summary.books.items() if status != "synced"]
    books = f"{summary.synced} synced, {summary.unsynced} unsynced"
    grid.add_row("books", books + (f" ({', '.join(unsynced)})" if unsynced else ""))
    grid.add_row("quotes", f"{summary.quotes:,}")
    grid.add_row("arbitrage", f"{summary.episodes_opened} opened, {summary.episodes_closed} closed")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary.integrity.items()))
    grid.add_row("integrity", kinds or "none")
    ignored = ", ".join(f"{k} {n:,}" for k, n in summary.ignored.items())
    grid.add_row("ignored", ignored or "none")
    if summary.skipped_exchanges:
        grid.add_row("skipped", ", ".join(f"exchange={e}" for e in summary.skipped_exchanges))
    if summary.corrupt_files:
        grid.add_row("unreadable", "; ".join(summary.corrupt_files))
    if summary.dry_run:
        grid.add_row("output", "dry run: nothing written")
    else:
        grid.add_row("output", f"{len(summary.files)} files under {root / 'derived'}")
    _console().print(grid)


# --------------------------------------------------------------------------- book


def book(
    exchange: Annotated[
        str,
        typer.Option("--exchange", "-e", metavar="EXCHANGE", help="binance, binanceus, coinbase."),
    ],
    symbol: Annotated[
        str,
        typer.Option(
            "--symbol", "-s", metavar="SYMBOL", help="Exchange symbol, e.g. BTCUSDT or BTC-USD."
        ),
    ],
    at: Annotated[str, typer.Option("--at", metavar="T", help=f"Time T: {TIME_HELP}.")],
    depth: Annotated[
        int, typer.Option("--depth", metavar="N", min=1, help="Levels per side.")
    ] = 10,
    vwap: Annotated[
        list[float] | None,
        typer.Option(
            "--vwap",
            metavar="SIZE",
            help="VWAP size in base units (repeatable; default: the config's sizes).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """The book rebuilt from the log as of T (every record received at or before T)."""
    at_ns = _time(at, "--at")
    for size in vwap or ():
        check_finite(size, "--vwap", positive=True)
    cfg = _config(config)
    sym = symbol.upper()
    root = _recovered(data)
    engine, view = book_at(root, exchange, sym, at_ns, cfg)
    last_ns = log_end_ns(root, exchange)
    if last_ns is not None and at_ns > last_ns:
        _warn(
            f"the {exchange} data ends at {format_ns(last_ns)}; this is the book as of then"
            f" ({describe_inventory(log_inventory(root, (exchange,)), exchange)})"
        )
    doc = snapshot(engine, view, exchange, at_ns, depth, tuple(vwap) if vwap else None).to_dict()
    if as_json:
        typer.echo(json.dumps(doc))
        return
    _print_ladder(doc)


def _print_ladder(doc: dict[str, Any]) -> None:
    console = _console()
    status = doc["status"]
    colour = "green" if status == "synced" else "red"
    console.print(
        f"[bold]{doc['exchange']} {doc['symbol']}[/bold] at {format_ns(doc['at_ns'])}  "
        f"[{colour}]{status}[/{colour}]"
    )
    ladder = Table(show_edge=False)
    ladder.add_column("bid qty", justify="right")
    ladder.add_column("bid", justify="right", style="green")
    ladder.add_column("ask", justify="left", style="red")
    ladder.add_column("ask qty", justify="right")
    bids, asks = doc["bids"], doc["asks"]
    for i in range(max(len(bids), len(asks))):
        bid = bids[i] if i < len(bids) else ["", ""]
        ask = asks[i] if i < len(asks) else ["", ""]
        ladder.add_row(bid[1], bid[0], ask[0], ask[1])
    console.print(ladder)
    imbalance = doc["imbalance"]
    console.print(
        f"imbalance {imbalance:+.{IMBALANCE_PLACES}f}" if imbalance is not None else "imbalance -"
    )
    walks = Table(show_edge=False)
    for name in ("side", "size", "vwap", "filled", "slippage bps"):
        walks.add_column(name, justify="right")
    for w in doc["vwap"]:
        slip = w["slippage_bps"]
        walks.add_row(
            w["side"],
            w["size"],
            w["price"] or "-",
            w["filled"],
            f"{slip:.2f}" if slip is not None else "-",
        )
    console.print(walks)


# --------------------------------------------------------------------------- query, arb


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
    con = _views(_query_root(data))
    cursor = con.execute(sql)
    if cursor is None or cursor.description is None:
        return
    columns = [d[0] for d in cursor.description]
    if limit is None:
        limit = TABLE_LIMIT if fmt is Format.TABLE else 0
    if limit == 0:
        print_rows(columns, cursor.fetchall(), fmt, _console())
        return
    rows = cursor.fetchmany(limit)
    left_out = 0
    while batch := cursor.fetchmany(65_536):
        left_out += len(batch)
    print_rows(columns, rows, fmt, _console(), left_out=left_out, note=_console(stderr=True))


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
        "since": _time(since, "--since") if since else 0,
        "until": _time(until, "--until") if until else 2**63 - 1,
        "min_bps": float("-inf") if min_bps is None else min_bps,
        "market": market.upper() if market else None,
    }
    root = _query_root(data)
    _check_replayed(root)
    con = _views(root)
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
        shaped = [(r[0][:23], (r[1] or "")[:23], *r[2:]) for r in shaped]
    print_rows(columns, shaped, fmt, _console())
    if not rows:
        total, first, last = con.execute(
            "SELECT count(DISTINCT (market, buy_venue, sell_venue, start_ns)), min(start_ns),"
            " max(start_ns) FROM arbitrage"
        ).fetchone() or (0, None, None)
        if total:
            _warn(
                f"no episode matches; the replayed data holds {total:,} episodes in"
                f" {', '.join(markets)} started from {format_ns(first)} to {format_ns(last)}"
            )
        else:
            _warn(
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


# --------------------------------------------------------------------------- audit


def audit(
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
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Integrity report of the raw log per exchange and symbol (replays the log)."""
    report = run_audit(
        _recovered(data),
        _config(config),
        start_ns=_time(start, "--from") if start else None,
        end_ns=_time(end, "--to") if end else None,
        exchanges=check_exchanges(exchange),
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    table = Table(title=f"xle audit: {report.records:,} records", show_edge=False)
    for name in ("exchange", "symbol", "records", "from", "to"):
        table.add_column(name, justify="right" if name == "records" else "left")
    for name in (*AUDIT_COLUMNS.values(), "errors"):
        table.add_column(name, justify="right")
    table.add_column("status")
    for row in report.rows:
        d = row.to_dict()
        counts = [d[c] for c in (*AUDIT_COLUMNS.values(), "errors")]
        status = d["status"]
        if status == "unsynced":
            status = f"[red]{status}[/red]"
        table.add_row(
            d["exchange"],
            d["symbol"] or "(connection)",
            f"{d['records']:,}",
            (d["first"] or "")[:23],
            (d["last"] or "")[:23],
            *[f"[yellow]{n}[/yellow]" if n else "0" for n in counts],
            status,
        )
    console = _console()
    console.print(table)
    if report.skipped_exchanges:
        skipped = ", ".join(f"exchange={e}" for e in report.skipped_exchanges)
        console.print(f"skipped unknown raw partitions: {skipped}")


# --------------------------------------------------------------------------- compact


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

    root = data_root(data)
    if not root.is_dir():
        raise DataError(f"data directory not found: {root}")
    before_ns = _time(before, "--before") if before else None
    names = check_exchanges(exchange)
    for name in names or (None,):
        summary = compact_log(root, exchange=name, before_ns=before_ns)
        for result in summary.compacted:
            typer.echo(str(result))
        typer.echo(f"{name or 'all exchanges'}: {summary}")


COMMANDS = [replay, book, query, arb, audit, compact]
