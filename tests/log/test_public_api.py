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
        "BookAudit",
        "BookSnapshot",
        "BookView",
        "ConfigError",
        "DataError",
        "Engine",
        "EngineConfig",
        "IntegrityEvent",
        "IntegrityKind",
        "Log",
        "Quote",
        "RawRecord",
        "Replay",
        "ReplaySummary",
        "UsageError",
        "VwapResult",
        "VwapWalk",
        "XleError",
        "format_ns",
        "load_config",
        "open",
        "parse_time",
        "to_ns",
    ]
