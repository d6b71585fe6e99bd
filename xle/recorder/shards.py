"""Sharded recorders: which live recorder captures which (venue, symbol) of a data root.

Several ``xle record`` processes may write into one root at the same time as long as
they record disjoint (venue, symbol) sets: each writes its own run (unique run id, so
its own file names, journal segments and run lock). Two recorders of the *same* book,
though, interleave two connections' frames in one log, and a replay resets that book on
every frame. So a recorder claims its books before it starts::

    <root>/raw/_claims/<run>.json     {"run", "pid", "symbols": {venue: [symbol, ...]}}

and holds an exclusive ``flock`` on its claim for as long as it records. A claim whose
lock is free belongs to a dead process and is deleted; a live claim naming one of the
same books makes the new recorder refuse to start. Checking and claiming happen under
one ``flock`` on ``_claims/.mutex``, so two recorders starting together cannot both
pass. ``_claims`` sits beside ``_journal``: readers only look at ``exchange=*`` folders.

The claim lives on local disk: in the data root itself, or, for an object-storage root,
in the recorder's staging directory (``--journal-dir``). Recorders on other machines
writing into one bucket cannot see each other's claims: their shards must be disjoint
by configuration.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from xle.errors import UsageError
from xle.store.paths import raw_dir

__all__ = ["ShardClaim", "claims_dir"]


def claims_dir(root: Path) -> Path:
    """Where the live recorders of a local root (or staging root) keep their claims."""
    return raw_dir(Path(root)) / "_claims"


def _books(symbols: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(venue, sym.upper()) for venue, syms in symbols.items() for sym in syms}


class ShardClaim:
    """A live recorder's claim on its (venue, symbol) books in one root; see the module."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, root: Path, run: str, symbols: dict[str, list[str]]) -> ShardClaim:
        """Claim ``symbols`` for ``run``; ``UsageError`` (one line) when a live recorder
        already records one of them into ``root``."""
        folder = claims_dir(root)
        folder.mkdir(parents=True, exist_ok=True)
        wanted = _books(symbols)
        mutex = os.open(folder / ".mutex", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            for other in sorted(folder.glob("*.json")):
                owner = _live_owner(other)
                if owner is None:
                    continue
                clash = sorted(wanted & _books(owner.get("symbols", {})))
                if clash:
                    books = ", ".join(f"{venue} {sym}" for venue, sym in clash)
                    raise UsageError(
                        f"{books} already recorded into {root} by run {owner.get('run')} "
                        f"(pid {owner.get('pid')}); shards of one data root must record "
                        "disjoint venues or symbols"
                    )
            path = folder / f"{run}.json"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                body = {"run": run, "pid": os.getpid(), "symbols": symbols}
                os.pwrite(fd, json.dumps(body, sort_keys=True).encode(), 0)
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                raise
            return cls(path, fd)
        finally:
            os.close(mutex)  # closing the descriptor releases the mutex

    def release(self) -> None:
        """Drop the claim (the recorder has stopped)."""
        if self._fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = -1


def _live_owner(path: Path) -> dict | None:
    """The claim's content when its recorder is alive; a dead one's claim is deleted."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # held: its recorder is alive
            with open(path, encoding="utf-8") as handle:
                try:
                    return json.load(handle)
                except ValueError:
                    return {}
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # we hold its lock: its recorder is gone
        return None
    finally:
        os.close(fd)
