"""Serving the Dash app: a threaded werkzeug server on 127.0.0.1 in a background thread.

Not ``app.run``: that wants the main thread and prints Flask's development banner. A
plain ``make_server`` lets ``xle dashboard``/``xle demo`` keep the main thread for Ctrl-C
and lets tests serve on port 0 and read back the port the OS picked.
"""

from __future__ import annotations

import logging
import socket
import threading

from dash import Dash
from werkzeug.serving import BaseWSGIServer, make_server, select_address_family

__all__ = ["DashboardServer"]


class DashboardServer:
    """``DashboardServer(app, "127.0.0.1", 0).start()``; ``.url``; ``.stop()``."""

    def __init__(self, app: Dash, host: str = "127.0.0.1", port: int = 8050) -> None:
        # One log line per poll request would drown the terminal; keep warnings.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Bind here, not in werkzeug: on a busy port it prints to stderr and calls
        # sys.exit(1); a plain OSError lets the commands say it in one line.
        family = select_address_family(host, port)
        sock = socket.create_server((host, port), family=family, backlog=128)
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, app.server, threaded=True, fd=sock.fileno()
            )
        finally:
            sock.close()  # werkzeug serves on its own duplicate of the descriptor
        self._server.daemon_threads = True
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="xle-dashboard-http", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> DashboardServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5.0)
        self._server.server_close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
