"""``xle.backtest``: one call from a log and a strategy to a result, and the files a run
leaves under ``derived/backtests/run=<id>/``."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xle.backtesting.latency import Latency, parse_latency
from xle.backtesting.results import BacktestResult, write_result
from xle.backtesting.runner import run_backtest
from xle.backtesting.strategy import Number, Strategy
from xle.config import EngineConfig, load_config
from xle.errors import DataError, UsageError
from xle.timeutil import parse_time

__all__ = ["backtest", "load_strategy", "result_dir", "run_id"]

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
    if isinstance(log, (str, os.PathLike)):
        return Path(log)
    return Path(str(getattr(log, "root", log)))


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
        iter(records),
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

    return run_dir(Path(root), run)


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
