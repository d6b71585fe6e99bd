"""Commands that replay the log: ``replay``, ``book``, ``audit``.

A thin Typer layer: parse and check the arguments, call ``xle.replay.session`` /
``xle.replay.audit``, print. ``xle.cli`` wraps every command so that an ``XleError`` or
an ``OSError`` is one line on stderr and exit status 2. Figures xle computes are rounded
with ``xle.numfmt`` before they are printed; exchange values are printed as the exchange
sent them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from xle.cli.common import console, parse_time_option, recovered_root, upper_symbols, warn
from xle.cli.options import (
    TIME_HELP,
    ConfigOption,
    DataOption,
    ExchangeOption,
    SymbolOption,
    check_finite,
)
from xle.cli.progress import ReplayProgress
from xle.config import load_config
from xle.errors import UsageError
from xle.replay.audit import AUDIT_COLUMNS, run_audit
from xle.replay.log import IMBALANCE_PLACES, snapshot
from xle.replay.session import (
    ReplaySummary,
    book_at,
    check_exchanges,
    describe_inventory,
    log_end_ns,
    log_inventory,
    run_replay,
)
from xle.store.derived import Scope
from xle.store.paths import data_root
from xle.timeutil import format_ns

__all__ = ["audit", "book", "replay"]


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
            min=1,
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
        parse_time_option(start, "--from"),
        parse_time_option(end, "--to"),
        check_exchanges(exchange),
        upper_symbols(symbol),
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
            load_config(config),
            workers=workers,
            shard=shard,
            cluster=cluster,
            dry_run=dry_run,
            on_warning=warn,
        )
        _print_summary(summary, root)
        return
    shown = ReplayProgress(
        console(stderr=True), scope.start_ns, scope.end_ns, speed=pace, every=progress_every
    )
    with shown:
        summary = run_replay(
            root,
            scope,
            load_config(config),
            speed=pace,
            dry_run=dry_run,
            progress=shown.update,
            on_warning=warn,
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
    for name, check in summary.cross_checks.items():
        grid.add_row("venue top", f"{name}: {_cross_check_text(check)}")
    if summary.skipped_exchanges:
        grid.add_row("skipped", ", ".join(f"exchange={e}" for e in summary.skipped_exchanges))
    if summary.corrupt_files:
        grid.add_row("unreadable", "; ".join(summary.corrupt_files))
    if summary.dry_run:
        grid.add_row("output", "dry run: nothing written")
    else:
        grid.add_row("output", f"{len(summary.files)} files under {root / 'derived'}")
    console().print(grid)


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
    at_ns = parse_time_option(at, "--at")
    for size in vwap or ():
        check_finite(size, "--vwap", positive=True)
    cfg = load_config(config)
    sym = symbol.upper()
    root = recovered_root(data)
    engine, view = book_at(root, exchange, sym, at_ns, cfg)
    last_ns = log_end_ns(root, exchange)
    if last_ns is not None and at_ns > last_ns:
        warn(
            f"the {exchange} data ends at {format_ns(last_ns)}; this is the book as of then"
            f" ({describe_inventory(log_inventory(root, (exchange,)), exchange)})"
        )
    doc = snapshot(engine, view, exchange, at_ns, depth, tuple(vwap) if vwap else None).to_dict()
    if as_json:
        typer.echo(json.dumps(doc))
        return
    _print_ladder(doc)


def _print_ladder(doc: dict[str, Any]) -> None:
    out = console()
    status = doc["status"]
    colour = "green" if status == "synced" else "red"
    out.print(
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
    out.print(ladder)
    imbalance = doc["imbalance"]
    out.print(
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
    out.print(walks)


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
        recovered_root(data),
        load_config(config),
        start_ns=parse_time_option(start, "--from") if start else None,
        end_ns=parse_time_option(end, "--to") if end else None,
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
    out = console()
    out.print(table)
    venue = Table(title="venue time and top of book", show_edge=False)
    for name in ("exchange", "symbol", "latency p50", "p90", "p99", "max", "clock"):
        left = name in ("exchange", "symbol", "clock")
        venue.add_column(name, justify="left" if left else "right")
    venue.add_column("venue top of book")
    for row in report.rows:
        d = row.to_dict()
        latency, check = d["feed_latency"], d["top_of_book"]
        if latency is None and check is None:
            continue
        cells = ["-"] * 4
        clock = "-"
        if latency is not None:
            cells = [_ns_text(latency[k]) for k in ("p50_ns", "p90_ns", "p99_ns", "max_ns")]
            anomalies = latency["clock_anomalies"]
            clock = "[yellow]" + "; ".join(anomalies) + "[/yellow]" if anomalies else "ok"
        checked = _cross_check_text(check) if check is not None else "-"
        if check is not None and check["disagreed"]:
            checked = f"[yellow]{checked}[/yellow]"
        venue.add_row(d["exchange"], d["symbol"], *cells, clock, checked)
    if venue.row_count:
        out.print(venue)
    if report.skipped_exchanges:
        skipped = ", ".join(f"exchange={e}" for e in report.skipped_exchanges)
        out.print(f"skipped unknown raw partitions: {skipped}")


def _ns_text(ns: int) -> str:
    """A latency for a person: ``-1.273 s``, ``12.5 ms``, ``830.0 µs``."""
    if abs(ns) >= 1_000_000_000:
        return f"{ns / 1e9:.3f} s"
    if abs(ns) >= 1_000_000:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e3:.1f} µs"


def _cross_check_text(check: dict[str, int]) -> str:
    """``1,072 of 1,072 compared agree (100.00%), 0 disagree, 72,102 unmatched``."""
    compared = check["compared"]
    share = f" ({check['agreed'] * 100 / compared:.2f}%)" if compared else ""
    return (
        f"{check['agreed']:,} of {compared:,} compared agree{share}, "
        f"{check['disagreed']:,} disagree, {check['unmatched']:,} unmatched"
    )
