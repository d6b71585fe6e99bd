"""The replay driver: raw log -> engine -> derived Parquet, paced by record time.

``run_replay`` is what ``xle replay`` does (docs/design.md, "Replay, book, audit")::

    read_records(data root, T0, T1)  ->  Engine.on_record  ->  Scope.covers  ->  DerivedWriter
          (warm-up from each book's                 (outputs of warm-up records
           latest snapshot before T0)                are computed and discarded)

Warm-up records (before ``T0``) rebuild every book exactly as a full replay has it at
``T0``; their outputs are thrown away. Records after ``T1`` are never fed. Pacing uses
record time only: ``speed=N`` sleeps so that one second of ``recv_ns`` takes ``1/N``
seconds of wall time; ``speed=None`` runs flat out (with a progress bar if asked).

``book_at`` is the engine state after every record with ``recv_ns <= T`` (``xle book``).
The helpers ``check_*`` turn bad command-line input into one-line ``XleError``s.
"""

from __future__ import annotations

import gc
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from msgspec.structs import replace

from xle._native.book import QuoteRows, columnar_lane
from xle.analytics.engine import BookView, Engine
from xle.config import EngineConfig
from xle.errors import DataError, UsageError
from xle.exchanges.registry import EXCHANGES
from xle.records import ArbitrageEpisode, IntegrityEvent, Quote, RawRecord
from xle.store.batches import Batch, Round, batch_rows, last_recv_ns, read_batches, split_at
from xle.store.derived import DerivedWriter, Scope
from xle.store.fs import check_reachable, describe_contents, is_remote
from xle.store.layout import Notice
from xle.store.paths import raw_dir
from xle.store.reader import REPLAY_BATCH_ROWS, LogRead, read_records
from xle.timeutil import format_ns

__all__ = [
    "Holding",
    "Pacer",
    "ReplaySummary",
    "book_at",
    "check_data_root",
    "check_exchanges",
    "check_range",
    "check_symbols",
    "collector_paused",
    "corrupt_file_detail",
    "describe_inventory",
    "log_end_ns",
    "log_inventory",
    "prepare_replay",
    "raw_exchanges",
    "run_replay",
]

CORRUPT_FILE = "corrupt_file"


# --------------------------------------------------------------------------- input checks


def check_data_root(root: Path) -> list[Notice]:
    """The data root must exist and hold a raw log.

    Journals of crashed recorder runs are converted to Parquet here, before anything
    lists the partitions: a run killed before its first roll has no partition yet.
    Returns what the recovery did or skipped, for the CLI to show as warnings.
    """
    if is_remote(root):
        # Journals live on the recorders' local disks: nothing to recover here.
        check_reachable(root)
        if not raw_dir(root).is_dir():
            raise DataError(
                f"no raw log in {root} (expected {raw_dir(root)}); {describe_contents(root)}"
            )
        return []
    if not root.is_dir():
        raise DataError(f"data directory not found: {root}")
    if not raw_dir(root).is_dir():
        raise DataError(f"no raw log in {root} (expected {raw_dir(root)}); is --data right?")
    from xle.store.writer import recover_journals

    return recover_journals(root, sweep=False).notices


def check_exchanges(exchanges: list[str] | None) -> tuple[str, ...] | None:
    """Validate ``--exchange`` values; None (no filter) when none were given."""
    if not exchanges:
        return None
    for name in exchanges:
        if name not in EXCHANGES:
            raise UsageError(f"unknown exchange {name!r} (known: {', '.join(EXCHANGES)})")
    return tuple(sorted(set(exchanges)))


def check_range(start_ns: int, end_ns: int) -> None:
    if end_ns <= start_ns:
        raise UsageError(
            f"empty time range: --to {format_ns(end_ns)} is not after --from {format_ns(start_ns)}"
        )


