"""Helpers several command modules share: reading times, printing, the data root, and
running a long-lived command (dashboard, demo) until Ctrl-C.

Library code never prints: what it recovered or skipped comes back as notices, and this
module says them aloud as ``warning:`` lines on stderr.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from xle.analytics.engine import Engine
from xle.config import EngineConfig
from xle.errors import DataError, UsageError
from xle.store.fs import StorePath, check_reachable, is_remote
from xle.store.paths import data_root
from xle.timeutil import parse_time

__all__ = [
    "console",
    "existing_root",
    "live_session",
    "open_views",
    "parse_time_option",
    "recovered_root",
    "run_until_interrupted",
    "serve",
    "stoppable",
    "warn",
]


def parse_time_option(text: str, option: str) -> int:
    """``text`` (ISO 8601 or epoch ns) as epoch ns; a bad value names ``option``."""
    try:
        return parse_time(text)  # refuses what does not fit int64 epoch ns
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def upper_symbols(symbols: list[str] | None) -> tuple[str, ...] | None:
    """``--symbol`` values as the venues spell them (upper case, sorted, no repeats)."""
    return tuple(sorted({s.upper() for s in symbols})) if symbols else None


def console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr); not a terminal: wide, so rows never wrap."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 240, soft_wrap=False)


def warn(text: str) -> None:
    typer.echo(f"warning: {text}", err=True)


def existing_root(data: str | Path | None) -> StorePath:
    """The data root, which must exist (a query over nothing is a mistake, not empty)."""
    root = data_root(data)
    if is_remote(root):
        check_reachable(root)
        if not root.is_dir():
            raise DataError(f"nothing under {root}: the prefix is empty")
        return root
    if not root.is_dir():
        raise DataError(f"data directory not found: {root}")
    return root


def recovered_root(data: str | Path | None) -> StorePath:
    """The data root, after saying what reading it recovered or skipped (a crashed run's
    journal, damaged batches): readers recover a dead writer's journal before they read."""
    from xle.replay.session import check_data_root

    root = data_root(data)
    for notice in check_data_root(root):
        warn(notice.message())
    return root


def open_views(root: Path) -> Any:
    """DuckDB over ``root`` with every file the views skipped or recovered said aloud."""
    from xle.store.views import open_views as open_log_views

    views = open_log_views(root)
    for notice in views.notices:
        warn(notice.message())
    return views.con


# --------------------------------------------------------------------------- long-lived commands


@contextmanager
def _stop_signals() -> Iterator[None]:
    """Ctrl-C and ``kill`` stop the command cleanly, however it was started.

    A shell starts a background job (``cmd &``) with SIGINT ignored, and Python then
    leaves it ignored: without installing the handler ourselves, Ctrl-C (or ``kill
    -INT``) would never stop it. SIGTERM is made to act like Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, terminate),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stoppable(command: Callable[..., None]) -> Callable[..., None]:
    """Run ``command`` with Ctrl-C and SIGTERM installed (typer still sees its signature)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        with _stop_signals():
            command(*args, **kwargs)

    return run


def run_until_interrupted(
    alive: Callable[[], bool],
    status: Callable[[], str] | None = None,
    every_s: float = 0.0,
) -> None:
    """Wait for Ctrl-C (or ``alive()`` turning false), printing ``status()`` every so often."""
    due = time.monotonic() + every_s
    with suppress(KeyboardInterrupt):
        while alive():
            time.sleep(min(0.5, every_s) if status is not None else 0.5)
            if status is not None and time.monotonic() >= due:
                typer.echo(status())
                sys.stdout.flush()
                due = time.monotonic() + every_s


def live_session(config: EngineConfig, recorder_config: Any) -> Any:
    """A dashboard session fed by a recorder built from ``recorder_config``, after the
    leftover journals of a crashed run under its data root are recovered (and said)."""
    from xle.dashboard.sessions import LiveSession
    from xle.dashboard.state import DashboardState
    from xle.store.upload import default_journal_dir, is_remote_root, recover_remote
    from xle.store.writer import LogWriter

    root = recorder_config.data_root
    if is_remote_root(root):  # object storage: recover and upload its staging directory
        uri = str(root)
        staging = recorder_config.journal_dir or default_journal_dir(uri)
        recovered = recover_remote(uri, staging).records
    else:
        recovered = LogWriter.recover(root)
    if recovered:
        typer.echo(f"recovered {recovered:,} records from leftover journals")
    return LiveSession.from_config(DashboardState(Engine(config)), recorder_config)


def serve(session: Any, history: Any, host: str, port: int) -> Any:
    """The dashboard of ``session`` served on ``host:port``; a port in use is one line."""
    from xle.dashboard.app import create_app
    from xle.dashboard.server import DashboardServer

    try:
        return DashboardServer(create_app(session, history=history), host, port).start()
    except OSError as exc:
        plain = isinstance(exc.errno, int) and exc.errno > 0  # not a resolver error
        reason = os.strerror(exc.errno) if plain else (exc.strerror or str(exc))
        raise UsageError(f"cannot serve on {host}:{port}: {reason}") from None
