"""Times as a user gives them -> epoch ns, exact to the nanosecond.

Records carry ``recv_ns`` (int64 UTC ns), so a time that loses digits on the way in
silently drops records at the edge of a window: ``datetime`` keeps microseconds only,
hence the fraction of an ISO time is parsed here, never by ``datetime``. A naive time
is UTC. The engine never reads a clock; these helpers only translate what a user typed.
"""

from __future__ import annotations

import operator
import re
from datetime import UTC, date, datetime, timedelta

__all__ = ["INT64_MAX", "INT64_MIN", "format_ns", "parse_time", "to_ns"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER_S = 1_000_000_000
_HINT = "use ISO 8601 like 2021-10-12T00:30:00.123456789Z, or epoch ns"

# ``...T10:30:00.123456789`` or the basic form ``...T103000,5``: the fraction of a
# second is cut out (and parsed exactly) before ``datetime.fromisoformat`` sees the rest.
_FRACTION = re.compile(r"^(?P<head>.*[Tt ]\d{2}(?::?\d{2}){2})[.,](?P<digits>\d+)(?P<tail>.*)$")


def _range_error(what: str) -> ValueError:
    return ValueError(
        f"{what} is outside the range of epoch ns (int64: "
        f"{format_ns(INT64_MIN)} .. {format_ns(INT64_MAX)})"
    )


def _fraction_ns(digits: str, text: str) -> int:
    """Nine digits are nanoseconds; more are accepted only when they change nothing."""
    if len(digits) > 9:
        if digits[9:].strip("0"):
            raise ValueError(
                f"not a time: {text!r} has {len(digits)} fractional digits; "
                "nanoseconds are the finest resolution (9 digits)"
            )
        digits = digits[:9]
    return int(digits.ljust(9, "0"))


def parse_time(text: str) -> int:
    """Epoch ns of ``2021-10-12T00:30:00.123456789Z``, ``2021-10-12 00:30+02:00``,
    ``2021-10-12`` or an epoch ns integer; exact to the nanosecond.

    Raises ValueError with a one-line reason so the CLI can print it as is.
    """
    value = text.strip()
    if re.fullmatch(r"[+-]?\d+", value):
        ns = int(value)
        if not INT64_MIN <= ns <= INT64_MAX:
            raise _range_error(f"epoch ns {value}")
        return ns
    frac_ns = 0
    match = _FRACTION.match(value)
    if match is not None:
        frac_ns = _fraction_ns(match["digits"], text)
        value = match["head"] + match["tail"]
    iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"not a time: {text!r} ({_HINT})") from None
    ns = _datetime_ns(moment) + frac_ns
    if not INT64_MIN <= ns <= INT64_MAX:
        raise _range_error(repr(text))
    return ns


def _datetime_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _NS_PER_S + delta.microseconds * 1_000


def to_ns(value: object) -> int:
    """Epoch ns of a time given as an ISO string, epoch ns int, ``datetime`` (naive is
    UTC), ``date`` (its midnight UTC), ``pandas.Timestamp`` or ``numpy.datetime64``.

    pandas and numpy values keep their nanoseconds; neither library is imported unless
    the value is one of theirs. Floats are refused: a float cannot hold today's epoch ns
    exactly. Raises ValueError naming what was expected.
    """
    module = type(value).__module__.partition(".")[0]
    if module == "pandas":
        return _pandas_ns(value)
    if module == "numpy":
        return _numpy_ns(value)
    if isinstance(value, str):
        return parse_time(value)
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r} ({_HINT})")
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _range_error(f"epoch ns {value}")
        return value
    if isinstance(value, datetime):
        ns = _datetime_ns(value)
    elif isinstance(value, date):
        ns = _datetime_ns(datetime(value.year, value.month, value.day, tzinfo=UTC))
    else:
        raise ValueError(
            f"not a time: {value!r} of type {type(value).__name__} (expected an ISO 8601 "
            "string, epoch ns int, datetime, date, pandas.Timestamp or numpy.datetime64)"
        )
    if not INT64_MIN <= ns <= INT64_MAX:
        raise _range_error(repr(value))
    return ns


def _pandas_ns(value: object) -> int:
    import pandas as pd

    if value is pd.NaT:
        raise ValueError("not a time: NaT")
    if isinstance(value, pd.Timestamp):
        try:  # naive is UTC; an aware Timestamp's ``value`` is UTC already
            return int(value.as_unit("ns").value)
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            raise _range_error(repr(value)) from None
    raise ValueError(
        f"not a time: {value!r} of type pandas.{type(value).__name__} (expected a Timestamp)"
    )


#: ns per tick of each datetime64 unit; finer units are divided down (exactly or not at all).
_NUMPY_UNIT_NS = {
    "W": 7 * 86_400 * _NS_PER_S,
    "D": 86_400 * _NS_PER_S,
    "h": 3_600 * _NS_PER_S,
    "m": 60 * _NS_PER_S,
    "s": _NS_PER_S,
    "ms": 1_000_000,
    "us": 1_000,
    "ns": 1,
}
_NUMPY_FINER = {"ps": 1_000, "fs": 1_000_000, "as": 1_000_000_000}


def _numpy_ns(value: object) -> int:
    import numpy as np

    if isinstance(value, np.integer):
        return to_ns(operator.index(value))
    if not isinstance(value, np.datetime64):
        raise ValueError(
            f"not a time: {value!r} of type numpy.{type(value).__name__} (expected a datetime64)"
        )
    if np.isnat(value):
        raise ValueError("not a time: numpy.datetime64('NaT')")
    unit, count = np.datetime_data(value.dtype)
    if unit in ("Y", "M"):  # calendar units: numpy places them on their first day
        value = value.astype("datetime64[D]")
        unit, count = "D", 1
    ticks = int(value.astype("int64")) * count
    if unit in _NUMPY_FINER:
        ns, rest = divmod(ticks, _NUMPY_FINER[unit])
        if rest:
            raise ValueError(f"not a time: {value!r} is finer than a nanosecond")
    else:
        ns = ticks * _NUMPY_UNIT_NS[unit]
    if not INT64_MIN <= ns <= INT64_MAX:
        raise _range_error(repr(value))
    return ns


def format_ns(ns: int) -> str:
    """ISO 8601 UTC with nanoseconds, e.g. ``2021-10-12T00:28:32.063356900Z``."""
    seconds, frac = divmod(ns, _NS_PER_S)
    stamp = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"
