"""``xle dashboard`` and ``xle demo`` (docs/design.md, "The dashboard").

``dashboard --live`` runs the recorder in-process (real venues, or ``--simulator``) and
feeds its engine to the page; ``dashboard --replay --from T0 --to T1`` feeds the same
engine from the raw log with play, pause, speed and a scrubber. ``demo`` needs no
internet: simulator -> recorder -> engine -> dashboard in one process, until Ctrl-C,
then everything is stopped in reverse order and the log is closed.
"""

from __future__ import annotations

import functools
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

import typer

from xle.analytics.engine import Engine
from xle.cli_options import ConfigOption, DataOption, ExchangeOption
from xle.config import EngineConfig, demo_config_path, load_config
from xle.errors import DataError, UsageError, XleError
from xle.store.paths import data_root
from xle.timeutil import format_ns, parse_time

__all__ = ["COMMANDS", "dashboard", "demo", "xle_command"]

PortOption = Annotated[
    int,
    typer.Option("--port", min=0, max=65535, help="HTTP port of the dashboard (0: any free port)."),
]
HostOption = Annotated[
    str, typer.Option("--host", help="Interface to bind (keep 127.0.0.1 unless you mean it).")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _time(text: str | None, option: str) -> int:
    if text is None:
        raise UsageError(f"--replay needs {option}")
    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--speed must be 'max' or a positive number, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise UsageError(f"--speed must be 'max' or a positive number, not {text!r}")
    return value


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


def _stoppable(command: Callable[..., None]) -> Callable[..., None]:
    """Run ``command`` under :func:`_stop_signals` (typer still sees its signature)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        with _stop_signals():
            command(*args, **kwargs)

    return run


def _run_until_interrupted(
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


def _live_session(
    config: EngineConfig,
    root: Path,
    symbols: dict[str, list[str]],
    simulator: str | None,
    roll_seconds: float,
) -> Any:
    from xle.dashboard.sessions import LiveSession
    from xle.dashboard.state import DashboardState
    from xle.recorder.live import RecorderConfig
    from xle.store.writer import LogWriter

    recovered = LogWriter.recover(root)
    if recovered:
        typer.echo(f"recovered {recovered:,} records from leftover journals")
    cfg = RecorderConfig(
        data_root=root, symbols=symbols, simulator=simulator, roll_seconds=roll_seconds
    )
    return LiveSession.from_config(DashboardState(Engine(config)), cfg)


def _serve(session: Any, history: Any, host: str, port: int) -> Any:
    from xle.dashboard.app import create_app
    from xle.dashboard.server import DashboardServer

    try:
        return DashboardServer(create_app(session, history=history), host, port).start()
    except OSError as exc:
        plain = isinstance(exc.errno, int) and exc.errno > 0  # not a resolver error
        reason = os.strerror(exc.errno) if plain else (exc.strerror or str(exc))
        raise UsageError(f"cannot serve on {host}:{port}: {reason}") from None


@_stoppable
def dashboard(
    live: Annotated[
        bool, typer.Option("--live", help="Feed the engine from the recorder.")
    ] = False,
    replay: Annotated[
        bool, typer.Option("--replay", help="Feed the engine from the raw log (--from/--to).")
    ] = False,
    start: Annotated[
        str | None, typer.Option("--from", help="Replay start T0: ISO 8601 (UTC) or epoch ns.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Replay end T1 (inclusive).")] = None,
    speed: Annotated[
        str, typer.Option("--speed", help="Replay speed: N x record time, or 'max'.")
    ] = "1",
    paused: Annotated[bool, typer.Option("--paused", help="Open a replay paused at T0.")] = False,
    simulator: Annotated[
        str | None,
        typer.Option("--simulator", help="Live: HOST:PORT of `xle simulate` instead of venues."),
    ] = None,
    exchange: ExchangeOption = None,
    symbol: Annotated[
        list[str] | None,
        typer.Option("--symbol", "-s", help="EX:SYM or SYM (repeatable)."),
    ] = None,
    port: PortOption = 8050,
    host: HostOption = "127.0.0.1",
    roll_seconds: Annotated[
        float, typer.Option("--roll-seconds", help="Live: roll the log every N s.")
    ] = 60.0,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """The Dash dashboard: --live (recorder) or --replay --from T0 --to T1 (the log)."""
    from xle.dashboard.history import EpisodeHistory

    try:
        if live == replay:
            raise UsageError("choose one of --live or --replay")
        engine_config = load_config(config)
        root = data_root(data)
        if live:
            from xle.recorder.commands import resolve_symbols

            if start is not None or end is not None:
                raise UsageError("--from/--to belong to --replay")
            session = _live_session(
                engine_config, root, resolve_symbols(exchange, symbol), simulator, roll_seconds
            )
            history = EpisodeHistory(root)
            server = _serve(session, history, host, port)
            where = f"simulator {simulator}" if simulator else "live venues"
            banner = [f"recording from {where} into {root}/raw"]
        else:
            session, history = _replay_session(
                engine_config, root, start, end, speed, paused, exchange, symbol
            )
            server = _serve(session, history, host, port)
            banner = [
                f"replaying {root}/raw from {format_ns(session.start_ns)} "
                f"to {format_ns(session.end_ns)}"
            ]
            if session.start_ns != history.start_ns:
                banner.append(f"(--from {start} is before the first record; starting there)")
            if not paused:
                banner.append("the replay plays once the page is open")
    except XleError as exc:
        raise _fail(str(exc)) from None
    try:
        session.start()
        for line in banner:
            typer.echo(line)
        typer.echo(f"dashboard: {server.url}  (Ctrl-C to stop)")
        # Live: stop with the recorder (e.g. it failed for good); a replay serves until Ctrl-C.
        _run_until_interrupted(session.is_alive if live else lambda: True)
    finally:
        typer.echo("stopping…")
        server.stop()
        session.stop()
    typer.echo("stopped")


def _replay_session(
    engine_config: EngineConfig,
    root: Path,
    start: str | None,
    end: str | None,
    speed: str,
    paused: bool,
    exchange: list[str] | None,
    symbol: list[str] | None,
) -> tuple[Any, Any]:
    from xle.dashboard.history import EpisodeHistory
    from xle.dashboard.sessions import ReplaySession, first_record_ns, log_source
    from xle.dashboard.state import DashboardState
    from xle.replay.session import check_data_root, check_exchanges, check_range
    from xle.store.paths import raw_dir

    start_ns, end_ns = _time(start, "--from"), _time(end, "--to")
    check_range(start_ns, end_ns)
    check_data_root(root)
    exchanges = check_exchanges(exchange)
    symbols = tuple(sorted({s.upper() for s in symbol})) if symbol else None
    first_ns = first_record_ns(root, start_ns, end_ns, exchanges, symbols)
    if first_ns is None:  # the words of ``xle replay``
        raise DataError(
            f"no records between {format_ns(start_ns)} and {format_ns(end_ns)} in {raw_dir(root)}"
        )
    session = ReplaySession(
        DashboardState(Engine(engine_config)),
        log_source(root, end_ns, exchanges, symbols),
        first_ns,
        end_ns,
        lambda: Engine(engine_config),
        speed=_speed(speed),
        playing=not paused,
        wait_for_viewer=True,
    )
    return session, EpisodeHistory(root, start_ns, end_ns)


@_stoppable
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
) -> None:
    """Simulator + recorder + engine + dashboard in one process; no internet needed."""
    from xle.dashboard.history import EpisodeHistory
    from xle.recorder.live import DEFAULT_SYMBOLS
    from xle.simulator import SimConfig, start_in_thread

    try:
        engine_config = load_config(config or demo_config_path())
        root = data_root(data) / "demo"
        sim = start_in_thread(SimConfig(seed=seed, port=sim_port))
    except (XleError, ValueError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot start the simulator on port {sim_port}: {exc}") from None
    try:
        symbols = {venue: list(syms) for venue, syms in DEFAULT_SYMBOLS.items()}
        session = _live_session(engine_config, root, symbols, f"127.0.0.1:{sim.port}", roll_seconds)
        server = _serve(session, EpisodeHistory(root), host, port)
    except XleError as exc:
        sim.stop()
        raise _fail(str(exc)) from None
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
        _run_until_interrupted(session.is_alive, status, status_seconds)
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


COMMANDS = [dashboard, demo]
