"""The venue registry: everything xle knows about a venue, in one ``VenueSpec`` per venue.

A venue module (``binance.py`` holds the specs of Binance and Binance.US, ``coinbase.py``
Coinbase's) builds its spec and calls ``register(spec)`` when it is imported; importing
``xle.exchanges`` imports the built-in modules, so the registry always holds them. The
recorder, replay, seek, the engine config and the CLI look venues up here (``venue(name)``,
``venues()``) and name none themselves: adding a venue is one module that registers its
spec, and an import of that module before the venue is used.

Why the recorder's feed is named by a dotted path (``"package.module:attribute"``) rather
than held as a class: the live connection loops (sockets, HTTP, backoff, rate limits) live
in ``xle.recorder``, above this package, which imports only ``xle._native``,
``xle.records``, ``xle.errors`` and ``xle.timeutil``. A spec holding the feed class would
need an upward import; a string costs nothing until the recorder resolves it
(``importlib``, when it builds the venue's feed), so replaying, auditing and querying a
log never import websockets or httpx. Every other fact is plain data or a function of this
package, so the engine reads them directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from xle.errors import UsageError
from xle.exchanges._common import Event, SyncState
from xle.records import RawRecord

__all__ = [
    "EXCHANGES",
    "VENUES",
    "Decoder",
    "SyncLimits",
    "UnknownVenueError",
    "VenueSpec",
    "find_venue",
    "register",
    "unregister",
    "venue",
    "venue_names",
    "venues",
]


class SyncLimits(Protocol):
    """The sync guards' bounds a decoder may take (``xle.config.EngineConfig`` has them)."""

    max_update_span: int
    stale_stream_updates: int
    stale_stream_ns: int


class Decoder(Protocol):
    """What the engine asks of a venue's decoder: it owns the venue's sync state machine,
    the engine owns the books."""

    exchange: str
    #: Frames seen but not decoded, by stream or channel (reported by replays and audits).
    ignored: Counter[str]

    def feed(self, rec: RawRecord) -> list[Event]: ...

    def state(self, symbol: str) -> SyncState: ...

    def invalidate(self, symbol: str, reason: str) -> list[Event]: ...


#: Where a venue's full books come from: a REST response (``rest`` rows of the log) or a
#: frame on the WebSocket (``ws`` rows). Seek reads payloads of ``ws`` rows only for the
#: second kind.
SnapshotSource = Literal["rest", "stream"]
#: What a venue's sequence numbers count: the updates of one symbol, or every message of
#: one connection across symbols. A replay may drop other symbols' frames only for the
#: first kind; for the second, a dropped frame would look like a gap.
SequenceScope = Literal["symbol", "connection"]


