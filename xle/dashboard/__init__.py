"""The Dash dashboard (DESIGN section 8): live or replayed engine state in the browser.

    state = DashboardState(Engine(load_config()))
    session = ReplaySession(state, log_source(root, t1), t0, t1, lambda: Engine(cfg)).start()
    app = create_app(session, history=EpisodeHistory(root, t0, t1))
    server = DashboardServer(app, "127.0.0.1", 8050).start()      # server.url

Modules: ``state`` (engine, lock, record-time histories), ``sessions`` (live recorder or
paced replay feeding it), ``figures`` (themed plotly), ``panels`` (HTML pieces),
``history`` (episode table from DuckDB), ``app`` (layout), ``callbacks`` (polling),
``server`` (werkzeug in a thread), ``commands`` (``xle dashboard``, ``xle demo``).
"""

from xle.dashboard.app import create_app
from xle.dashboard.history import EpisodeHistory
from xle.dashboard.server import DashboardServer
from xle.dashboard.sessions import LiveSession, ReplaySession, log_source
from xle.dashboard.state import DashboardState

__all__ = [
    "DashboardServer",
    "DashboardState",
    "EpisodeHistory",
    "LiveSession",
    "ReplaySession",
    "create_app",
    "log_source",
]
