"""The Dash dashboard: live or replayed engine state in the browser (docs/design.md,
"The dashboard").

    state = DashboardState(Engine(load_config()))
    session = ReplaySession(state, log_source(root, t1), t0, t1, lambda: Engine(cfg)).start()
    app = create_app(session, history=EpisodeHistory(root, t0, t1))
    server = DashboardServer(app, "127.0.0.1", 8050).start()      # server.url

Modules: ``state`` (engine, lock, record-time histories), ``sessions`` (live recorder or
paced replay feeding it), ``figures`` (themed plotly), ``panels`` (HTML pieces),
``history`` (episode table from DuckDB), ``app`` (layout), ``callbacks`` (polling),
``server`` (werkzeug in a thread), ``commands`` (``xle dashboard``, ``xle demo``).
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module defining it. Imported on first use (PEP 562): Dash and
#: plotly are slow and heavy to import (benchmarks/README.md), which every other ``xle``
#: command (they all load this package's ``commands``) would otherwise pay.
_EXPORTS = {
    "DashboardServer": "xle.dashboard.server",
    "DashboardState": "xle.dashboard.state",
    "EpisodeHistory": "xle.dashboard.history",
    "LiveSession": "xle.dashboard.sessions",
    "ReplaySession": "xle.dashboard.sessions",
    "create_app": "xle.dashboard.app",
    "log_source": "xle.dashboard.sessions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
