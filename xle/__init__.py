"""xle -- the cross-exchange liquidity engine.

Record raw Binance / Binance.US / Coinbase Advanced Trade market data verbatim, replay it
deterministically through one L2 book and metrics engine, and look at walk-the-book VWAP,
imbalance and cross-exchange arbitrage in a Dash dashboard or DuckDB.

From Python::

    import xle

    log = xle.open("data")
    for out in log.replay("2026-12-04T06:00:00Z", "2026-12-04T06:10:00Z"):
        ...
    log.book_at("binance", "BTCUSDT", "2026-12-04T06:05:00.123456789Z")
    result = xle.backtest(MyStrategy(), log, "2026-12-04T06:00Z", "2026-12-04T06:10Z")

``__all__`` below is the whole public surface; every other module is internal and may
change. Names are imported on first use, so ``import xle`` stays cheap (the CLI, the
recorder and the dashboard all import it).
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: importing typing slows start-up

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # the log
    "open": "xle.replay.log",
    "Log": "xle.replay.log",
    "Replay": "xle.replay.log",
    "BookSnapshot": "xle.replay.log",
    "VwapWalk": "xle.replay.log",
    "ReplaySummary": "xle.replay.session",
    "AuditReport": "xle.replay.audit",
    "BookAudit": "xle.replay.audit",
    # the engine
    "Engine": "xle.analytics.engine",
    "BookView": "xle.analytics.engine",
    "EngineConfig": "xle.config",
    "load_config": "xle.config",
    # records and outputs
    "RawRecord": "xle.records",
    "Quote": "xle.records",
    "ArbitrageEpisode": "xle.records",
    "IntegrityEvent": "xle.records",
    "IntegrityKind": "xle.records",
    "VwapResult": "xle.records",
    # backtests
    "backtest": "xle.backtesting",
    "Strategy": "xle.backtesting",
    "Context": "xle.backtesting",
    "BacktestResult": "xle.backtesting",
    "OrderUpdate": "xle.backtesting",
    "OrderStatus": "xle.backtesting",
    "RejectReason": "xle.backtesting",
    "Fill": "xle.backtesting",
    "Latency": "xle.backtesting",
    "StrategyError": "xle.backtesting",
    "sweep": "xle.backtesting",
    # times
    "to_ns": "xle.timeutil",
    "parse_time": "xle.timeutil",
    "format_ns": "xle.timeutil",
    # errors
    "XleError": "xle.errors",
    "ConfigError": "xle.errors",
    "DataError": "xle.errors",
    "UsageError": "xle.errors",
}

__all__ = [
    "ArbitrageEpisode",
    "AuditReport",
    "BacktestResult",
    "BookAudit",
    "BookSnapshot",
    "BookView",
    "ConfigError",
    "Context",
    "DataError",
    "Engine",
    "EngineConfig",
    "Fill",
    "IntegrityEvent",
    "IntegrityKind",
    "Latency",
    "Log",
    "OrderStatus",
    "OrderUpdate",
    "Quote",
    "RawRecord",
    "RejectReason",
    "Replay",
    "ReplaySummary",
    "Strategy",
    "StrategyError",
    "UsageError",
    "VwapResult",
    "VwapWalk",
    "XleError",
    "backtest",
    "format_ns",
    "load_config",
    "open",
    "parse_time",
    "sweep",
    "to_ns",
]

if TYPE_CHECKING:
    from xle.analytics.engine import BookView, Engine
    from xle.backtesting import (
        BacktestResult,
        Context,
        Fill,
        Latency,
        OrderStatus,
        OrderUpdate,
        RejectReason,
        Strategy,
        StrategyError,
        backtest,
        sweep,
    )
    from xle.config import EngineConfig, load_config
    from xle.errors import ConfigError, DataError, UsageError, XleError
    from xle.records import (
        ArbitrageEpisode,
        IntegrityEvent,
        IntegrityKind,
        Quote,
        RawRecord,
        VwapResult,
    )
    from xle.replay.audit import AuditReport, BookAudit
    from xle.replay.log import BookSnapshot, Log, Replay, VwapWalk, open
    from xle.replay.session import ReplaySummary
    from xle.timeutil import format_ns, parse_time, to_ns


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xle' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