def raw_exchanges(root: Path) -> tuple[list[str], list[str]]:
    """(known, unknown) exchange partitions present under ``root/raw``, sorted."""
    known: list[str] = []
    unknown: list[str] = []
    directory = raw_dir(root)
    if directory.is_dir():
        for child in sorted(directory.iterdir()):
            key, sep, value = child.name.partition("=")
            if sep and key == "exchange" and child.is_dir():
                (known if value in EXCHANGES else unknown).append(value)
    return known, unknown


def corrupt_file_detail(rec: RawRecord) -> str:
    """A corrupt-file event's payload as one line: the file and why it is unreadable."""
    text = rec.payload.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict):
        path = doc.get("path") or doc.get("file")
        error = doc.get("error") or doc.get("reason") or doc.get("detail")
        if path:
            return f"{path}: {error}" if error else str(path)
    return text


@dataclass(frozen=True)
class Holding:
    """One book the raw log holds: its venue, symbol and the span of its records."""

    exchange: str
    symbol: str
    first_ns: int
    last_ns: int


def log_inventory(root: Path, exchanges: tuple[str, ...] | None = None) -> list[Holding]:
    """Every (exchange, symbol) in the raw log with its first and last ``recv_ns``.

    For messages that say what exists when a request finds nothing. DuckDB reads only
    the ``symbol`` and ``recv_ns`` columns, in parallel; a log it cannot read (a corrupt
    file) gives an empty list rather than a second error on top of the first.
    """
    from xle.store.views import connect

    try:
        con = connect(root)
        rows = con.execute(
            "SELECT exchange, symbol, min(recv_ns), max(recv_ns) FROM raw"
            " WHERE symbol IS NOT NULL AND symbol <> '' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    except Exception:  # a listing is a courtesy; it must never mask the real error
        return []
    known = set(EXCHANGES)
    return [
        Holding(ex, sym, first, last)
        for ex, sym, first, last in rows
        if ex in known and (exchanges is None or ex in exchanges)
    ]


def describe_inventory(holdings: list[Holding], exchange: str | None = None) -> str:
    """``binance: BTCUSDT, ETHUSDT; coinbase: BTC-USD; data from T0 to T1`` (or a note
    that the log holds no book)."""
    chosen = [h for h in holdings if exchange is None or h.exchange == exchange]
    if not chosen:
        return f"the log holds no book{f' for {exchange}' if exchange else ''}"
    venues: dict[str, list[str]] = {}
    for h in chosen:
        venues.setdefault(h.exchange, []).append(h.symbol)
    listing = "; ".join(f"{ex}: {', '.join(syms)}" for ex, syms in venues.items())
    first = min(h.first_ns for h in chosen)
    last = max(h.last_ns for h in chosen)
    return f"{listing}; data from {format_ns(first)} to {format_ns(last)}"


def check_symbols(
    root: Path, exchanges: tuple[str, ...] | None, symbols: tuple[str, ...] | None
) -> list[str]:
    """Symbols asked for that the log does not hold (for a warning); raises ``UsageError``
    when it holds none of them, since a replay of nothing is no answer."""
    if not symbols:
        return []
    holdings = log_inventory(root, exchanges)
    if not holdings:
        return []
    held = {h.symbol for h in holdings}
    missing = [s for s in symbols if s not in held]
    if len(missing) == len(symbols):
        raise UsageError(
            f"no book for {', '.join(symbols)} in {raw_dir(root)}"
            f" (it holds {describe_inventory(holdings)})"
        )
    return missing


# --------------------------------------------------------------------------- pacing


class Pacer:
    """Sleeps so that record time advances ``speed`` times faster than wall time.

    Anchored on the first record it sees; ``clock`` and ``sleep`` are injectable so that
    pacing can be tested without waiting.
    """

    def __init__(
        self,
        speed: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed <= 0:
            raise UsageError(f"--speed must be positive or 'max', not {speed}")
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self._anchor: tuple[int, float] | None = None

    def wait(self, recv_ns: int) -> None:
        if self._anchor is None:
            self._anchor = (recv_ns, self._clock())
            return
        first_ns, first_wall = self._anchor
        due = first_wall + (recv_ns - first_ns) / 1e9 / self.speed
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)


# --------------------------------------------------------------------------- replay


@dataclass
class ReplaySummary:
    """What a replay saw and stored; printed by ``xle replay``."""

    scope: Scope
    dry_run: bool = False
    records: int = 0  # records inside [T0, T1]
    warmup_records: int = 0  # records before T0 fed to rebuild the books
    quotes: int = 0
    episodes_opened: int = 0
    episodes_closed: int = 0
    integrity: Counter[str] = field(default_factory=Counter)
    books: dict[str, str] = field(default_factory=dict)  # "exchange:SYMBOL" -> status
    ignored: dict[str, int] = field(default_factory=dict)
    # "exchange:SYMBOL" -> the venue's tops of book against the book (``CrossCheck.to_dict``)
    cross_checks: dict[str, dict[str, int]] = field(default_factory=dict)
    corrupt_files: list[str] = field(default_factory=list)
    skipped_exchanges: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def synced(self) -> int:
        return sum(1 for status in self.books.values() if status == "synced")

    @property
    def unsynced(self) -> int:
        return len(self.books) - self.synced

    def count(self, out: object) -> None:
        self.count_all((out,))

    def count_all(self, outputs: Iterable[object]) -> None:
        quotes = 0
        for out in outputs:
            kind = type(out)
            if kind is Quote:
                quotes += 1
            elif kind is ArbitrageEpisode:
                if out.status == "open":  # type: ignore[attr-defined]
                    self.episodes_opened += 1
                else:
                    self.episodes_closed += 1
            elif kind is IntegrityEvent:
                self.integrity[out.kind] += 1  # type: ignore[attr-defined]
            elif kind is QuoteRows:
                quotes += len(out)  # type: ignore[arg-type]
        self.quotes += quotes


def prepare_replay(
    root: Path,
    scope: Scope,
    dry_run: bool,
    on_warning: Callable[[str], None] | None,
) -> tuple[ReplaySummary, tuple[str, ...]]:
    """What every replay (serial or fanned out) checks before it reads: the data root
    (recovering a crashed run's journal, said through ``on_warning``), the range, the
    exchanges to read (unknown partitions skipped and said) and the symbols asked for."""

    def warn(text: str) -> None:
        if on_warning is not None:
            on_warning(text)

    for notice in check_data_root(root):
        warn(notice.message())
    check_range(scope.start_ns, scope.end_ns)
    known, unknown = raw_exchanges(root)
    summary = ReplaySummary(scope, dry_run)
    exchanges = scope.exchanges
    if exchanges is None:
        summary.skipped_exchanges = unknown
        for name in unknown:
            warn(f"skipping raw partition exchange={name}: not a known exchange")
        exchanges = tuple(known)
    for symbol in check_symbols(root, exchanges, scope.symbols):
        warn(f"no book for {symbol} in the log; replaying the other symbols")
    return summary, exchanges


def run_replay(
    root: Path,
    scope: Scope,
    config: EngineConfig,
    *,
    speed: float | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    pacer: Pacer | None = None,
    on_warning: Callable[[str], None] | None = None,
    columnar: bool | None = None,
) -> ReplaySummary:
    """Replay ``scope`` of the raw log under ``root``; store its outputs unless ``dry_run``.

    ``speed=None`` is ``--speed max``; ``progress(recv_ns, records)`` is called as the
    replay advances, for the caller to show how far it is (the library prints nothing).
    A file the
    reader cannot open becomes a ``corrupt_file`` integrity event (the replay goes on)
    and a call of ``on_warning``; if the file lies in the warm-up, its event is stamped
    ``T0``, since the books at ``T0`` lack it. Raises ``DataError`` when the window holds
    no record, and ``UsageError`` when the log holds none of the ``--symbol``s asked
    for; nothing is written then.
    """
    summary, exchanges = prepare_replay(root, scope, dry_run, on_warning)
    engine = Engine(config)
    writer = None if dry_run else DerivedWriter(root, scope)
    if pacer is None and speed is not None:
        pacer = Pacer(speed)
    if columnar is None:
        columnar = pacer is None and columnar_lane() is not None
    try:
        read = read_records(
            root,
            scope.start_ns,
            scope.end_ns,
            exchanges=exchanges,
            symbols=scope.symbols,
            batch_size=REPLAY_BATCH_ROWS,
        )
        start_ns = scope.start_ns
        if columnar and pacer is None:
            engine.quote_rows = True  # the sink below takes them
            with collector_paused():
                _replay_batches(read, engine, scope, summary, writer, progress, on_warning)
            chunks: Iterable[list[RawRecord]] = ()
        else:
            chunks = read.chunks()
        on_records = engine.on_records
        for chunk in chunks:
            if pacer is None and chunk and chunk[0].recv_ns >= start_ns:
                # The common ``--speed max`` case: the chunk (in replay order) lies
                # past the warm-up and nothing paces per record, so the engine takes
                # it whole. The reader yields a ``corrupt_file`` record alone in its
                # chunk.
                if len(chunk) == 1:
                    _note_corrupt(chunk[0], summary, on_warning)
                _sink(on_records(chunk), scope, summary, writer)
                summary.records += len(chunk)
                if progress is not None:
                    progress(chunk[-1].recv_ns, summary.records)
                continue
            for rec in chunk:
                warm = rec.recv_ns < start_ns
                corrupt = _note_corrupt(rec, summary, on_warning)
                outputs = engine.on_record(rec)
                if warm:
                    summary.warmup_records += 1
                    if corrupt:  # the books at T0 lack this file: report it at T0
                        at_start = [replace(out, recv_ns=scope.start_ns) for out in outputs]
                        _sink(at_start, scope, summary, writer)
                    continue
                summary.records += 1
                if pacer is not None:
                    pacer.wait(rec.recv_ns)
                _sink(outputs, scope, summary, writer)
                if progress is not None and (pacer is not None or summary.records % 2048 == 1):
                    progress(rec.recv_ns, summary.records)
        _sink(engine.finish(), scope, summary, writer)
        if summary.records == 0:
            raise DataError(
                f"no records between {format_ns(scope.start_ns)} and {format_ns(scope.end_ns)}"
                f" in {raw_dir(root)} (it holds {describe_inventory(log_inventory(root))})"
            )
        if writer is not None:
            summary.files = writer.commit()
    finally:
        if writer is not None:
            writer.abort()
    for exchange, symbol in engine.book_keys():
        if scope.covers_book(exchange, symbol):
            view = engine.book_view(exchange, symbol, 0)
            summary.books[f"{exchange}:{symbol}"] = view.status if view else "unsynced"
    summary.ignored = engine.ignored_streams()
    summary.cross_checks = {
        f"{exchange}:{symbol}": check.to_dict()
        for (exchange, symbol), check in engine.cross_checks().items()
        if scope.covers_book(exchange, symbol)
    }
    return summary


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a replay feeds the columnar lane, back as
    it was after. Why: that loop makes no reference cycles (a replay of the 2M generated
    log leaves 74 unreachable objects, as one of 250k does, and its peak RSS stays flat
    with the collector off), while the collections its allocations trigger scan every
    object the imports made: about 2 % of a replay (benchmarks/README.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _replay_batches(
    read: LogRead,
    engine: Engine,
    scope: Scope,
    summary: ReplaySummary,
    writer: DerivedWriter | None,
    progress: Callable[[int, int], None] | None,
    on_warning: Callable[[str], None] | None,
) -> None:
    """``run_replay``'s loop at ``--speed max`` on the items of ``read_batches``:
    warm-up rows (a prefix, ``recv_ns < start``) are fed and their outputs dropped; a
    ``corrupt_file`` record is noted and warned of (its event is stamped ``T0`` in the
    warm-up)."""
    start_ns = scope.start_ns
    for item in read_batches(read, rounds=True):
        warm, item = split_at(item, start_ns)
        if warm is not None:
            outputs = feed_batches(engine, warm)
            summary.warmup_records += batch_rows(warm)
            if isinstance(warm, list) and _note_corrupt(warm[0], summary, on_warning):
                # the books at T0 lack this file: report it at T0
                at_start = [replace(out, recv_ns=start_ns) for out in outputs]
                _sink(at_start, scope, summary, writer)
        if item is None:
            continue
        if isinstance(item, list):
            for rec in item:
                _note_corrupt(rec, summary, on_warning)
        _sink(feed_batches(engine, item), scope, summary, writer)
        summary.records += batch_rows(item)
        if progress is not None:
            progress(last_recv_ns(item), summary.records)


def feed_batches(engine: Engine, item: Batch) -> list:
    """The engine's outputs for an item of ``read_batches``."""
    if isinstance(item, list):
        return engine.on_records(item)
    if isinstance(item, Round):
        return engine.on_round(item.parts)
    exchange, batch = item
    return engine.on_batch(batch, exchange)


def _note_corrupt(
    rec: RawRecord, summary: ReplaySummary, on_warning: Callable[[str], None] | None
) -> bool:
    """Whether ``rec`` stands for an unreadable file; if so, note it and warn."""
    if rec.kind != "event" or rec.stream != CORRUPT_FILE:
        return False
    detail = corrupt_file_detail(rec)
    summary.corrupt_files.append(detail)
    if on_warning is not None:
        on_warning(f"cannot read {detail}; replay goes on")
    return True


def _sink(
    outputs: list, scope: Scope, summary: ReplaySummary, writer: DerivedWriter | None
) -> None:
    """Count and store the engine's outputs that ``scope`` covers. A list at a time: a
    replay makes 100,000 quotes on the generated log, and the calls per output cost a
    few percent of its time."""
    if not outputs:
        return
    kept = scope.select(outputs)
    summary.count_all(kept)
    if writer is not None:
        writer.store_all(kept)


# --------------------------------------------------------------------------- book at T


def book_at(
    root: Path, exchange: str, symbol: str, at_ns: int, config: EngineConfig
) -> tuple[Engine, BookView]:
    """The engine after every record of ``exchange`` with ``recv_ns <= at_ns``.

    Raises ``DataError`` naming the file when a log file of that exchange cannot be
    read (a book built around a hole would be silently wrong), or when the log holds no
    book for ``exchange:symbol`` up to ``at_ns``.
    """
    check_data_root(root)
    check_exchanges([exchange])
    engine = Engine(config)
    for rec in read_records(root, at_ns, at_ns, exchanges=(exchange,)).records():
        if rec.kind == "event" and rec.stream == CORRUPT_FILE:
            raise DataError(f"cannot read {corrupt_file_detail(rec)}")
        engine.on_record(rec)
    view = engine.book_view(exchange, symbol)
    if view is None:
        holdings = log_inventory(root, (exchange,))
        raise DataError(
            f"no book for {exchange} {symbol} at or before {format_ns(at_ns)}"
            f" ({describe_inventory(holdings, exchange)})"
        )
    return engine, view


def log_end_ns(root: Path, exchange: str) -> int | None:
    """The last ``recv_ns`` in the raw log of ``exchange``, read from the Parquet footers
    of its latest hour only (no data page is read); None when it holds no file."""
    from xle.store.fs import parquet_file
    from xle.store.listing import hour_dirs, live_files

    hours = hour_dirs(root, [exchange], None, None)
    for entries in reversed(hours.values()):
        last: int | None = None
        for path in (path for _partition, d in entries for path in live_files(d)):
            try:
                meta = parquet_file(path).metadata
            except Exception:  # an unreadable file is reported by the replay itself
                continue
            column = meta.schema.to_arrow_schema().get_field_index("recv_ns")
            for i in range(meta.num_row_groups):
                stats = meta.row_group(i).column(column).statistics
                if stats is not None and stats.has_min_max:
                    last = stats.max if last is None else max(last, stats.max)
        if last is not None:
            return int(last)
    return None
