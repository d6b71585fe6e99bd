"""Commands over a recorded log: ``replay``, ``book``, ``query``, ``arb``, ``audit``, ``compact``.

A thin Typer layer (DESIGN section 9): parse and check the arguments, call
``xle.replay.session`` / ``xle.replay.audit`` / ``xle.analytics.views``, print. Bad input
never shows a traceback: every ``XleError`` (and a DuckDB error in ``query``/``arb``)
becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from xle.analytics.book import format_decimal
from xle.analytics.derived import Scope
from xle.cli_options import ConfigOption, DataOption, ExchangeOption
from xle.config import EngineConfig, load_config
from xle.errors import DataError, UsageError, XleError
from xle.paths import data_root
from xle.replay.audit import AUDIT_COLUMNS, run_audit
from xle.replay.output import Format, print_rows
from xle.replay.session import (
    ReplaySummary,
    book_at,
    check_exchanges,
    run_replay,
)
from xle.timeutil import format_ns, parse_time

__all__ = ["COMMANDS", "arb", "audit", "book", "compact", "query", "replay"]

P = ParamSpec("P")
R = TypeVar("R")

SymbolOption = Annotated[
    list[str] | None, typer.Option("--symbol", "-s", help="Exchange symbol (repeatable).")
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print deliberate errors as ``error: <reason>`` on stderr and exit with status 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except XleError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except Exception as exc:
            # DuckDB is imported only by the query commands (it takes ~0.1 s to load):
            # if it is not loaded, this cannot be one of its errors.
            duckdb = sys.modules.get("duckdb")
            if duckdb is None or not isinstance(exc, duckdb.Error):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            typer.echo(f"error: {first}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def _time(text: str, option: str) -> int:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _config(path: Path | None) -> EngineConfig:
    return load_config(path)


def _symbols(symbols: list[str] | None) -> tuple[str, ...] | None:
    return tuple(sorted({s.upper() for s in symbols})) if symbols else None


def _console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 240, soft_wrap=False)


def _query_root(data: Path | None) -> Path:
    root = data_root(data)
    if not root.is_dir():
        raise DataError(f"data directory not found: {root}")
    return root


# --------------------------------------------------------------------------- replay


@_one_line_errors
def replay(
    start: Annotated[str, typer.Option("--from", help="Start T0: ISO 8601 (UTC) or epoch ns.")],
    end: Annotated[str, typer.Option("--to", help="End T1 (inclusive).")],
    speed: Annotated[
        str, typer.Option("--speed", help="'max', or N x real time by record time (1 = live).")
    ] = "max",
    exchange: ExchangeOption = None,
    symbol: SymbolOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print the summary; write nothing.")
    ] = False,
) -> None:
    """Replay the log through the engine, write derived Parquet, print a summary.

    Outputs go to DIR/derived/{quotes,arbitrage,integrity}; replaying the same range
    again replaces them (see xle.analytics.derived for the overlap rule).
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
        if not pace > 0:
            raise UsageError(f"--speed must be positive, not {speed!r}")
    summary = run_replay(
        root,
        scope,
        _config(config),
        speed=pace,
        dry_run=dry_run,
        progress=_console(stderr=True),
        on_warning=lambda text: typer.echo(f"warning: {text}", err=True),
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


@_one_line_errors
def book(
    exchange: Annotated[
        str, typer.Option("--exchange", "-e", help="binance, binanceus, coinbase.")
    ],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Exchange symbol, e.g. BTCUSDT.")],
    at: Annotated[str, typer.Option("--at", help="Time T: ISO 8601 (UTC) or epoch ns.")],
    depth: Annotated[int, typer.Option("--depth", min=1, help="Levels per side.")] = 10,
    vwap: Annotated[
        list[float] | None,
        typer.Option("--vwap", help="VWAP size in base units (repeatable; default: config)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """The book rebuilt from the log as of T (every record with recv_ns <= T)."""
    at_ns = _time(at, "--at")
    cfg = _config(config)
    sym = symbol.upper()
    engine, view = book_at(data_root(data), exchange, sym, at_ns, cfg)
    sizes = tuple(vwap) if vwap else cfg.sizes_for(engine.market_of(exchange, sym))
    for size in sizes:
        if not size > 0:
            raise UsageError(f"--vwap sizes must be positive, not {size}")
    imbalance, _ratio = engine.imbalance(exchange, sym)
    walks = [engine.vwap(exchange, sym, side, size) for size in sizes for side in ("buy", "sell")]
    doc: dict[str, Any] = {
        "exchange": exchange,
        "symbol": sym,
        "at_ns": at_ns,
        "status": view.status,
        "bids": [[format_decimal(p), format_decimal(q)] for p, q in view.bids[:depth]],
        "asks": [[format_decimal(p), format_decimal(q)] for p, q in view.asks[:depth]],
        "imbalance": imbalance,
        "vwap": [
            {
                "side": w.side,
                "size": format_decimal(w.size),
                "price": format_decimal(w.price) if w.price is not None else None,
                "filled": format_decimal(w.filled),
                "slippage_bps": w.slippage_bps,
            }
            for w in walks
        ],
    }
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
    console.print(f"imbalance {imbalance:+.4f}" if imbalance is not None else "imbalance -")
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


@_one_line_errors
def query(
    sql: Annotated[
        str, typer.Argument(help="SQL over the views raw, quotes, arbitrage, integrity.")
    ],
    fmt: FormatOption = Format.TABLE,
    data: DataOption = None,
) -> None:
    """Run SQL with DuckDB over the raw log and the derived Parquet, in place."""
    from xle.analytics.views import connect

    con = connect(_query_root(data))
    cursor = con.execute(sql)
    if cursor.description is None:
        return
    columns = [d[0] for d in cursor.description]
    print_rows(columns, cursor.fetchall(), fmt, _console())


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


@_one_line_errors
def arb(
    since: Annotated[
        str | None, typer.Option("--since", help="Episodes still open at or after T.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Episodes started at or before T.")
    ] = None,
    min_bps: Annotated[
        float | None, typer.Option("--min-bps", help="Minimum peak net edge (bps).")
    ] = None,
    market: Annotated[
        str | None, typer.Option("--market", "-m", help="Canonical market, e.g. BTC/USD.")
    ] = None,
    fmt: FormatOption = Format.TABLE,
    data: DataOption = None,
) -> None:
    """Arbitrage episodes from the derived Parquet (run xle replay first), newest first."""
    params = {
        "since": _time(since, "--since") if since else 0,
        "until": _time(until, "--until") if until else 2**63 - 1,
        "min_bps": float("-inf") if min_bps is None else min_bps,
        "market": market,
    }
    from xle.analytics.views import connect

    con = connect(_query_root(data))
    rows = con.execute(_ARB_SQL, params).fetchall()
    columns = ["start", "end", "duration_s"]
    columns += ["market", "buy_venue", "sell_venue", "status", "close_reason"]
    columns += ["peak_edge_bps", "edge_bps", "executable_size", "profit", "start_ns", "end_ns"]
    shaped = [
        (
            format_ns(r[0]),
            format_ns(r[1]) if r[1] is not None else None,
            r[2] / 1e9 if r[2] is not None else None,
            *r[3:12],
            r[0],
            r[1],
        )
        for r in rows
    ]
    if fmt is Format.TABLE:  # the columns a reader needs; scripts get them all
        keep = [i for i, c in enumerate(columns) if c not in ("edge_bps", "start_ns", "end_ns")]
        columns = [columns[i] for i in keep]
        shaped = [tuple(row[i] for i in keep) for row in shaped]
        shaped = [(r[0][:23], (r[1] or "")[:23], *r[2:]) for r in shaped]
    print_rows(columns, shaped, fmt, _console())


# --------------------------------------------------------------------------- audit


@_one_line_errors
def audit(
    start: Annotated[
        str | None, typer.Option("--from", help="Start T0 (default: log start).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End T1 (default: log end).")] = None,
    exchange: ExchangeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Integrity report of the raw log per exchange and symbol (replays the log)."""
    report = run_audit(
        data_root(data),
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


@_one_line_errors
def compact(
    exchange: ExchangeOption = None,
    before: Annotated[
        str | None, typer.Option("--before", help="Only hours that end at or before T.")
    ] = None,
    data: DataOption = None,
) -> None:
    """Merge the small Parquet files of closed hours of the raw log."""
    from xle.recorder.compact import compact as compact_log

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
