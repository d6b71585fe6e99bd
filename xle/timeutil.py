"""Time arguments of the command line: ISO 8601 (UTC unless an offset is given) or epoch ns.

The engine never reads a clock; these helpers only translate what a user typed.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_ns", "parse_time"]


def parse_time(text: str) -> int:
    """Parse ``2021-10-12T00:30:00Z``, ``2021-10-12 00:30``, ``2021-10-12`` or epoch ns.

    Raises ValueError with a one-line reason so the CLI can print it as is.
    """
    value = text.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use ISO 8601 like 2021-10-12T00:30:00Z, or epoch ns)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def format_ns(ns: int) -> str:
    """ISO 8601 UTC with nanoseconds, e.g. ``2021-10-12T00:28:32.063356900Z``."""
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"
