"""``xle.backtest``: one call from a log and a strategy to a result, and the files a run
leaves under ``derived/backtests/run=<id>/``."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xle.backtesting.latency import Latency, parse_latency
from xle.backtesting.results import BacktestResult, write_result
from xle.backtesting.runner import run_backtest
from xle.backtesting.strategy import Number, Strategy
from xle.config import EngineConfig, load_config
from xle.errors import DataError, UsageError
from xle.store.fs import ObjectPath, as_root
from xle.timeutil import format_ns, parse_time

if TYPE_CHECKING:
    from xle.replay.fanout import Shard

__all__ = ["backtest", "expand_grid", "load_strategy", "result_dir", "run_id", "sweep", "tagged"]

Time = int | str | None


def _ns(value: Time, what: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_time(str(value))
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


def _root(log: Any) -> Path:
    """A data root from a path or from anything with a ``root`` (an ``xle.open`` log).

    A ``Path`` has a ``root`` attribute of its own (the filesystem root ``/``): paths are
    taken as they are, before looking for one."""
    if isinstance(log, (str, os.PathLike, ObjectPath)):
        return as_root(log)
    root = getattr(log, "root", log)
    return as_root(root if isinstance(root, ObjectPath) else str(root))


def backtest(
    strategy: Strategy,
    log: Any,
    start: Time = None,
    end: Time = None,
    *,
    latency: Mapping[str, Latency | str] | Latency | str | None = None,
    fees: Mapping[str, tuple[float, float]] | None = None,
    balances: Mapping[str, Mapping[str, Number]] | None = None,
    allow_short: bool = False,
    seed: int = 0,
    config: EngineConfig | None = None,
    exchanges: tuple[str, ...] | None = None,
    symbols: tuple[str, ...] | None = None,
    equity_interval_ns: int = 1_000_000_000,
    params: Mapping[str, Any] | None = None,
    write: bool = False,
) -> BacktestResult:
    """Run ``strategy`` over the log between ``start`` and ``end`` (inclusive).

    ``latency``: one ``Latency`` (or spec string like ``"5ms"``) for every venue, or a
    mapping venue -> latency (``"*"`` for the rest). ``fees``: venue -> (maker, taker)
    fractions, overriding the config's. ``balances``: venue -> asset -> amount, else the
    strategy's ``balances``. ``write=True`` also writes the result under the log's
    ``derived/backtests/run=<id>/`` (see ``result_dir``) and sets ``result.run_id``.

    An exception escaping a strategy callback becomes ``StrategyError`` (which callback,
    when, where); bad arguments raise ``UsageError``, an unusable log ``DataError``.
    """
    from xle.replay.session import check_data_root
    from xle.store.reader import read_records

    root = _root(log)
    check_data_root(root)
    start_ns, end_ns = _ns(start, "start"), _ns(end, "end")
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        raise UsageError("end is before start")
    latencies = _latencies(latency)
    records = read_records(root, start_ns, end_ns, exchanges=exchanges, symbols=symbols)
    result = run_backtest(
        strategy,
        records,
        config or load_config(),
        start_ns=start_ns,
        end_ns=end_ns,
        latency=latencies,
        fees=fees,
        balances=balances,
        allow_short=allow_short,
        seed=seed,
        equity_interval_ns=equity_interval_ns,
        params=params,
    )
    result.summary.update(start_ns=start_ns, strategy=type(strategy).__qualname__)
    if write:
        result.run_id = run_id(result, latencies)
        folder = result_dir(root, result.run_id)
        try:
            write_result(result, folder)
        except OSError as exc:
            raise DataError(
                f"cannot write the backtest result to {folder}: {exc.strerror or exc}"
            ) from None
    return result


def _latencies(latency: Mapping[str, Latency | str] | Latency | str | None) -> dict[str, Latency]:
    if latency is None:
        return {}
    if isinstance(latency, (Latency, str)):
        latency = {"*": latency}
    return {
        venue: value if isinstance(value, Latency) else parse_latency(value)
        for venue, value in latency.items()
    }


def run_id(result: BacktestResult, latencies: Mapping[str, Latency]) -> str:
    """A stable id for a run: the same strategy, parameters, range, latency and seed on
    the same data get the same id (and replace that run's files)."""
    doc = {
        "strategy": result.summary.get("strategy"),
        "params": {k: str(v) for k, v in sorted(result.params.items())},
        "start": result.summary.get("start_ns"),
        "end": result.summary.get("end_ns"),
        "seed": result.summary.get("seed"),
        "latency": {k: repr(v) for k, v in sorted(latencies.items())},
        "digest": result.digest,
    }
    blob = json.dumps(doc, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def result_dir(root: str | Path, run: str) -> Path:
    from xle.store.backtests import run_dir

    return run_dir(as_root(root), run)


def load_strategy(spec: str, params: Mapping[str, Any] | None = None) -> Strategy:
    """``path/to/file.py:ClassName`` -> an instance built with ``params`` as keywords."""
    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name:
        raise UsageError(f"strategy must be FILE.py:Class, not {spec!r}")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"strategy file not found: {path}")
    module_name = f"xle_strategy_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise UsageError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(f"{path}: {type(exc).__name__}: {exc}") from exc
    cls = getattr(module, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
        found = sorted(
            n for n, v in vars(module).items()
            if inspect.isclass(v) and issubclass(v, Strategy) and v is not Strategy
        )  # fmt: skip
        raise UsageError(
            f"{path} has no Strategy subclass {name!r} (found: {', '.join(found) or 'none'})"
        )
    try:
        return cls(**dict(params or {}))
    except TypeError as exc:  # a parameter it does not take
        raise UsageError(f"{name}: {exc}") from None
    except Exception as exc:  # the constructor refused a parameter's value
        raise UsageError(f"{name}: {type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------- sweeps


def expand_grid(grid: Mapping[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    """The cartesian product of ``{name: [values]}``, in the order given."""
    if not grid:
        return [{}]
    names = list(grid)
    for name in names:
        if isinstance(grid[name], (str, bytes)) or not len(grid[name]):
            raise UsageError(f"parameter {name!r}: expected a non-empty list of values")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


@dataclass(frozen=True)
class _BacktestJob:
    strategy: Any  # "FILE.py:Class" or a picklable callable building the strategy
    root: str
    start_ns: int | None
    end_ns: int | None
    params: dict[str, Any]
    options: dict[str, Any]
    shard: Shard | None


def _run_backtest_job(job: _BacktestJob) -> BacktestResult:
    """One task of a sweep (a worker process or a Ray task)."""
    if isinstance(job.strategy, str):
        strategy = load_strategy(job.strategy, job.params)
    else:
        strategy = job.strategy(**job.params)
    result = backtest(
        strategy, job.root, job.start_ns, job.end_ns, params=job.params, **job.options
    )
    if job.shard is not None:
        result.summary.update(shard=job.shard.index)
    return result


def sweep(
    strategy: str | Callable[..., Strategy],
    log: Any,
    start: int | str | None = None,
    end: int | str | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    workers: int = 1,
    cluster: str | None = None,
    shard: str | int | None = None,
    independent_shards: bool = False,
    **options: Any,
) -> list[BacktestResult]:
    """Backtests of every combination of ``grid`` (added to the fixed ``params``), run on
    ``workers`` processes or a Ray cluster; one result per combination, in grid order,
    each tagged with its parameters (``result.params``).

    ``strategy`` is ``"FILE.py:Class"`` or a callable (a ``Strategy`` subclass) that
    takes the parameters as keywords; every task builds its own instance, since a
    strategy holds state. Each result equals ``xle.backtest`` run alone with those
    parameters. With ``independent_shards`` the range is also cut into shards (``shard``,
    a UTC day by default), each starting flat; the results are per (combination, shard)
    with ``summary["start_ns"]``, ``summary["end_ns"]`` and ``summary["shard"]`` telling
    which. ``options`` are ``xle.backtest``'s keywords (``latency``, ``fees``,
    ``balances``, ``seed``, ``write``...).
    """
    from xle.replay.fanout import check_workers, parse_shard, plan_shards, run_tasks

    root = _root(log)
    start_ns, end_ns = _ns(start, "start"), _ns(end, "end")
    combos = [{**dict(params or {}), **combo} for combo in expand_grid(grid)]
    check_workers(workers)
    if isinstance(strategy, str):  # a bad file, class or parameter fails here, once
        load_strategy(strategy, combos[0])
    windows: list[tuple[int | None, int | None, Shard | None]] = [(start_ns, end_ns, None)]
    if independent_shards:
        if start_ns is None or end_ns is None:
            from xle.replay.log import open as open_log

            first, last = open_log(root).bounds(options.get("exchanges"))
            start_ns = first if start_ns is None else start_ns
            end_ns = last if end_ns is None else end_ns
        pieces = plan_shards(start_ns, end_ns, parse_shard(shard))
        windows = [(s.start_ns, s.end_ns, s) for s in pieces]
    elif shard is not None:
        raise UsageError("--shard only applies to backtests with --independent-shards")
    jobs = [
        _BacktestJob(strategy, str(root), lo, hi, combo, dict(options), piece)
        for combo in combos
        for lo, hi, piece in windows
    ]
    return run_tasks(_run_backtest_job, jobs, workers=workers, cluster=cluster)


def tagged(results: Sequence[BacktestResult]) -> Iterator[tuple[str, BacktestResult]]:
    """``(tag, result)``: ``k=v, k=v`` and the shard window when there is one."""
    for result in results:
        tag = ", ".join(f"{k}={v}" for k, v in result.params.items()) or "no parameters"
        if "shard" in result.summary:
            lo, hi = result.summary["start_ns"], result.summary["end_ns"]
            tag += f" [{format_ns(lo)} .. {format_ns(hi)}]"
        yield tag, result
