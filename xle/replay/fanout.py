"""Fan-out: one replay (or backtest sweep) split into time shards run in parallel.

A range ``[T0, T1]`` is cut at multiples of the shard length (a UTC day by default)::

    [T0 ........ 00:00) [00:00 ...... 00:00) [00:00 ........ T1]
       shard 0               shard 1              shard 2

Each shard warm-starts like any replay (``read_records`` seeks to the latest snapshot
of every book before the shard's start), runs the ordinary engine on record batches
(``read_batches``: the compiled columnar lane, as a serial replay) and stages its quotes
and integrity events as Parquet files named after its own window. The parent publishes
every staged file at once under the scope of the whole range, so the derived tables hold
exactly the rows of a serial replay (``publish`` trims what earlier replays stored in
that scope, once). Shards run on a local process pool or as Ray tasks; the only thing
that travels back is each shard's arbitrage episodes and counters.

Why a shard's outputs equal the serial run's:

* **Quotes** are throttled on ``quote_interval`` boundaries in record time. Shard
  boundaries are multiples of the shard length, which must be a multiple of the quote
  interval, so every shard ends on a quote boundary: the quotes of books that changed in
  the last interval come from the tick at the first record past the shard's end, which
  the shard still feeds (its stamps are inside the shard; everything else that tick
  emits belongs to the next shard).
* **Arbitrage episodes** carry state across a seam. The shard where an episode opens
  owns it: after its end it keeps feeding records ("overrun") until every episode still
  open closes, and emits the closing row a serial run emits (start, peak edge, best
  executable size and profit, end and duration all seen by one tracker). The next
  shard drops the rows of episodes it inherited from its warm-up (they start before its
  window), and the reduce step drops the rows of an inherited episode the next shard's
  warm-up did not see open (it reopened it inside its window, before the owner's close).
* **Integrity events** are stamped with the record that raised them and belong to the
  shard whose window holds that record. A file the reader cannot open is reported at
  ``T0`` only when it lies in the warm-up of the first shard, as a serial replay does.

Backtests: a strategy's state (positions, open orders) cannot be rebuilt at a seam, so
a backtest is never cut in time silently. The unit of a backtest fan-out is one
parameter combination over the whole range (exactly the serial result), or with
``independent_shards`` one (combination, shard) pair, each shard starting flat: exactly
the serial backtest of that shard's window.
"""

from __future__ import annotations

import multiprocessing
import re
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from xle._native.book import QuoteRows
from xle.config import EngineConfig
from xle.errors import UsageError, XleError
from xle.records import ArbitrageEpisode, IntegrityEvent, Quote, RawRecord
from xle.store.derived import DerivedWriter, Scope, publish
from xle.store.fs import as_root
from xle.timeutil import format_ns

if TYPE_CHECKING:
    from xle.replay.session import ReplaySummary

__all__ = [
    "DAY_NS",
    "Shard",
    "ShardOutcome",
    "fanout_replay",
    "parse_shard",
    "plan_shards",
    "run_shard",
    "stitch_episodes",
]

DAY_NS = 86_400_000_000_000
CORRUPT_FILE = "corrupt_file"

_UNITS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": DAY_NS}
_SHARD = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")

T = TypeVar("T")
R = TypeVar("R")


# --------------------------------------------------------------------------- planning


def parse_shard(text: str | int | None) -> int:
    """``--shard``: ``1d`` (the default), ``6h``, ``30m``, ``90s`` or nanoseconds."""
    if text is None:
        return DAY_NS
    if isinstance(text, int):
        value = text
    else:
        match = _SHARD.match(text)
        if match is None:
            raise UsageError(f"--shard expects a duration like 1d, 6h, 30m or 90s, not {text!r}")
        value = int(match.group(1)) * _UNITS[match.group(2)]
    if value <= 0:
        raise UsageError(f"--shard must be positive, not {text!r}")
    return value


@dataclass(frozen=True)
class Shard:
    """One piece of the range: a closed window of record time."""

    index: int
    start_ns: int
    end_ns: int

    def label(self) -> str:
        return f"{format_ns(self.start_ns)} .. {format_ns(self.end_ns)}"


