"""Faults the simulator injects on request, deterministic given the seed.

``FaultConfig`` says what to break and how often; ``ConnectionFaults`` makes the decision
for each data frame of one client connection, and ``SnapshotFaults`` for each REST
depth request. Each draws from its own generator seeded by the simulator seed plus the
venue and the connection's number (in accept order), so a client that connects in the
same order and receives the same frames meets the same faults on every run.

What a client sees:

* ``drop`` -- a frame is never sent. Binance: the next depth message's ``U`` skips past
  the book id. Coinbase: ``sequence_num`` jumps (the number was used, the frame lost).
* ``disconnect`` / ``disconnect_after`` -- the TCP connection is cut without a close
  frame, at random or after that many data frames.
* ``malformed`` -- a frame is replaced by truncated (invalid) JSON or by the same frame
  with one price turned into a non-numeric string.
* ``latency`` -- a delay of ``latency_ms`` before a frame (and so before every later one).
* ``snapshot_delay`` / ``snapshot_fail`` -- REST depth answers late, or with HTTP 500 or
  429.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, fields, replace
from enum import Enum

__all__ = ["Action", "ConnectionFaults", "FaultConfig", "SnapshotFaults", "corrupt_frame"]


@dataclass(frozen=True)
class FaultConfig:
    drop: float = 0.0  # probability a data frame is not sent
    disconnect: float = 0.0  # probability the connection is cut after a data frame
    disconnect_after: int = 0  # cut every connection after this many data frames (0: never)
    malformed: float = 0.0  # probability a data frame is corrupted
    latency: float = 0.0  # probability of a latency spike before a data frame
    latency_ms: float = 500.0  # length of a latency spike
    snapshot_delay: float = 0.0  # seconds every REST depth answer is held back
    snapshot_fail: float = 0.0  # probability a REST depth request fails (500 or 429)

    @property
    def active(self) -> bool:
        return any(
            (self.drop, self.disconnect, self.disconnect_after, self.malformed, self.latency)
        )

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...]) -> FaultConfig:
        """Build from ``name:value`` strings, e.g. ``["drop:0.01", "disconnect_after:500"]``.

        Raises ValueError with a one-line reason on an unknown name or a bad value.
        """
        config = cls()
        known = {f.name: f.type for f in fields(cls)}
        for spec in specs:
            name, sep, value = spec.partition(":")
            name = name.strip().replace("-", "_")
            if not sep or name not in known:
                names = ", ".join(known)
                raise ValueError(f"bad fault {spec!r}: use NAME:VALUE with NAME one of {names}")
            try:
                parsed: float | int = int(value) if known[name] == "int" else float(value)
            except ValueError:
                raise ValueError(f"bad fault {spec!r}: {value!r} is not a number") from None
            if parsed < 0 or (name not in _UNBOUNDED and parsed > 1):
                raise ValueError(f"bad fault {spec!r}: probability must be within [0, 1]")
            config = replace(config, **{name: parsed})
        return config


_UNBOUNDED = {"disconnect_after", "latency_ms", "snapshot_delay"}


class Action(Enum):
    SEND = "send"
    DROP = "drop"
    MALFORM = "malform"
    DELAY = "delay"  # delay, then send
    SEND_THEN_CUT = "send_then_cut"


class ConnectionFaults:
    """Per-frame fault decisions for one client connection."""

    __slots__ = ("_config", "_rng", "frames")

    def __init__(self, config: FaultConfig, seed: int, venue: str, conn_no: int) -> None:
        self._config = config
        self._rng = random.Random(f"{seed}:faults:{venue}:{conn_no}") if config.active else None
        self.frames = 0  # data frames decided so far

    @property
    def active(self) -> bool:
        """False when no per-frame fault is configured: every frame is simply sent."""
        return self._rng is not None

    def decide(self) -> Action:
        """What happens to the next data frame of this connection."""
        self.frames += 1
        rng = self._rng
        if rng is None:
            return Action.SEND
        c = self._config
        # One draw per kind and frame, always in this order, keeps decisions reproducible.
        drop, malformed, latency, cut = rng.random(), rng.random(), rng.random(), rng.random()
        if c.disconnect_after and self.frames >= c.disconnect_after:
            return Action.SEND_THEN_CUT
        if drop < c.drop:
            return Action.DROP
        if malformed < c.malformed:
            return Action.MALFORM
        if cut < c.disconnect:
            return Action.SEND_THEN_CUT
        if latency < c.latency:
            return Action.DELAY
        return Action.SEND

    def corrupt(self, frame: bytes) -> bytes:
        """A malformed version of ``frame`` (which kind is drawn from this connection)."""
        assert self._rng is not None
        return corrupt_frame(frame, self._rng.random() < 0.5)

    @property
    def delay_s(self) -> float:
        return self._config.latency_ms / 1000.0


_QUOTED_NUMBER = re.compile(rb'"(\d+(?:\.\d+)?)"')


def corrupt_frame(frame: bytes, non_numeric: bool) -> bytes:
    """Truncate ``frame`` to invalid JSON, or make its first quoted number non-numeric."""
    if non_numeric:
        corrupted, count = _QUOTED_NUMBER.subn(b'"not-a-number"', frame, count=1)
        if count:
            return corrupted
    return frame[: max(1, len(frame) // 2)]


class SnapshotFaults:
    """Per-request fault decisions for one venue's REST depth endpoint."""

    def __init__(self, config: FaultConfig, seed: int, venue: str) -> None:
        self._config = config
        self._rng = random.Random(f"{seed}:rest:{venue}")

    @property
    def delay_s(self) -> float:
        return self._config.snapshot_delay

    def failure(self) -> int | None:
        """HTTP status to fail this request with (500 or 429), or None to answer it."""
        fail, status = self._rng.random(), self._rng.random()
        if fail < self._config.snapshot_fail:
            return 500 if status < 0.5 else 429
        return None
