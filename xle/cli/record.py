"""``xle record``: capture live feeds into the raw log until Ctrl-C or ``--duration``.

A thin Typer layer over ``xle.recorder.live.Recorder``: it resolves which symbols of
which venues to record, recovers leftover journals of a crashed run, installs SIGINT /
SIGTERM handlers that stop the recorder gracefully (flush and close the log), shows a
live status table while recording and a summary at the end.

``--stats-file PATH`` makes the run observable from outside: once a second the recorder
flushes the log (fsync) and then rewrites PATH atomically with its counters, including
``durable_seq``, the last ``seq`` that was on disk when the file was written. A crash test
can kill the process at any moment and check that every record up to the last
``durable_seq`` it read is in the log.

``--data s3://bucket/prefix`` records into object storage: the journal and the rolled
files are staged in ``--journal-dir`` (default under the user's cache directory) and each
rolled file is uploaded as one object (``xle.store.upload``). Before it starts, the
command recovers what a crashed run left in the staging directory and uploads it;
``--recover-only`` does only that. Recorders of the same venue and symbol into one root
(local, or one staging directory) are refused (``xle.recorder.shards``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from xle.analytics.engine import Engine, Output
from xle.cli.options import (
    ConfigOption,
    ExchangeOption,
    MaxFrameOption,
    RestDeadlineOption,
    RestMaxBytesOption,
    ResyncTimeoutOption,
    RetryAfterMaxOption,
    UnflushedBytesOption,
    check_finite,
    check_host_port,
    check_output_file,
    recorder_limits,
    venue_urls,
)
from xle.config import load_config
from xle.errors import DataError, UsageError
from xle.exchanges.registry import EXCHANGES
from xle.recorder.live import DEFAULT_SYMBOLS, Recorder, RecorderConfig, venue_endpoints
from xle.records import IntegrityEvent, RawRecord
from xle.store.paths import data_root
from xle.store.upload import (
    RemoteRecovery,
    default_journal_dir,
    is_remote_root,
    recover_remote,
    redact_uri,
)
from xle.store.writer import LogWriter

__all__ = ["record", "resolve_symbols", "rest_venues"]


def resolve_symbols(exchanges: list[str] | None, symbols: list[str] | None) -> dict[str, list[str]]:
    """Which symbols to record per venue.

    ``EX:SYM`` applies to that venue, a plain ``SYM`` to every selected venue. Venues are
    those given with ``--exchange``; without it, those named in ``EX:SYM``; without
    either, all three. A venue left without symbols records its defaults.
    """
    for ex in exchanges or []:
        if ex not in EXCHANGES:
            raise UsageError(f"unknown exchange {ex!r} (known: {', '.join(EXCHANGES)})")
    explicit: dict[str, list[str]] = {}
    plain: list[str] = []
    for item in symbols or []:
        venue, sep, sym = item.partition(":")
        if sep:
            if venue not in EXCHANGES:
                raise UsageError(
                    f"--symbol {item!r}: unknown exchange {venue!r} (use EX:SYM or SYM)"
                )
            if not sym.strip():
                raise UsageError(f"--symbol {item!r}: empty symbol")
            explicit.setdefault(venue, []).append(sym.strip().upper())
        elif item.strip():
            plain.append(item.strip().upper())
    venues = list(dict.fromkeys(exchanges or [])) or [v for v in EXCHANGES if v in explicit]
    if not venues:
        venues = list(EXCHANGES)
    stray = sorted(set(explicit) - set(venues))
    if stray:
        raise UsageError(f"--symbol names {stray} but --exchange does not select them")
    chosen: dict[str, list[str]] = {}
    for venue in venues:
        wanted = explicit.get(venue, []) + plain
        chosen[venue] = list(dict.fromkeys(wanted)) or list(DEFAULT_SYMBOLS[venue])
    return chosen


def rest_venues() -> tuple[str, ...]:
    """The venues the recorder reads over REST too (snapshots): those ``--rest-url`` takes."""
    cfg = RecorderConfig(data_root=Path())
    return tuple(v for v in EXCHANGES if venue_endpoints(cfg, v)[1] is not None)


class _Status:
    """Counts what the engine reports and renders the live table / plain status lines."""

    def __init__(self, recorder: Recorder, engine: Engine | None) -> None:
        self.recorder = recorder
        self.engine = engine
        self.integrity: Counter[tuple[str, str]] = Counter()
        self.started = time.monotonic()
        self._last_frames = {v: 0 for v in recorder.venues}
        self._last_time = self.started
        self.rates = {v: 0.0 for v in recorder.venues}

    def listener(self, rec: RawRecord, outputs: list[Output]) -> None:
        for out in outputs:
            if type(out) is IntegrityEvent:
                self.integrity[(out.exchange, out.kind)] += 1

    def tick(self) -> None:
        now = time.monotonic()
        span = max(now - self._last_time, 1e-9)
        for venue, stats in self.recorder.stats.items():
            self.rates[venue] = (stats.frames - self._last_frames[venue]) / span
            self._last_frames[venue] = stats.frames
        self._last_time = now

    def books(self, venue: str) -> tuple[int, int]:
        if self.engine is None:
            return 0, 0
        keys = [k for k in self.engine.book_keys() if k[0] == venue]
        return sum(self.engine.is_synced(*k) for k in keys), len(keys)

    def table(self, *, final: bool = False) -> Table:
        elapsed = time.monotonic() - self.started
        title = f"xle record  run {self.recorder.run_id}  {elapsed:,.0f} s"
        upload = self.upload_line()
        table = Table(title=title, title_justify="left", caption=upload, caption_justify="left")
        columns = ["venue", "conns", "frames", "frames/s" if not final else "avg/s", "MB"]
        columns += ["snapshots", "resyncs", "reconnects", "books synced", "gaps", "errors"]
        for name in columns:
            table.add_column(name, justify="left" if name == "venue" else "right")
        for venue, s in self.recorder.stats.items():
            synced, total = self.books(venue)
            rate = s.frames / max(elapsed, 1e-9) if final else self.rates[venue]
            errors = self.integrity[(venue, "recorder_error")] + s.rest_errors
            table.add_row(
                venue, str(s.open_connections), f"{s.frames:,}", f"{rate:,.0f}",
                f"{s.bytes / 1e6:,.1f}", str(s.snapshot_fetches), str(s.resyncs),
                str(s.reconnects), f"{synced}/{total}" if self.engine else "-",
                str(self.integrity[(venue, "gap")]), str(errors),
            )  # fmt: skip
        return table

    def line(self) -> str:
        parts = [f"run {self.recorder.run_id}", f"records {self.recorder.records:,}"]
        for venue, s in self.recorder.stats.items():
            synced, total = self.books(venue)
            books = f" books {synced}/{total}" if self.engine else ""
            parts.append(f"{venue} {s.frames:,} ({self.rates[venue]:,.0f}/s){books}")
        if (upload := self.upload_line()) is not None:
            parts.append(upload)
        return "  ".join(parts)

    def upload_line(self) -> str | None:
        """Uploads to object storage: done, waiting, and the last failure (None if local)."""
        up = self.recorder.upload_stats
        if up is None:
            return None
        text = f"uploaded {up.uploaded:,} files ({up.bytes / 1e6:,.1f} MB), {up.waiting:,} waiting"
        return f"{text}; last upload error: {up.last_error}" if up.last_error else text

    def snapshot(self, durable_seq: int) -> dict[str, Any]:
        data = self.recorder.stats_dict()
        data["time_ns"] = time.time_ns()
        data["durable_seq"] = durable_seq
        data["books"] = {
            v: dict(zip(("synced", "total"), self.books(v), strict=True))
            for v in self.recorder.venues
        }
        data["integrity"] = {f"{ex}:{kind}": n for (ex, kind), n in sorted(self.integrity.items())}
        return data


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


async def _main(
    recorder: Recorder, status: _Status, console: Console, stats_file: Path | None, every: float
) -> None:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, recorder.stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread / platform
            pass
    task = asyncio.create_task(recorder.run())
    live = (
        Live(status.table(), console=console, auto_refresh=False, transient=True)
        if console.is_terminal
        else None
    )
    last_line = time.monotonic()
    try:
        if live is not None:
            live.start()
        while not task.done():
            await asyncio.wait({task}, timeout=1.0)
            if task.done():
                break
            durable = await recorder.checkpoint() if stats_file is not None else recorder.records
            status.tick()
            if stats_file is not None:
                _write_atomic(stats_file, msgspec.json.encode(status.snapshot(durable)))
            if live is not None:
                live.update(status.table(), refresh=True)
            elif time.monotonic() - last_line >= every:
                last_line = time.monotonic()
                console.print(status.line(), highlight=False)
    finally:
        if live is not None:
            live.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
    await task
    status.tick()
    if stats_file is not None:
        _write_atomic(stats_file, msgspec.json.encode(status.snapshot(recorder.records)))


def record(
    exchange: ExchangeOption = None,
    symbol: Annotated[
        list[str] | None,
        typer.Option(
            "--symbol",
            "-s",
            metavar="[EX:]SYMBOL",
            help="EX:SYM for one exchange or SYM for every selected one (repeatable). "
            "Default: BTC and ETH against USD(T) on each exchange.",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            metavar="SECONDS",
            help="Stop after this many seconds (default: at Ctrl-C).",
            show_default=False,
        ),
    ] = None,
    simulator: Annotated[
        str | None,
        typer.Option(
            "--simulator",
            metavar="HOST:PORT",
            help="Address of `xle simulate`: every exchange is read from there.",
            show_default=False,
        ),
    ] = None,
    ws_url: Annotated[
        list[str] | None,
        typer.Option(
            "--ws-url",
            metavar="VENUE=URL",
            help="WebSocket URL of one venue (repeatable): the base for binance and "
            "binanceus (/stream?streams=... is appended), the full URL for coinbase.",
            show_default=False,
        ),
    ] = None,
    rest_url: Annotated[
        list[str] | None,
        typer.Option(
            "--rest-url",
            metavar="VENUE=URL",
            help="REST base URL of one venue (repeatable; binance and binanceus: "
            "/api/v3/depth... is appended).",
            show_default=False,
        ),
    ] = None,
    roll_seconds: Annotated[
        float,
        typer.Option(
            "--roll-seconds", metavar="SECONDS", help="Roll the journal into Parquet this often."
        ),
    ] = 60.0,
    data: Annotated[
        # A string, not a Path: Path("s3://bucket/x") would collapse the "//" of a URI.
        str | None,
        typer.Option(
            "--data",
            metavar="DIR|URI",
            help="Data root: a directory or an object-storage URI such as s3://bucket/prefix "
            "(endpoint and credentials from the AWS_* environment variables; "
            "default: $XLE_DATA, else ./data).",
            show_default=False,
        ),
    ] = None,
    journal_dir: Annotated[
        Path | None,
        typer.Option(
            "--journal-dir",
            metavar="DIR",
            help="Local staging directory (journal and rolled files waiting for upload) of an "
            "object-storage --data. Default: $XDG_CACHE_HOME/xle/journal/<hash of the URI>.",
            show_default=False,
        ),
    ] = None,
    recover_only: Annotated[
        bool,
        typer.Option(
            "--recover-only",
            help="Recover crashed journals to Parquet (and, for object storage, upload "
            "every staged file), then exit without recording.",
        ),
    ] = False,
    config: ConfigOption = None,
    no_engine: Annotated[
        bool,
        typer.Option(
            "--no-engine", help="Capture only: no live gap detection and no resynchronisation."
        ),
    ] = False,
    products_per_connection: Annotated[
        int, typer.Option(metavar="N", min=1, help="Coinbase products per WebSocket connection.")
    ] = 10,
    stats_file: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Rewrite this JSON file every second with counters and durable_seq.",
            show_default=False,
        ),
    ] = None,
    status_every: Annotated[
        float,
        typer.Option(
            metavar="SECONDS", help="Seconds between status lines when not on a terminal."
        ),
    ] = 5.0,
    max_frame: MaxFrameOption = None,
    rest_max_bytes: RestMaxBytesOption = None,
    rest_deadline: RestDeadlineOption = None,
    retry_after_max: RetryAfterMaxOption = None,
    resync_timeout: ResyncTimeoutOption = None,
    unflushed_bytes: UnflushedBytesOption = None,
) -> None:
    """Capture live feeds into the raw log until Ctrl-C or --duration."""
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)
    # A bad argument, a read-only or full data directory: one line via xle.cli's wrapper.
    try:
        chosen = resolve_symbols(exchange, symbol)
        if duration is not None:
            check_finite(duration, "--duration", positive=True)
        check_finite(roll_seconds, "--roll-seconds", positive=True)
        check_finite(status_every, "--status-every", positive=True)
        if simulator is not None:
            check_host_port(simulator, "--simulator")
        ws_urls = venue_urls(ws_url, "--ws-url", ("ws", "wss"))
        rest_urls = venue_urls(rest_url, "--rest-url", ("http", "https"), rest_venues())
        limits = recorder_limits(
            max_frame,
            rest_max_bytes,
            rest_deadline,
            retry_after_max,
            resync_timeout,
            unflushed_bytes,
        )
        if stats_file is not None:
            check_output_file(stats_file, "--stats-file")
        text = data or os.environ.get("XLE_DATA") or ""
        remote = is_remote_root(text)
        root: Path | str = text.rstrip("/") if remote else data_root(text or None)
        if journal_dir is not None and not remote:
            raise UsageError("--journal-dir is for an object-storage --data (s3://...)")
        staging = (journal_dir or default_journal_dir(text)) if remote else None
        if recover_only:
            _recover_only(console, root, staging)
            return
        cfg = RecorderConfig(
            data_root=root,
            journal_dir=staging,
            symbols=chosen,
            simulator=simulator,
            ws_urls=ws_urls,
            rest_urls=rest_urls,
            roll_seconds=roll_seconds,
            duration=duration,
            products_per_connection=products_per_connection,
            **limits,
        )
        engine = None if no_engine else Engine(load_config(config))
        recorder = Recorder(cfg, engine=engine)
        recorder.claim()  # refuse a second recorder of the same books before touching files
        if staging is not None:
            _print_recovery(console, recover_remote(str(root), staging), str(root), staging)
            where = f"{redact_uri(str(root))}/raw  (staging in {staging})"
        else:
            recovered = LogWriter.recover(Path(root))
            if recovered:
                console.print(
                    f"recovered {recovered:,} records from leftover journals", highlight=False
                )
            where = f"{root}/raw"
        status = _Status(recorder, engine)
        recorder.listener = status.listener
        venues = ", ".join(f"{v} {' '.join(s)}" for v, s in chosen.items())
        console.print(f"recording {venues} -> {where}  (run {recorder.run_id})", highlight=False)
        asyncio.run(_main(recorder, status, console, stats_file, status_every))
    except KeyboardInterrupt:  # a signal before the handlers were installed
        raise typer.Exit(130) from None
    console.print(status.table(final=True))
    total = sum(n for n in status.integrity.values())
    summary = ", ".join(f"{ex} {kind} {n}" for (ex, kind), n in sorted(status.integrity.items()))
    console.print(
        f"{recorder.records:,} records in run {recorder.run_id}; "
        f"integrity events: {total}{' (' + summary + ')' if summary else ''}",
        highlight=False,
    )
    up = recorder.upload_stats
    if up is not None:
        line = f"{status.upload_line()} to {redact_uri(str(root))}"
        if up.waiting:
            line += (
                f"; the waiting files stay in {staging}: `xle record --recover-only "
                f"--data {redact_uri(str(root))}` (or the next recording) uploads them"
            )
        console.print(line, highlight=False)


def _print_recovery(console: Console, done: RemoteRecovery, uri: str, staging: Path) -> None:
    if done.records:
        console.print(f"recovered {done.records:,} records from leftover journals", highlight=False)
    if done.uploaded:
        console.print(
            f"uploaded {done.uploaded:,} files left by earlier runs to {redact_uri(uri)}",
            highlight=False,
        )
    if done.last_error:
        raise DataError(
            f"{done.waiting:,} files in {staging} could not be uploaded to {redact_uri(uri)}: "
            f"{done.last_error}"
        )


def _recover_only(console: Console, root: Path | str, staging: Path | None) -> None:
    """``--recover-only``: journals to Parquet and, for object storage, every staged file
    uploaded; a one-line summary."""
    if staging is None:
        recovered = LogWriter.recover(Path(root))
        console.print(f"recovered {recovered:,} records from leftover journals", highlight=False)
        return
    done = recover_remote(str(root), staging)
    _print_recovery(console, done, str(root), staging)
    console.print(
        f"recovered {done.records:,} records; uploaded {done.uploaded:,} files to "
        f"{redact_uri(str(root))}; {done.waiting:,} waiting in {staging}",
        highlight=False,
    )