def plan_shards(start_ns: int, end_ns: int, shard_ns: int = DAY_NS) -> list[Shard]:
    """``[start_ns, end_ns]`` cut at the multiples of ``shard_ns`` since the epoch (UTC
    midnights by default); the first and last pieces may be shorter."""
    if end_ns < start_ns:
        raise UsageError(f"empty range: {format_ns(end_ns)} is before {format_ns(start_ns)}")
    if shard_ns <= 0:
        raise UsageError(f"shard length must be positive, not {shard_ns}")
    shards: list[Shard] = []
    lo = start_ns
    while lo <= end_ns:
        hi = min((lo // shard_ns + 1) * shard_ns - 1, end_ns)
        shards.append(Shard(len(shards), lo, hi))
        lo = hi + 1
    return shards


def check_workers(workers: int) -> int:
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    return workers


# --------------------------------------------------------------------------- executors


def run_tasks(
    func: Callable[[T], R], jobs: Sequence[T], *, workers: int = 1, cluster: str | None = None
) -> list[R]:
    """``[func(job) for job in jobs]``, in that order: in this process (one worker, no
    cluster), on a pool of ``workers`` processes, or as one Ray task per job.

    ``cluster``: ``"ray"`` starts (or joins) a local Ray, ``"ray://host:port"`` connects
    to a running cluster. The first job to fail raises its error here.
    """
    check_workers(workers)
    if cluster is not None:
        return _run_ray(func, jobs, cluster, workers)
    if workers == 1 or len(jobs) <= 1:
        return [func(job) for job in jobs]
    # ``spawn``: forking a process that holds DuckDB or Arrow thread pools can deadlock.
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
            return list(pool.map(func, jobs))
    except BrokenProcessPool:
        raise XleError(
            "a worker process died before finishing its shard (killed, out of memory, or a"
            " script that starts workers without an `if __name__ == '__main__':` guard)"
        ) from None


def _run_ray(func: Callable[[T], R], jobs: Sequence[T], cluster: str, workers: int) -> list[R]:
    if cluster != "ray" and not cluster.startswith("ray://"):
        raise UsageError(f"--cluster expects 'ray' or 'ray://HOST:PORT', not {cluster!r}")
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--cluster ray needs Ray, which is not installed (pip install 'xle[ray]')"
        ) from None
    if not ray.is_initialized():
        address = None if cluster == "ray" else cluster
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None and workers > 1:
            options["num_cpus"] = workers
        try:
            ray.init(address=address, **options)
        except Exception as exc:  # a cluster that cannot be reached
            raise UsageError(f"cannot start or reach Ray at {cluster}: {exc}") from None
    task = ray.remote(num_cpus=1, max_retries=0)(func)
    refs = [task.remote(job) for job in jobs]
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.as_instanceof_cause()
        if isinstance(cause, XleError):
            raise cause from None
        raise


# --------------------------------------------------------------------------- replay shards


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs to replay one shard; plain data, so it pickles."""

    root: str
    scope: Scope  # the whole replay's scope
    shard: Shard
    first: bool
    config: EngineConfig
    exchanges: tuple[str, ...]
    dry_run: bool = False


@dataclass
class ShardOutcome:
    """What one shard hands back: its staged files, its arbitrage rows (kept out of the
    files until the reduce step has stitched the seams) and its counters."""

    shard: Shard
    staged: list[tuple[str, str]] = field(default_factory=list)
    episodes: list[ArbitrageEpisode] = field(default_factory=list)
    #: Closing rows of the episodes still open at the shard's end, found by overrunning.
    overrun: list[ArbitrageEpisode] = field(default_factory=list)
    records: int = 0
    warmup_records: int = 0
    overrun_records: int = 0
    quotes: int = 0
    integrity: Counter[str] = field(default_factory=Counter)
    corrupt_files: list[str] = field(default_factory=list)
    books: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)


def _key(episode: ArbitrageEpisode) -> tuple[str, str, str]:
    return (episode.market, episode.buy_venue, episode.sell_venue)


def run_shard(job: ShardJob) -> ShardOutcome:
    """Replay one shard: warm up, stage the window's outputs, overrun to close episodes.

    Runs in a worker process or a Ray task; raises what a replay raises. The cyclic
    garbage collector is paused meanwhile, as a serial replay pauses it
    (``xle.replay.session.collector_paused``).
    """
    from xle.replay.session import collector_paused

    with collector_paused():
        return _run_shard(job)


def _run_shard(job: ShardJob) -> ShardOutcome:
    from dataclasses import replace as dc_replace

    from msgspec.structs import replace

    from xle.analytics.engine import Engine
    from xle.replay.session import corrupt_file_detail, feed_batches
    from xle.store.batches import batch_rows, read_batches, split_at
    from xle.store.reader import REPLAY_BATCH_ROWS, read_records

    root = as_root(job.root)  # a path or a URI: each worker opens the root itself
    shard, scope = job.shard, job.scope
    window = dc_replace(scope, start_ns=shard.start_ns, end_ns=shard.end_ns)
    engine = Engine(job.config)
    engine.quote_rows = True  # ``sink`` takes them
    writer = None if job.dry_run else DerivedWriter(root, window)
    outcome = ShardOutcome(shard)
    pending: dict[tuple[str, str, str], int] | None = None  # open at the end; None: not yet

    def sink(out: object) -> None:
        for kept in window.select((out,)):
            kind = type(kept)
            if kind is ArbitrageEpisode:
                outcome.episodes.append(kept)  # type: ignore[arg-type]
                continue
            if kind is Quote:
                outcome.quotes += 1
            elif kind is QuoteRows:
                outcome.quotes += len(kept)  # type: ignore[arg-type]
            elif kind is IntegrityEvent:
                outcome.integrity[kept.kind] += 1  # type: ignore[attr-defined]
            if writer is not None:
                writer.store(kept)

    def overrun(outs: list[object]) -> None:
        assert pending is not None
        for out in outs:
            if type(out) is ArbitrageEpisode:
                key = _key(out)  # type: ignore[arg-type]
                if out.status == "closed" and key in pending:  # type: ignore[attr-defined]
                    del pending[key]
                    outcome.overrun.append(out)  # type: ignore[arg-type]
                    continue
            sink(out)  # the tick at the first record past the end quotes inside it

    def is_corrupt(rec: RawRecord) -> bool:
        return rec.kind == "event" and rec.stream == CORRUPT_FILE

    def close_open(outs: list[object]) -> bool:
        """Overrunning: whether the episodes open at the end are not all closed yet."""
        overrun(outs)
        return bool(pending)

    try:
        # The last shard reads to the end of the range; the others may overrun to it.
        read = read_records(
            root,
            shard.start_ns,
            scope.end_ns,
            exchanges=job.exchanges,
            symbols=scope.symbols,
            batch_size=REPLAY_BATCH_ROWS,
        )
        exhausted = True
        for item in read_batches(read, rounds=True):
            if pending is not None:  # overrunning: only the open episodes' closes matter
                outcome.overrun_records += batch_rows(item)
                if not close_open(feed_batches(engine, item)):
                    exhausted = False
                    break
                continue
            warm, item = split_at(item, shard.start_ns)
            if warm is not None:  # warm-up: rebuild the books, keep nothing
                outcome.warmup_records += batch_rows(warm)
                outputs = feed_batches(engine, warm)
                if job.first and isinstance(warm, list) and is_corrupt(warm[0]):
                    outcome.corrupt_files.append(corrupt_file_detail(warm[0]))
                    for out in outputs:  # the books at T0 lack this file
                        sink(replace(out, recv_ns=shard.start_ns))
            if item is None:
                continue
            inside, past = split_at(item, shard.end_ns + 1)
            if inside is not None:
                if isinstance(inside, list):
                    outcome.corrupt_files.extend(
                        map(corrupt_file_detail, filter(is_corrupt, inside))
                    )
                for out in feed_batches(engine, inside):
                    sink(out)
                outcome.records += batch_rows(inside)
            if past is not None:  # past the end: the tick, then the open episodes
                pending = dict.fromkeys(engine.arbitrage.open_episodes(), 0)
                outcome.overrun_records += batch_rows(past)
                if not close_open(feed_batches(engine, past)):
                    exhausted = False
                    break
        if exhausted:
            outs = engine.finish()
            if pending is None:
                for out in outs:
                    sink(out)
            else:
                overrun(outs)
        if writer is not None:
            outcome.staged = [(str(t), str(f)) for t, f in writer.stage()]
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    for exchange, symbol in engine.book_keys():
        if scope.covers_book(exchange, symbol):
            view = engine.book_view(exchange, symbol, 0)
            outcome.books[f"{exchange}:{symbol}"] = view.status if view else "unsynced"
    outcome.ignored = engine.ignored_streams()
    return outcome


def stitch_episodes(outcomes: Sequence[ShardOutcome], scope: Scope) -> list[ArbitrageEpisode]:
    """The reduce step: the arbitrage rows of a serial replay from those of its shards.

    A shard keeps the rows of the episodes it opened (the first shard also those its
    warm-up opened, as a serial replay does), including the closing rows its overrun
    found. An episode the next shard's warm-up missed is reopened inside that shard's
    window before the owner's close: those rows are dropped here.
    """
    rows: list[ArbitrageEpisode] = []
    owned_until: dict[tuple[str, str, str], int] = {}  # key -> close of an earlier owner
    for outcome in outcomes:
        start = outcome.shard.start_ns
        first = outcome.shard.index == 0
        for episode in [*outcome.episodes, *outcome.overrun]:
            if not first and episode.start_ns < start:
                continue  # inherited from the warm-up: the owner emitted it
            owner_close = owned_until.get(_key(episode))
            if owner_close is not None and episode.start_ns < owner_close:
                continue  # reopened here while the earlier owner still had it open
            if not (
                scope.covers_venue(episode.buy_venue) and scope.covers_venue(episode.sell_venue)
            ):
                continue
            rows.append(episode)
        for episode in outcome.overrun:
            end = episode.end_ns if episode.end_ns is not None else episode.recv_ns
            key = _key(episode)
            owned_until[key] = max(owned_until.get(key, end), end)
    rows.sort(key=lambda e: (e.recv_ns, e.seq, e.status != "closed", _key(e)))
    return rows


def fanout_replay(
    root: Path,
    scope: Scope,
    config: EngineConfig,
    *,
    workers: int = 2,
    shard: str | int | None = None,
    cluster: str | None = None,
    dry_run: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> ReplaySummary:
    """``run_replay`` with the range split into shards run in parallel; the same derived
    rows, published at once when every shard succeeded (nothing is published otherwise).
    """
    from xle.errors import DataError
    from xle.replay.session import describe_inventory, log_inventory, prepare_replay
    from xle.store.paths import raw_dir

    check_workers(workers)
    shard_ns = parse_shard(shard)
    interval = max(1, config.quote_interval_ns)
    if shard_ns % interval:
        raise UsageError(
            f"--shard must be a multiple of the quote interval ({interval / 1e6:g} ms)"
            " so that every shard ends on a quote boundary"
        )
    summary, exchanges = prepare_replay(root, scope, dry_run, on_warning)
    shards = plan_shards(scope.start_ns, scope.end_ns, shard_ns)
    jobs = [ShardJob(str(root), scope, s, s.index == 0, config, exchanges, dry_run) for s in shards]
    outcomes: list[ShardOutcome] = []
    try:
        outcomes = run_tasks(run_shard, jobs, workers=workers, cluster=cluster)
        episodes = stitch_episodes(outcomes, scope)
        for outcome in outcomes:
            summary.records += outcome.records
            summary.warmup_records += outcome.warmup_records
            summary.quotes += outcome.quotes
            summary.integrity.update(outcome.integrity)
            summary.corrupt_files.extend(outcome.corrupt_files)
            summary.books.update(outcome.books)
            for name, count in outcome.ignored.items():
                summary.ignored[name] = summary.ignored.get(name, 0) + count
        for episode in episodes:
            summary.count(episode)
        if on_warning is not None:
            for detail in summary.corrupt_files:
                on_warning(f"cannot read {detail}; replay goes on")
        if summary.records == 0:
            raise DataError(
                f"no records between {format_ns(scope.start_ns)} and {format_ns(scope.end_ns)}"
                f" in {raw_dir(root)} (it holds {describe_inventory(log_inventory(root))})"
            )
        if not dry_run:
            writer = DerivedWriter(root, scope)
            try:
                for episode in episodes:
                    writer.store(episode)
                staged = [(as_root(t), as_root(f)) for o in outcomes for t, f in o.staged]
                summary.files = publish(root, scope, staged + writer.stage())
            except BaseException:
                writer.abort()
                raise
            outcomes = []
    finally:
        for outcome in outcomes:  # anything not published is thrown away
            for temp, _final in outcome.staged:
                as_root(temp).unlink(missing_ok=True)
    return summary
