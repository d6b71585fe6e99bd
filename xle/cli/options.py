"""Command-line options and error handling every command shares.

One definition per option, so ``--data`` and ``--config`` mean and read the same in
``xle replay``, ``xle record`` and ``xle dashboard``; one wrapper (``one_line_errors``,
applied to every command by ``xle.cli``) so that no command shows a traceback for an
error a person can act on: a bad argument, a missing or read-only directory, a full disk.
"""

from __future__ import annotations

import errno
import functools
import math
import re
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import typer

from xle.cli.output import Format
from xle.errors import UsageError, XleError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "TIME_HELP",
    "ConfigOption",
    "DataOption",
    "ExchangeOption",
    "FormatOption",
    "HostOption",
    "MaxFrameOption",
    "PortOption",
    "RestDeadlineOption",
    "RestMaxBytesOption",
    "ResyncTimeoutOption",
    "RetryAfterMaxOption",
    "SymbolOption",
    "UnflushedBytesOption",
    "check_finite",
    "check_host_port",
    "check_output_file",
    "check_url",
    "fail",
    "format_size",
    "one_line_errors",
    "os_error_line",
    "parse_size",
    "recorder_limits",
    "venue_urls",
]

P = ParamSpec("P")
R = TypeVar("R")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        metavar="DIR",
        help="Data root (default: $XLE_DATA, else ./data).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Engine config TOML overriding the defaults.",
        show_default=False,
    ),
]
ExchangeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exchange",
        "-e",
        metavar="EXCHANGE",
        help="binance, binanceus or coinbase (repeatable; default: all).",
        show_default=False,
    ),
]
SymbolOption = Annotated[
    list[str] | None,
    typer.Option(
        "--symbol",
        "-s",
        metavar="SYMBOL",
        help="Exchange symbol, e.g. BTCUSDT or BTC-USD (repeatable; default: all).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    Format, typer.Option("--format", "-f", metavar="table|csv|json", help="Output format.")
]
PortOption = Annotated[
    int,
    typer.Option("--port", min=0, max=65535, help="HTTP port of the dashboard (0: any free port)."),
]
HostOption = Annotated[
    str, typer.Option("--host", help="Interface to bind (keep 127.0.0.1 unless you mean it).")
]

TIME_HELP = "ISO 8601 (UTC unless an offset is given) or epoch ns"

#: errno -> what the failed operation was, as a person would say it.
_WHAT = {
    errno.ENOSPC: "cannot write",
    errno.EDQUOT: "cannot write",
    errno.EFBIG: "cannot write",
    errno.EROFS: "cannot write",
    errno.EACCES: "no permission for",
    errno.EPERM: "no permission for",
    errno.ENOENT: "cannot find",
    errno.ENOTDIR: "cannot reach",
    errno.EISDIR: "cannot write",
    errno.EEXIST: "cannot create",
    errno.ENOTEMPTY: "cannot remove",
    errno.EMFILE: "too many open files for",
    errno.EIO: "cannot read or write",
}


def os_error_line(exc: OSError, fallback: Path | None = None) -> str:
    """``exc`` as one line naming what failed and where: ``cannot write /d/raw: Read-only
    file system``. An error on an open file carries no name; ``fallback`` (the data root)
    says where then."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    path = exc.filename if exc.filename is not None else exc.filename2
    what = _WHAT.get(exc.errno or 0, "cannot use")
    if path is not None:
        where = str(path)
        if exc.filename2 is not None and exc.filename is not None:
            where = f"{exc.filename} -> {exc.filename2}"
        return f"{what} {where}: {reason}"
    if fallback is not None:
        return f"{reason} (under {fallback})"
    return reason


def one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; print a deliberate or an operating-system error as ``error: …`` on
    stderr and exit with status 2.

    ``XleError`` is xle's own; ``OSError`` is the machine's (full disk, read-only or
    missing directory): the record and derived writers keep what they already stored
    (journals are recovered on the next start), so one line is all a person needs.
    A DuckDB error is a bad query. Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except XleError as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(os_error_line(exc, _data_root(kwargs.get("data")))) from None
        except OverflowError as exc:
            raise fail(f"a number is out of range: {exc}") from None
        except Exception as exc:
            # DuckDB is imported only by the query commands (it takes ~0.1 s to load):
            # if it is not loaded, this cannot be one of its errors.
            duckdb = sys.modules.get("duckdb")
            if duckdb is None or not isinstance(exc, duckdb.Error):
                raise
            text = str(exc).strip()
            raise fail(text.splitlines()[0] if text else type(exc).__name__) from None

    return wrapper


def fail(message: str) -> typer.Exit:
    """The ``typer.Exit`` to raise after printing ``error: message`` on stderr."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _data_root(data: object) -> object:
    from xle.store.paths import data_root

    try:
        return data_root(data if isinstance(data, (str, Path)) else None)
    except Exception:
        return None


# --------------------------------------------------------------------------- value checks


def check_finite(value: float, option: str, *, positive: bool = False) -> float:
    """Reject ``nan`` and ``inf`` (and, with ``positive``, zero and negatives)."""
    if not math.isfinite(value) or (positive and not value > 0):
        kind = "positive and finite" if positive else "finite"
        raise UsageError(f"{option} must be {kind}, not {value:g}")
    return value


def _port(text: str, option: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f"{option} {spec!r}: port must be 1..65535, not {text or 'empty'!r}")
    return int(text)


def check_host_port(spec: str, option: str) -> str:
    """``HOST:PORT`` (an optional ``ws://``/``http://`` prefix is allowed) with a valid port."""
    bare = spec.strip().removeprefix("ws://").removeprefix("http://").rstrip("/")
    host, sep, port = bare.rpartition(":")
    if not sep or not host:
        raise UsageError(f"{option} {spec!r}: use HOST:PORT, e.g. 127.0.0.1:8765")
    _port(port, option, spec)
    return spec


def check_url(url: str, option: str, schemes: tuple[str, ...]) -> str:
    """A base URL with one of ``schemes``, a host and, if given, a port in 1..65535."""
    parts = urlsplit(url.strip())
    if parts.scheme not in schemes or not parts.hostname:
        raise UsageError(f"{option} {url!r}: expected a {' or '.join(schemes)} URL with a host")
    _, sep, port = parts.netloc.rpartition(":")
    if sep and "]" not in port:
        _port(port, option, url)
    return url


def check_output_file(path: Path, option: str) -> Path:
    """A file the command will (re)write: its directory must exist."""
    parent = path.expanduser().absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    return path


# --------------------------------------------------------------------------- per-venue URLs


def _known_venues() -> tuple[str, ...]:
    from xle.exchanges.registry import EXCHANGES

    return tuple(EXCHANGES)


def _venue_value(item: str, option: str, what: str) -> tuple[str, str]:
    """``VENUE=VALUE`` split, the venue checked against the known exchanges."""
    venue, sep, value = item.partition("=")
    venue = venue.strip().lower()
    known = _known_venues()
    if not sep or not value.strip():
        raise UsageError(f"{option} {item!r}: use VENUE={what}, e.g. {known[0]}={what}")
    if venue not in known:
        raise UsageError(
            f"{option} {item!r}: unknown exchange {venue!r} (known: {', '.join(known)})"
        )
    return venue, value.strip()


def venue_urls(
    items: list[str] | None,
    option: str,
    schemes: tuple[str, ...],
    venues: tuple[str, ...] | None = None,
) -> dict[str, str]:
    """``VENUE=URL`` options as {venue: URL}: a known venue (of ``venues`` if given), once
    each, and a URL with one of ``schemes``, a host and a valid port."""
    urls: dict[str, str] = {}
    for item in items or []:
        venue, url = _venue_value(item, option, "URL")
        if venues is not None and venue not in venues:
            raise UsageError(
                f"{option} {item!r}: {venue} has no such endpoint"
                f" (it applies to {', '.join(venues)})"
            )
        if venue in urls:
            raise UsageError(f"{option}: {venue} given twice ({urls[venue]!r} and {url!r})")
        urls[venue] = check_url(url, option, schemes)
    return urls


# --------------------------------------------------------------------------- recorder limits

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_size(text: str, option: str) -> int:
    """A byte count: ``16MiB``, ``512KiB``, ``1.5GiB``, ``5MB`` or plain bytes; positive."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise UsageError(
            f"{option} {text!r}: expected a size such as 16MiB, 512KiB or 1048576"
            " (units: B, KiB, MiB, GiB, KB, MB, GB)"
        )
    exact = Decimal(match.group(1)) * _SIZE_UNITS[unit]
    if exact != exact.to_integral_value():
        raise UsageError(f"{option} {text!r}: is not a whole number of bytes")
    if exact <= 0:
        raise UsageError(f"{option} {text!r}: must be at least 1 byte")
    return int(exact)


def format_size(size: int) -> str:
    """``size`` in the largest binary unit that divides it: ``16777216`` -> ``16MiB``."""
    for unit in ("GiB", "MiB", "KiB"):
        factor = _SIZE_UNITS[unit.lower()]
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


#: ``--max-frame`` venue -> the FeedOptions field holding its cap (Binance and Binance.US
#: share one).
_FRAME_FIELDS = {
    "binance": "binance_max_frame",
    "binanceus": "binance_max_frame",
    "coinbase": "coinbase_max_frame",
}


def _feed_default(name: str) -> Any:
    from xle.recorder.feedbase import FeedOptions

    return getattr(FeedOptions(), name)


def _recorder_default(name: str) -> Any:
    from xle.recorder.live import RecorderConfig

    return RecorderConfig.__dataclass_fields__[name].default


def _frame_defaults() -> str:
    return ", ".join(
        f"{venue} {format_size(_feed_default(field))}" for venue, field in _FRAME_FIELDS.items()
    )


def _seconds_text(name: str, *, recorder: bool = False) -> str:
    value = _recorder_default(name) if recorder else _feed_default(name)
    return f"{value:g} s"


MaxFrameOption = Annotated[
    list[str] | None,
    typer.Option(
        "--max-frame",
        metavar="VENUE=SIZE",
        help="Largest WebSocket message accepted from VENUE, e.g. coinbase=64MiB; a bigger "
        "one closes the connection with a frame_too_large event (repeatable; binance and "
        f"binanceus share one cap). Default: {_frame_defaults()}.",
        show_default=False,
    ),
]
RestMaxBytesOption = Annotated[
    str | None,
    typer.Option(
        "--rest-max-bytes",
        metavar="SIZE",
        help="Largest REST body read (a snapshot); the request is abandoned above it."
        f" Default: {format_size(_feed_default('rest_max_bytes'))}.",
        show_default=False,
    ),
]
RestDeadlineOption = Annotated[
    float | None,
    typer.Option(
        "--rest-deadline",
        metavar="SECONDS",
        help="Longest a whole REST request may take, however slowly it trickles."
        f" Default: {_seconds_text('rest_deadline')}.",
        show_default=False,
    ),
]
RetryAfterMaxOption = Annotated[
    float | None,
    typer.Option(
        "--retry-after-max",
        metavar="SECONDS",
        help="Longest pause a Retry-After header (429, 418) may impose."
        f" Default: {_seconds_text('retry_after_max')}.",
        show_default=False,
    ),
]
ResyncTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--resync-timeout",
        metavar="SECONDS",
        help="Watchdog: a book unsynced this long on an open connection is resynchronised."
        f" Default: {_seconds_text('resync_timeout', recorder=True)}.",
        show_default=False,
    ),
]
UnflushedBytesOption = Annotated[
    str | None,
    typer.Option(
        "--unflushed-bytes",
        metavar="SIZE",
        help="Logged bytes not yet on disk above which the feeds wait for a flush."
        f" Default: {format_size(_recorder_default('unflushed_bytes'))}.",
        show_default=False,
    ),
]


def recorder_limits(
    max_frame: list[str] | None,
    rest_max_bytes: str | None,
    rest_deadline: float | None,
    retry_after_max: float | None,
    resync_timeout: float | None,
    unflushed_bytes: str | None,
) -> dict[str, Any]:
    """The recorder-limit flags as ``RecorderConfig`` keyword arguments (``options``,
    ``resync_timeout``, ``unflushed_bytes``); a flag not given keeps the library's default."""
    from xle.recorder.feedbase import FeedOptions

    feed: dict[str, Any] = {}
    frames: dict[str, tuple[str, int]] = {}
    for item in max_frame or []:
        venue, text = _venue_value(item, "--max-frame", "SIZE")
        size = parse_size(text, f"--max-frame {venue}=")
        field = _FRAME_FIELDS.get(venue)
        if field is None:
            raise UsageError(f"--max-frame {item!r}: no frame cap is known for {venue}")
        if field in frames and frames[field][1] != size:
            raise UsageError(
                f"--max-frame: {frames[field][0]} and {venue} share one cap;"
                f" give them the same size (or only one of them)"
            )
        frames[field] = (venue, size)
        feed[field] = size
    if rest_max_bytes is not None:
        feed["rest_max_bytes"] = parse_size(rest_max_bytes, "--rest-max-bytes")
    if rest_deadline is not None:
        feed["rest_deadline"] = check_finite(rest_deadline, "--rest-deadline", positive=True)
    if retry_after_max is not None:
        feed["retry_after_max"] = check_finite(retry_after_max, "--retry-after-max", positive=True)
    limits: dict[str, Any] = {"options": FeedOptions(**feed)}
    if resync_timeout is not None:
        limits["resync_timeout"] = check_finite(resync_timeout, "--resync-timeout", positive=True)
    if unflushed_bytes is not None:
        limits["unflushed_bytes"] = parse_size(unflushed_bytes, "--unflushed-bytes")
    return limits
