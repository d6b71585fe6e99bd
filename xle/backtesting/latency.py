"""Latency between the strategy and a venue: entry (order to venue), response (venue's
answer to the strategy) and feed (venue event to the recorder).

A latency is a constant or an empirical distribution (a file of measured values) sampled
with the backtest's seeded generator, so a run with the same seed draws the same values.

Spec strings, as ``--latency VENUE=SPEC`` takes them: ``5ms`` (entry and response 5 ms),
``entry=5ms,response=3ms,feed=1ms``, or ``file=PATH[,feed=1ms]`` where the file holds
one entry latency per line (or ``entry,response`` pairs), in ns unless a unit is given.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from xle.errors import UsageError

__all__ = ["Latency", "parse_duration_ns", "parse_latency"]

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?\s*$")


def parse_duration_ns(text: str) -> int:
    """``"5ms"`` -> 5_000_000; a bare number is nanoseconds."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"not a duration: {text!r} (use e.g. 250us, 5ms, 1s or ns)")
    number, unit = match.groups()
    return round(float(number) * _UNITS[unit or "ns"])


@dataclass(frozen=True)
class Latency:
    """Per-venue latencies in ns; ``samples`` (entry, response) pairs replace the
    constants when given."""

    entry_ns: int = 0
    response_ns: int = 0
    feed_ns: int = 0
    samples: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if min(self.entry_ns, self.response_ns, self.feed_ns) < 0:
            raise UsageError("latencies must not be negative")

    def draw(self, rng: random.Random) -> tuple[int, int]:
        """(entry, response) for one request."""
        if self.samples:
            return self.samples[rng.randrange(len(self.samples))]
        return self.entry_ns, self.response_ns

    @classmethod
    def from_file(cls, path: str | Path, feed_ns: int = 0) -> Latency:
        try:
            lines = Path(path).read_text("utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read latency file {path}: {exc.strerror or exc}") from None
        samples: list[tuple[int, int]] = []
        for number, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = [p for p in re.split(r"[,\s]+", text) if p]
            try:
                values = [parse_duration_ns(p) for p in parts]
            except UsageError as exc:
                raise UsageError(f"{path}:{number}: {exc}") from None
            if len(values) not in (1, 2):
                raise UsageError(f"{path}:{number}: expected 'entry' or 'entry,response'")
            samples.append((values[0], values[-1]))
        if not samples:
            raise UsageError(f"latency file {path} holds no values")
        return cls(samples[0][0], samples[0][1], feed_ns, tuple(samples))


def parse_latency(spec: str) -> Latency:
    """One venue's latency from a spec string (see the module docstring)."""
    if "=" not in spec:
        value = parse_duration_ns(spec)
        return Latency(value, value)
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ("entry", "response", "feed", "file"):
            raise UsageError(
                f"bad latency {spec!r}: use 5ms, entry=5ms,response=3ms,feed=1ms or file=PATH"
            )
        fields[key] = value.strip()
    feed = parse_duration_ns(fields["feed"]) if "feed" in fields else 0
    if "file" in fields:
        return Latency.from_file(fields["file"], feed)
    entry = parse_duration_ns(fields.get("entry", "0"))
    response = parse_duration_ns(fields["response"]) if "response" in fields else entry
    return Latency(entry, response, feed)