@dataclass(frozen=True)
class VenueSpec:
    """Every fact about one venue, as its venue module states them."""

    #: The venue's name: the ``exchange`` of its records and the ``exchange=`` partition key.
    name: str
    #: Default WebSocket endpoint: a base or a full URL, as the venue's feed expects it.
    ws_url: str
    #: Default REST base, or None when the venue needs no REST (snapshots in the stream).
    rest_url: str | None
    #: What ``xle record`` captures when no symbol is given; empty: only when asked for.
    default_symbols: tuple[str, ...]
    snapshots: SnapshotSource
    sequence_scope: SequenceScope
    #: (base, quote) of a native symbol as the venue names its assets, None when the symbol
    #: does not parse; the default canonical market is ``BASE/QUOTE`` from these (the
    #: config's ``[markets]`` and ``usd_stablecoins`` may say otherwise).
    assets_of: Callable[[str], tuple[str, str] | None]
    #: A fresh decoder with empty sync state; the argument bounds its sync guards (None:
    #: the decoder's own defaults).
    decoder: Callable[[SyncLimits | None], Decoder]
    #: Symbols whose full book a record carries: where a replay may start a book from.
    snapshot_symbols: Callable[[RawRecord], tuple[str, ...]]
    #: The stream name and symbol of a received WebSocket frame, read from its first bytes
    #: without parsing it ("" and None when it does not say): how the recorder labels rows.
    label: Callable[[bytes], tuple[str, str | None]]
    #: The recorder's feed factory as ``"package.module:attribute"`` (see the module
    #: docstring), called as ``factory(spec, symbols, ws_url=..., rest_url=..., sink=...,
    #: stats=..., config=...)`` with the ``RecorderConfig``.
    feed: str
    #: REST request weight per minute the recorder allows itself (None: no budget).
    rest_weight_per_minute: float | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.isascii() or not self.name.replace("_", "").isalnum():
            raise ValueError(f"venue name must be ASCII letters, digits or _, not {self.name!r}")
        if self.name != self.name.lower():
            raise ValueError(f"venue name must be lower-case, not {self.name!r}")
        if self.snapshots not in ("rest", "stream"):
            raise ValueError(f"{self.name}: snapshots must be 'rest' or 'stream'")
        if self.sequence_scope not in ("symbol", "connection"):
            raise ValueError(f"{self.name}: sequence_scope must be 'symbol' or 'connection'")
        module, sep, attribute = self.feed.partition(":")
        if not (module and sep and attribute):
            raise ValueError(f"{self.name}: feed must be 'package.module:attribute'")


#: Registered venues by name, in registration order (the order venues are listed in).
VENUES: dict[str, VenueSpec] = {}


class UnknownVenueError(UsageError, ValueError):
    """A venue name no module registered. A ``UsageError`` (the CLI prints it as one line)
    and a ``ValueError`` (what the engine reports as a malformed record)."""


def register(spec: VenueSpec) -> VenueSpec:
    """Add ``spec`` to the registry (a venue module calls this at import).

    Registering the same spec again is a no-op (a module imported twice); another spec
    under a name already taken raises ``ValueError``: two modules would claim one
    partition of the log.
    """
    known = VENUES.get(spec.name)
    if known is not None and known != spec:
        raise ValueError(f"venue {spec.name!r} is already registered by another spec")
    VENUES[spec.name] = spec
    return spec


def unregister(name: str) -> VenueSpec:
    """Remove venue ``name`` and return its spec: for a venue that must not outlive its
    use (a test's venue); its module registers it again only when imported afresh."""
    spec = venue(name)
    del VENUES[name]
    return spec


def venue(name: str) -> VenueSpec:
    """The spec of venue ``name``; ``UnknownVenueError`` lists the known ones."""
    spec = VENUES.get(name)
    if spec is None:
        raise UnknownVenueError(f"unknown exchange {name!r} (known: {', '.join(VENUES)})")
    return spec


def find_venue(name: str) -> VenueSpec | None:
    """The spec of venue ``name``, or None (e.g. a partition of a venue not registered)."""
    return VENUES.get(name)


def venues() -> list[VenueSpec]:
    """Every registered spec, in registration order."""
    return list(VENUES.values())


def venue_names() -> tuple[str, ...]:
    """Every registered venue name, in registration order."""
    return tuple(VENUES)


class _VenueNames(Sequence[str]):
    """The names of the registered venues, read live.

    A view rather than a tuple so that a venue registered after this module was imported
    (a venue module of its own) is known everywhere that checks a name against it: the
    ``exchange=`` partitions of the log, ``--exchange`` values, the recorder's venues.
    """

    __slots__ = ()

    @staticmethod
    def _names() -> tuple[str, ...]:
        return tuple(VENUES)

    def __getitem__(self, index):  # type: ignore[override]
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return self._names() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # its contents change with the registry

    def __repr__(self) -> str:
        return repr(self._names())


#: Every registered venue name (``binance``, ``binanceus``, ``coinbase``, and any venue a
#: module registers), as the ``exchange=`` partition key spells it.
EXCHANGES: Sequence[str] = _VenueNames()
