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
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar
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
    "PortOption",
    "SymbolOption",
    "check_finite",
    "check_host_port",
    "check_output_file",
    "check_url",
    "fail",
    "one_line_errors",
    "os_error_line",
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


def _data_root(data: object) -> Path | None:
    from xle.store.paths import data_root

    try:
        return data_root(data if isinstance(data, Path) else None)
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
