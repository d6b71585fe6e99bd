"""``xle dashboard``: the Dash dashboard, live or over the log.

``--live`` runs the recorder in-process (real venues, or ``--simulator``) and feeds its
engine to the page; ``--replay --from T0 --to T1`` feeds the same engine from the raw
log with play, pause, speed and a scrubber.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from xle.analytics.engine import Engine
from xle.cli.common import live_session, run_until_interrupted, serve, stoppable
from xle.cli.options import (
    ConfigOption,
    DataOption,
    ExchangeOption,
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
from xle.config import EngineConfig, load_config
from xle.errors import DataError, UsageError, XleError
from xle.store.paths import data_root
from xle.timeutil import format_ns, parse_time

__all__ = ["dashboard"]


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


@stoppable
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
    backtest: Annotated[
        str | None,
        typer.Option(
            "--backtest",
            metavar="RUN",
            help="Replay: draw the fills of this written backtest run (its id, as `xle "
            "backtest` prints it) over the mids.",
        ),
    ] = None,
    data: DataOption = None,
    config: ConfigOption = None,
    max_frame: MaxFrameOption = None,
    rest_max_bytes: RestMaxBytesOption = None,
    rest_deadline: RestDeadlineOption = None,
    retry_after_max: RetryAfterMaxOption = None,
    resync_timeout: ResyncTimeoutOption = None,
    unflushed_bytes: UnflushedBytesOption = None,
) -> None:
    """The Dash dashboard: --live (recorder) or --replay --from T0 --to T1 (the log)."""
    from xle.dashboard.history import EpisodeHistory

    try:
        if live == replay:
            raise UsageError("choose one of --live or --replay")
        engine_config = load_config(config)
        root = data_root(data)
        if live:
            from xle.cli.record import resolve_symbols
            from xle.recorder.live import RecorderConfig

            if start is not None or end is not None or backtest is not None:
                raise UsageError("--from/--to/--backtest belong to --replay")
            limits = recorder_limits(
                max_frame,
                rest_max_bytes,
                rest_deadline,
                retry_after_max,
                resync_timeout,
                unflushed_bytes,
            )
            recorder_config = RecorderConfig(
                data_root=root,
                symbols=resolve_symbols(exchange, symbol),
                simulator=simulator,
                roll_seconds=roll_seconds,
                **limits,
            )
            session = live_session(engine_config, recorder_config)
            session.recorder.claim()  # another live recorder of these books: refuse now
            history = EpisodeHistory(root)
            server = serve(session, history, host, port)
            where = f"simulator {simulator}" if simulator else "live venues"
            banner = [f"recording from {where} into {root}/raw"]
        else:
            given = {
                "--max-frame": max_frame,
                "--rest-max-bytes": rest_max_bytes,
                "--rest-deadline": rest_deadline,
                "--retry-after-max": retry_after_max,
                "--resync-timeout": resync_timeout,
                "--unflushed-bytes": unflushed_bytes,
            }
            stray = [flag for flag, value in given.items() if value is not None]
            if stray:
                raise UsageError(f"{', '.join(stray)}: recorder limits belong to --live")
            session, history = _replay_session(
                engine_config, root, start, end, speed, paused, exchange, symbol
            )
            if backtest is not None:
                from xle.dashboard.fills import load_fills

                session.state.fills = load_fills(root, backtest)
            server = serve(session, history, host, port)
            banner = [
                f"replaying {root}/raw from {format_ns(session.start_ns)} "
                f"to {format_ns(session.end_ns)}"
            ]
            if session.start_ns != history.start_ns:
                banner.append(f"(--from {start} is before the first record; starting there)")
            if not paused:
                banner.append("the replay plays once the page is open")
            if session.state.fills is not None:
                fills = session.state.fills
                banner.append(f"backtest {fills.run}: {len(fills):,} fills over the mids")
    except XleError as exc:
        raise fail(str(exc)) from None
    try:
        session.start()
        for line in banner:
            typer.echo(line)
        typer.echo(f"dashboard: {server.url}  (Ctrl-C to stop)")
        # Live: stop with the recorder (e.g. it failed for good); a replay serves until Ctrl-C.
        run_until_interrupted(session.is_alive if live else lambda: True)
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
