"""``xle backtest``: run a strategy file over the log, print the summary, write the result
and an HTML report.

Bad input is one line on stderr and exit status 2 (like every ``xle`` command); a
strategy that raises inside a callback is one line naming the callback, the time and the
exception, and exit status 1: the run is the strategy's fault, not the command line's.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated, Any

import typer

from xle.backtesting.runner import StrategyError
from xle.cli.options import ConfigOption, DataOption
from xle.errors import UsageError, XleError

__all__ = ["backtest", "parse_balances", "parse_latencies", "parse_param_grid", "parse_params"]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``k=v`` pairs; a value is a Python literal when it reads as one, else the string."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--param expects NAME=VALUE, not {item!r}")
        try:
            params[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            params[key] = text.strip()
    return params


def parse_param_grid(items: list[str] | None) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """``--param`` values split into fixed ones and swept ones: ``k=v1,v2`` (a bare
    comma list) sweeps ``k`` over ``v1`` and ``v2``; a bracketed ``k=[1,2]`` or
    ``k=(1,2)`` stays one value."""
    fixed = parse_params(items)
    grid: dict[str, list[Any]] = {}
    for item in items or []:
        key, _, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if "," not in text or text[:1] in "([{'\"":
            continue
        values = [part.strip() for part in text.split(",")]
        if any(not value for value in values):
            raise UsageError(f"--param {key}: empty value in {text!r}")
        grid[key] = [parse_params([f"{key}={value}"])[key] for value in values]
        fixed.pop(key, None)
    return fixed, grid


def parse_latencies(items: list[str] | None) -> dict[str, str]:
    """``VENUE=SPEC`` per venue; a bare SPEC (no venue) applies to every venue (``*``).

    A spec may itself hold ``=`` (``entry=5ms,response=3ms``): the part before the first
    ``=`` is a venue only when it is not one of the spec's own keys.
    """
    latencies: dict[str, str] = {}
    for item in items or []:
        head, sep, rest = item.partition("=")
        head = head.strip()
        if sep and head and head not in ("entry", "response", "feed", "file") and "," not in head:
            latencies[head] = rest.strip()
        else:
            latencies["*"] = item.strip()
    return latencies


def parse_balances(items: list[str] | None) -> dict[str, dict[str, str]] | None:
    """``VENUE:ASSET=AMOUNT`` (repeatable) -> venue -> asset -> amount; None when absent."""
    if not items:
        return None
    balances: dict[str, dict[str, str]] = {}
    for item in items:
        where, sep, amount = item.partition("=")
        venue, colon, asset = where.partition(":")
        if not sep or not colon or not venue.strip() or not asset.strip() or not amount.strip():
            raise UsageError(f"--balance expects VENUE:ASSET=AMOUNT, not {item!r}")
        balances.setdefault(venue.strip(), {})[asset.strip()] = amount.strip()
    return balances


def backtest(
    strategy: Annotated[str, typer.Argument(help="The strategy: FILE.py:Class.")],
    start: Annotated[str, typer.Option("--from", help="Start: ISO 8601 (UTC) or epoch ns.")],
    end: Annotated[str, typer.Option("--to", help="End (inclusive).")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Strategy parameter NAME=VALUE (repeatable); NAME=V1,V2 sweeps its values.",
        ),
    ] = None,
    latency: Annotated[
        list[str] | None,
        typer.Option(
            "--latency",
            help="VENUE=SPEC or SPEC for every venue: 5ms, entry=5ms,response=3ms,feed=1ms, "
            "file=PATH (repeatable).",
        ),
    ] = None,
    balance: Annotated[
        list[str] | None,
        typer.Option(
            "--balance", help="Starting VENUE:ASSET=AMOUNT (repeatable; replaces the strategy's)."
        ),
    ] = None,
    allow_short: Annotated[
        bool, typer.Option("--allow-short", help="Let balances go negative.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the latency draws.")] = 0,
    data: DataOption = None,
    config: ConfigOption = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="HTML report path (default: the run folder's report.html)."),
    ] = None,
    no_write: Annotated[
        bool, typer.Option("--no-write", help="Print the summary only; write no files.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option("--workers", metavar="N", help="Run the sweep's backtests on N processes."),
    ] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="ray|ray://HOST:PORT",
            help="Run one Ray task per backtest on a local Ray or a cluster.",
        ),
    ] = None,
    independent_shards: Annotated[
        bool,
        typer.Option(
            "--independent-shards",
            help="Also split the range into shards (UTC days, or --shard), each starting flat.",
        ),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="DURATION", help="Shard length: 1d, 6h (default 1d)."),
    ] = None,
) -> None:
    """Run a strategy on the recorded books: print the summary, write the result under
    DIR/derived/backtests/run=<id>/ (queryable as orders, fills, positions, equity,
    backtests) and an HTML report."""
    from xle.backtesting.api import backtest as run
    from xle.backtesting.api import load_strategy
    from xle.config import load_config
    from xle.store.paths import data_root
    from xle.timeutil import parse_time

    try:
        try:
            start_ns, end_ns = parse_time(start), parse_time(end)
        except ValueError as exc:
            raise UsageError(f"--from/--to: {exc}") from None
        params, grid = parse_param_grid(param)
        instance = load_strategy(strategy, {**params, **{k: v[0] for k, v in grid.items()}})
        cfg = load_config(config)
        root = data_root(data)
        latencies = parse_latencies(latency)
        balances = parse_balances(balance)
    except XleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if grid or independent_shards or workers != 1 or cluster is not None or shard is not None:
        options = dict(latency=latencies or None, balances=balances, allow_short=allow_short,
                       seed=seed, config=cfg, write=not no_write)  # fmt: skip
        _sweep(strategy, root, start_ns, end_ns, params, grid, options, workers, cluster,
               shard, independent_shards, None if no_write else cfg)  # fmt: skip
        return
    try:
        result = run(
            instance,
            root,
            start_ns,
            end_ns,
            latency=latencies or None,
            balances=balances,
            allow_short=allow_short,
            seed=seed,
            config=cfg,
            params=params,
            write=not no_write,
        )
    except StrategyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except XleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for line in result.summary_lines():
        typer.echo(line)
    if no_write:
        return
    from xle.backtesting.api import result_dir
    from xle.backtesting.report import write_report

    assert result.run_id is not None
    folder = result_dir(root, result.run_id)
    target = report or folder / "report.html"
    try:
        write_report(result, target, cfg)
    except OSError as exc:
        typer.echo(f"error: cannot write the report {target}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"run {result.run_id}: {folder}")
    typer.echo(f"report {target}")


def _sweep(
    strategy: str,
    root: Path,
    start_ns: int,
    end_ns: int,
    params: dict[str, Any],
    grid: dict[str, list[Any]],
    options: dict[str, Any],
    workers: int,
    cluster: str | None,
    shard: str | None,
    independent_shards: bool,
    report_config: Any,
) -> None:
    """The fan-out form of ``xle backtest``: one summary block per result, tagged with its
    parameters (and shard), then its run folder and report when written."""
    from xle.backtesting.api import result_dir, sweep, tagged
    from xle.backtesting.report import write_report

    try:
        results = sweep(strategy, root, start_ns, end_ns, grid=grid, params=params,
                        workers=workers, cluster=cluster, shard=shard,
                        independent_shards=independent_shards, **options)  # fmt: skip
    except StrategyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except XleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for tag, result in tagged(results):
        typer.echo(f"== {tag}")
        for line in result.summary_lines():
            typer.echo(line)
        if report_config is None or result.run_id is None:
            continue
        folder = result_dir(root, result.run_id)
        try:
            write_report(result, folder / "report.html", report_config)
        except OSError as exc:
            typer.echo(
                f"error: cannot write the report in {folder}: {exc.strerror or exc}", err=True
            )
            raise typer.Exit(2) from None
        typer.echo(f"run {result.run_id}: {folder}")
