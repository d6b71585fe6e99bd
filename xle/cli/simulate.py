"""``xle simulate``: serve the simulated exchanges on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from xle.cli.options import check_output_file
from xle.errors import UsageError, XleError
from xle.simulator.config import DEFAULT_MARKETS, SimConfig
from xle.simulator.faults import FaultConfig
from xle.simulator.server import Simulator

__all__ = ["simulate"]


def _markets(specs: list[str]) -> dict[str, float]:
    if not specs:
        return dict(DEFAULT_MARKETS)
    markets: dict[str, float] = {}
    for spec in specs:
        name, sep, price = spec.partition("=")
        base, slash, quote = name.partition("/")
        try:
            value = float(price)
        except ValueError:
            value = 0.0
        if not (sep and slash and base and quote) or not 0 < value < math.inf:
            raise UsageError(f"--market {spec!r}: use BASE/QUOTE=PRICE, e.g. BTC/USD=60000")
        markets[name.upper()] = value
    return markets


def _changes(spec: str) -> tuple[int, int]:
    low, sep, high = spec.partition("-")
    if not (sep and low.isdigit() and high.isdigit()) or not 1 <= int(low) <= int(high):
        raise UsageError(f"--changes {spec!r}: use LO-HI with 1 <= LO <= HI, e.g. 5-40")
    return int(low), int(high)


def _finite_faults(specs: list[str]) -> list[str]:
    """``drop:nan`` or ``latency_ms:inf`` parse as floats but mean nothing: refuse them."""
    for spec in specs:
        _name, sep, value = spec.partition(":")
        try:
            number = float(value) if sep else 0.0
        except ValueError:
            continue  # FaultConfig.parse names the bad value
        if not math.isfinite(number):
            raise UsageError(f"--fault: bad fault {spec!r}: {value!r} is not a finite number")
    return specs


def _check_number(value: float | None, option: str, *, zero: bool) -> None:
    """Rates may be 0 (that feed stays quiet); periods must be positive; none may be
    ``nan`` or ``inf``."""
    if value is None or (math.isfinite(value) and (value > 0 or (zero and value == 0))):
        return
    kind = "non-negative and finite" if zero else "positive and finite"
    raise UsageError(f"{option} must be {kind}, not {value:g}")


def simulate(
    port: Annotated[
        int,
        typer.Option(
            metavar="PORT", min=0, max=65535, help="Port on 127.0.0.1 (0: pick a free one)."
        ),
    ] = 0,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed of the market model and the faults.")
    ] = 1,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME:VALUE",
            help="Repeatable: drop, disconnect, disconnect_after, malformed, latency,"
            " latency_ms, snapshot_delay, snapshot_fail (e.g. drop:0.01).",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        float, typer.Option(metavar="N", help="Depth messages/s per Binance book.")
    ] = 10.0,
    coinbase_rate: Annotated[
        float, typer.Option(metavar="N", help="level2 updates/s per Coinbase product.")
    ] = 20.0,
    trade_rate: Annotated[float, typer.Option(metavar="N", help="Trades/s per book.")] = 2.0,
    levels: Annotated[
        int, typer.Option(metavar="N", min=1, help="Levels per side of every book.")
    ] = 300,
    changes: Annotated[
        str | None,
        typer.Option(
            metavar="LO-HI",
            help="Level changes per message on every venue"
            " (default: Binance 5-40, Coinbase 1-12); small messages model faster.",
            show_default=False,
        ),
    ] = None,
    market: Annotated[
        list[str] | None,
        typer.Option(
            metavar="BASE/QUOTE=PRICE",
            help="Canonical market and start price, repeatable (BTC/USD=60000).",
            show_default=False,
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Write the ground truth (true books) to this directory.",
            show_default=False,
        ),
    ] = None,
    ping_interval: Annotated[
        float, typer.Option(metavar="SECONDS", help="Server ping period.")
    ] = 20.0,
    max_lifetime: Annotated[
        float, typer.Option(metavar="SECONDS", help="Lifetime of a connection.")
    ] = 86_400.0,
    duration: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="Stop after this many seconds (default: run until Ctrl-C): the market"
            " stops, what was sent is delivered, then the connections close.",
            show_default=False,
        ),
    ] = None,
    stats_file: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Rewrite this JSON file every --stats-every seconds and once more at the"
            ' end ("final": true): frames each venue sent, dropped by --fault and lost'
            " to clients cut for falling behind, model lag and CPU seconds.",
            show_default=False,
        ),
    ] = None,
    stats_every: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="Seconds between --stats-file rewrites.", min=0.05),
    ] = 1.0,
    tls: Annotated[
        bool,
        typer.Option(
            help="Also serve wss:// and https:// on a second port, under a self-signed"
            " certificate made at start (its path is printed; clients must trust it)."
        ),
    ] = False,
) -> None:
    """Serve simulated Binance, Binance.US and Coinbase feeds on 127.0.0.1; print their URLs."""
    for value, option in ((rate, "--rate"), (coinbase_rate, "--coinbase-rate")):
        _check_number(value, option, zero=True)
    _check_number(trade_rate, "--trade-rate", zero=True)
    for value, option in (
        (ping_interval, "--ping-interval"),
        (max_lifetime, "--max-lifetime"),
        (duration, "--duration"),
        (stats_every, "--stats-every"),
    ):
        _check_number(value, option, zero=False)
    if stats_file is not None:
        check_output_file(stats_file, "--stats-file")
    try:
        faults = FaultConfig.parse(_finite_faults(fault or []))
    except ValueError as exc:
        raise UsageError(f"--fault: {exc}") from None
    per_message = _changes(changes) if changes else None
    try:
        config = SimConfig(
            seed=seed,
            port=port,
            markets=_markets(market or []),
            levels=levels,
            binance_rate=rate,
            coinbase_rate=coinbase_rate,
            trade_rate=trade_rate,
            ping_interval=ping_interval,
            max_lifetime=max_lifetime,
            faults=faults,
            truth_dir=truth,
            tls=tls,
            **({"changes": per_message, "coinbase_changes": per_message} if per_message else {}),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, duration, stats_file, stats_every))


def _write_stats(path: Path, stats: dict[str, Any]) -> None:
    """Replace ``path`` atomically, so a reader never sees half a file."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(msgspec.json.encode(stats))
    os.replace(temp, path)


