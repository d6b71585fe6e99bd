"""``xle demo``: simulator -> recorder -> engine -> dashboard in one process.

It needs no internet: the simulator serves Binance, Binance.US and Coinbase on
127.0.0.1, the recorder logs them under DIR/demo, the dashboard shows them, until
Ctrl-C; then everything is stopped in reverse order, the log is closed and the command
to replay what was recorded is printed.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from xle.cli.common import live_session, run_until_interrupted, serve, stoppable
from xle.cli.options import (
    ConfigOption,
    HostOption,
    MaxFrameOption,
    PortOption,
    RestDeadlineOption,
    RestMaxBytesOption,
    ResyncTimeoutOption,
    RetryAfterMaxOption,
    UnflushedBytesOption,
    fail,
    recorder_limits,
)
from xle.config import demo_config_path, load_config
from xle.errors import XleError
from xle.store.paths import data_root
from xle.timeutil import format_ns

__all__ = ["demo", "xle_command"]


@stoppable
def demo(
    port: PortOption = 8050,
    host: HostOption = "127.0.0.1",
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Data root; the demo records into its 'demo' folder "
            "(default: $XLE_DATA/demo, else ./data/demo).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated market.")] = 1,
    sim_port: Annotated[
        int,
        typer.Option("--sim-port", min=0, max=65535, help="Simulator port (0: any free port)."),
    ] = 0,
    roll_seconds: Annotated[
        float, typer.Option("--roll-seconds", help="Roll the log every N s.")
    ] = 60.0,
    status_seconds: Annotated[
        float,
        typer.Option("--status-seconds", min=0.0, help="Print a status line every N s (0: never)."),
    ] = 5.0,
    config: ConfigOption = None,
    max_frame: MaxFrameOption = None,
    rest_max_bytes: RestMaxBytesOption = None,
    rest_deadline: RestDeadlineOption = None,
    retry_after_max: RetryAfterMaxOption = None,
    resync_timeout: ResyncTimeoutOption = None,
    unflushed_bytes: UnflushedBytesOption = None,
) -> None:
    """Simulator + recorder + engine + dashboard in one process; no internet needed."""
    from xle.dashboard.history import EpisodeHistory
    from xle.recorder.live import DEFAULT_SYMBOLS, RecorderConfig
    from xle.simulator import SimConfig, start_in_thread

    try:
        engine_config = load_config(config or demo_config_path())
        root = data_root(data) / "demo"
        limits = recorder_limits(
            max_frame,
            rest_max_bytes,
            rest_deadline,
            retry_after_max,
            resync_timeout,
            unflushed_bytes,
        )
        sim = start_in_thread(SimConfig(seed=seed, port=sim_port))
    except (XleError, ValueError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot start the simulator on port {sim_port}: {exc}") from None
    try:
        symbols = {venue: list(syms) for venue, syms in DEFAULT_SYMBOLS.items()}
        recorder_config = RecorderConfig(
            data_root=root,
            symbols=symbols,
            simulator=f"127.0.0.1:{sim.port}",
            roll_seconds=roll_seconds,
            **limits,
        )
        session = live_session(engine_config, recorder_config)
        session.recorder.claim()  # another live recorder of these books: refuse now
        server = serve(session, EpisodeHistory(root), host, port)
    except XleError as exc:
        sim.stop()
        raise fail(str(exc)) from None
    except BaseException:
        sim.stop()
        raise
    try:
        session.start()
        typer.echo(f"simulator: 127.0.0.1:{sim.port}  (binance, binanceus, coinbase)")
        typer.echo(f"recording: {root}/raw  (run {session.recorder.run_id})")
        typer.echo(f"dashboard: {server.url}  (Ctrl-C to stop)")
        sys.stdout.flush()
        status = _DemoStatus(session, root) if status_seconds > 0 else None
        run_until_interrupted(session.is_alive, status, status_seconds)
    finally:
        typer.echo("stopping…")
        server.stop()
        session.stop()
        sim.stop()
    typer.echo(
        f"stopped: {session.recorder.records:,} records in run "
        f"{session.recorder.run_id}; log closed"
    )
    first = session.state.counters.first_recv_ns
    last = session.state.counters.last_recv_ns
    if first is not None and last is not None:
        command = [
            "dashboard", "--replay", "--data", str(root),
            "--from", format_ns(first), "--to", format_ns(last),
            "--config", str(config or demo_config_path()),
        ]  # fmt: skip
        typer.echo(f"replay it: {xle_command(*command)}")


def xle_command(*args: str) -> str:
    """A shell command line running this installation's ``xle`` with ``args``.

    Not a bare ``xle``: after ``make demo`` the virtualenv is not on PATH. It is the
    ``xle`` script next to the running interpreter (relative when under the current
    directory, e.g. ``.venv/bin/xle``), else the interpreter itself with ``-m xle.cli``.
    """
    bin_dir = Path(os.path.abspath(sys.executable)).parent  # not resolved: a venv's python
    script = bin_dir / "xle"
    if script.is_file() and os.access(script, os.X_OK):
        try:
            program = [str(script.relative_to(Path.cwd()))]
        except ValueError:
            program = [str(script)]
    else:
        program = [os.path.abspath(sys.executable), "-m", "xle.cli"]
    return shlex.join([*program, *args])


class _DemoStatus:
    """The demo's periodic status line: what was recorded, book health, episodes."""

    def __init__(self, session: Any, root: Path) -> None:
        self.session = session
        self.root = root
        self._last: tuple[float, int] | None = None

    def __call__(self) -> str:
        state = self.session.state
        records = self.session.recorder.records
        with state.lock:
            engine = state.engine
            keys = engine.book_keys()
            synced = sum(1 for key in keys if engine.is_synced(*key))
            n_open = len(state.open_episodes)
            n_closed = state.closed_total
        now = time.monotonic()
        rate = ""
        if self._last is not None and now > self._last[0]:
            rate = f" ({(records - self._last[1]) / (now - self._last[0]):,.0f}/s)"
        self._last = (now, records)
        return (
            f"status: {records:,} records{rate} · books synced {synced}/{len(keys)} · "
            f"episodes {n_open} open, {n_closed} closed · logging to {self.root}/raw"
        )
