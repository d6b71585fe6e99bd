"""xle's public names, pinned: adding or removing one is a decision, made here.

Only ``xle.__all__`` is pinned; the modules behind it (``xle.store.reader``,
``xle.store.layout`` ...) are internal and free to change.
"""

from __future__ import annotations

import xle


def test_xle_all_is_pinned():
    assert sorted(xle.__all__) == [
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