async def _report(sim: Simulator, path: Path, every: float) -> None:
    while True:
        _write_stats(path, {**sim.stats(), "final": False})
        await asyncio.sleep(every)


async def _serve(
    config: SimConfig, duration: float | None, stats_file: Path | None, stats_every: float
) -> None:
    sim = Simulator(config)
    try:
        await sim.start()
    except OSError as exc:
        where = f"127.0.0.1:{config.port}"
        typer.echo(f"error: cannot serve on {where}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    except XleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    reporter: asyncio.Task[None] | None = None
    try:
        for venue, urls in sim.urls.items():
            symbols = ", ".join(sim.symbols(venue))
            if venue != "coinbase":
                typer.echo(f"{venue:<10} ws   {urls.ws}/ws/<stream>  {urls.ws}/stream?streams=a/b")
                typer.echo(f"{'':<10} rest {urls.rest}/api/v3/depth?symbol=SYMBOL&limit=1000")
                typer.echo(f"{'':<10} rest {urls.rest}/api/v3/exchangeInfo")
            else:
                typer.echo(f"{venue:<10} ws   {urls.ws}")
                typer.echo(f"{'':<10} rest {urls.rest}/api/v3/brokerage/market/products")
            typer.echo(f"{'':<10} symbols {symbols}")
        for venue, urls in sim.tls_urls.items():
            typer.echo(f"{venue:<10} tls  {urls.ws}  {urls.rest}")
        if sim.tls_cert is not None:
            typer.echo(f"tls certificate (trust it in the client) -> {sim.tls_cert}")
        if config.truth_dir is not None:
            typer.echo(f"ground truth -> {config.truth_dir}")
        typer.echo(f"record it with: xle record --simulator 127.0.0.1:{sim.port}")
        typer.echo("serving until Ctrl-C" if duration is None else f"serving for {duration:g} s")
        if stats_file is not None:
            reporter = asyncio.create_task(_report(sim, stats_file, stats_every))
        if duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration)
            sim.pause()  # the market stops; what is queued still goes out
            if stats_file is not None:
                _write_stats(stats_file, {**sim.stats(), "final": False})
            await sim.drain()
    finally:
        if reporter is not None:
            reporter.cancel()
        if stats_file is not None:
            _write_stats(stats_file, {**sim.stats(), "final": True})
        await sim.stop()
