"""The replay pipeline cut into cumulative passes, one pass per process.

Why cumulative passes rather than timers around each call: a ``perf_counter`` pair per
message and stage costs about as much as the cheapest stages themselves, so instead
every pass runs the pipeline *up to* a stage over the whole log, flat out, and the cost
of a stage is the difference between its pass and the previous one.

Passes (each includes everything above it):

``read``     Parquet ``iter_batches`` -> ``RawRecord`` in replay order
``decode``   + msgspec typed decode of every payload (the decoders' own wire structs)
``sync``     + the venue decoders' ``feed``: decode, U/u and sequence_num checks
``book``     + applying the resulting book events to the L2 books
``engine``   + everything else ``Engine.on_record`` does: top-of-book arbitrage
             evaluation, quotes with VWAP and imbalance at the quote interval
``full``     ``xle replay --speed max``'s driver (``run_replay``): reader, engine,
             derived Parquet written and committed
``full_binance``  the same on the Binance half of the log (for ``peer.py``)

``stages_mem`` runs decode, sync, book and engine again on records already in memory
(steadier differences, and the engine's own speed); and, to split
``full`` the same way, ``read_xle`` (the project's reader,
``xle.store.reader.read_records``, alone) and ``engine_xle`` (that reader
feeding the engine, outputs dropped).

    python benchmarks/stages.py PASS LOG_ROOT      -> one JSON line on stdout
"""

from __future__ import annotations

import heapq
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from xle.records import RawRecord

PASSES = (
    "read",
    "decode",
    "sync",
    "book",
    "engine",
    "read_xle",
    "engine_xle",
    "full",
    "full_one_core",
    "full_records",
    "full_binance",
    "arrow_read",
    "stages_mem",
)
BATCH_ROWS = 65_536
#: Rows turned into records at a time: Python objects for a whole 64k-row batch would
#: cost a hundred MB and fall out of the CPU cache.
CHUNK_ROWS = 4096
_COLUMNS = ["recv_ns", "run", "conn", "seq", "kind", "stream", "symbol", "payload"]


def _pylist(column: pa.Array) -> list:
    """``to_pylist``, but a dictionary column is expanded from its few distinct values
    (pyarrow's own ``to_pylist`` builds each element separately, about 50x slower)."""
    if pa.types.is_dictionary(column.type):
        values = column.dictionary.to_pylist()
        return [None if i is None else values[i] for i in column.indices.to_pylist()]
    return column.to_pylist()


def _file_records(exchange: str, files: list[Path]) -> Iterator[RawRecord]:
    """One exchange's records, file after file, streamed in batches (flat memory)."""
    for path in files:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=_COLUMNS):
            for start in range(0, batch.num_rows, CHUNK_ROWS):
                chunk = batch.slice(start, CHUNK_ROWS)
                cols = [_pylist(chunk.column(i)) for i in range(8)]
                yield from map(RawRecord, cols[0], repeat(exchange), *cols[1:])


def read_records(root: Path) -> Iterator[RawRecord]:
    """Every record under ``root/raw`` in replay order ``(recv_ns, exchange, run, seq)``.

    The benchmark's own minimal reader, used for the stage passes and the ceiling: it
    assumes each exchange's files are already in order by name (true of the generated
    log), where the project's reader also prunes partitions and seeks to snapshots.
    """
    streams = []
    for exdir in sorted((root / "raw").glob("exchange=*")):
        exchange = exdir.name.partition("=")[2]
        files = sorted(exdir.glob("date=*/hour=*/*.parquet"))
        streams.append(_file_records(exchange, files))
    return heapq.merge(*streams, key=lambda r: (r.recv_ns, r.exchange, r.run, r.seq))


def _peak_rss_mb() -> float:
    """This process's own peak RSS. ``ru_maxrss`` survives ``execve`` on Linux, so a pass
    started by a large parent (the benchmark that generated the log in-process) would
    report the parent's peak; ``VmHWM`` belongs to the new address space."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _pass_read(root: Path) -> int:
    n = 0
    for _ in read_records(root):
        n += 1
    return n


def fastest_decoders() -> tuple[Callable, Callable, str]:
    """(Binance depth, Coinbase l2_data) decoders the project uses, and their name."""
    from xle.exchanges import _common, binance, coinbase

    if _common.fast_binance_depth is not None and _common.fast_coinbase_l2 is not None:
        return _common.fast_binance_depth, _common.fast_coinbase_l2, "compiled"
    return binance._depth_combined.decode, coinbase._decoder.decode, "msgspec"


def _pass_decode(root: Path) -> int:
    return _decode_loop(read_records(root))


def _decode_loop(records: Iterable[RawRecord]) -> int:
    from xle.exchanges import binance

    depth, l2, _ = fastest_decoders()
    snapshot = binance._snapshot.decode
    n = 0
    for rec in records:
        if rec.exchange == "coinbase":
            l2(rec.payload)
        elif rec.kind == "rest":
            snapshot(rec.payload)
        else:
            depth(rec.payload)
        n += 1
    return n


def _pass_sync(root: Path) -> int:
    return _sync_loop(read_records(root))


def _sync_loop(records: Iterable[RawRecord]) -> int:
    from xle.exchanges import make_decoder

    decoders = {}
    n = 0
    for rec in records:
        decoder = decoders.get(rec.exchange)
        if decoder is None:
            decoder = decoders[rec.exchange] = make_decoder(rec.exchange)
        decoder.feed(rec)
        n += 1
    return n


def _pass_book(root: Path) -> int:
    return _book_loop(read_records(root))


def _book_loop(records: Iterable[RawRecord]) -> int:
    from xle._native.book import Book
    from xle.exchanges import make_decoder
    from xle.records import BookUpdate

    decoders = {}
    books: dict[tuple[str, str], Book] = {}
    n = 0
    for rec in records:
        decoder = decoders.get(rec.exchange)
        if decoder is None:
            decoder = decoders[rec.exchange] = make_decoder(rec.exchange)
        for event in decoder.feed(rec):
            if type(event) is BookUpdate:
                book = books.get((event.exchange, event.symbol))
                if book is None:
                    book = books[(event.exchange, event.symbol)] = Book()
                if event.is_snapshot:
                    book.load(event.bids, event.asks)
                else:
                    book.apply(event.bids, event.asks)
                book.best_bid()
                book.best_ask()
        n += 1
    return n


def _pass_engine(root: Path) -> int:
    return _engine_loop(read_records(root))


def _engine_loop(records: Iterable[RawRecord]) -> int:
    from xle.analytics.engine import Engine
    from xle.config import load_config

    engine = Engine(load_config(None))
    on_records = engine.on_records
    records = list(records)
    # Chunks of the reader's size, fed the way ``run_replay`` feeds them.
    for start in range(0, len(records), CHUNK_ROWS):
        on_records(records[start : start + CHUNK_ROWS])
    engine.finish()
    return len(records)


def _pass_full(root: Path) -> int:
    """The project's own replay driver, exactly what ``xle replay --speed max`` runs."""
    return _replay(root, None)


def _pass_full_one_core(root: Path) -> int:
    """``full`` pinned to one CPU: the read-ahead thread then shares the core with the
    engine, so this is the pipeline's speed on one core."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    return _replay(root, None)


def _pass_full_records(root: Path) -> int:
    """``full`` on the RawRecord path (``XLE_NO_COLUMNAR=1``: the compiled book and
    parsers, but a RawRecord and a BookUpdate per message), for comparison."""
    os.environ["XLE_NO_COLUMNAR"] = "1"
    return _replay(root, None)


#: Rows per batch of the Arrow-read limit: the fastest read of the payload column on the
#: generated log. Larger batches read slower, as each one's buffers are grown by
#: reallocation into fresh pages (measured 2026-12-04, the 1M log, one core: 0.76-0.83 s
#: at 512 to 2,048 rows, 1.01-1.05 s at 4,096, 1.4-1.8 s at 65,536, which this pass used
#: until then and so understated the limit).
ARROW_READ_ROWS = 1024


def _pass_arrow_read(root: Path) -> int:
    """The Arrow-read limit: every file's ``payload`` column into Arrow batches, nothing
    else (no other column, no merge, no Python object per row)."""
    n = 0
    for path in sorted((root / "raw").glob("exchange=*/date=*/hour=*/*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=ARROW_READ_ROWS, columns=["payload"], use_threads=False
        ):
            n += batch.num_rows
    return n


def _pass_full_binance(root: Path) -> int:
    """``full`` on the Binance half of the log only (``xle replay --exchange binance``):
    the whole pipeline on the very messages ``peer.py`` gives cryptofeed."""
    return _replay(root, ("binance",))


def _replay(root: Path, exchanges: tuple[str, ...] | None) -> int:
    from xle.config import load_config
    from xle.replay.session import run_replay
    from xle.store.derived import Scope

    scope = Scope(0, 2**62, exchanges=exchanges)
    summary = run_replay(root, scope, load_config(None), speed=None)
    return summary.records + summary.warmup_records


def _project_records(root: Path) -> Iterator[RawRecord]:
    """The project's reader, as ``xle replay`` calls it over the whole log."""
    from xle.replay.session import raw_exchanges
    from xle.store.reader import read_records

    exchanges = tuple(raw_exchanges(root)[0])
    yield from read_records(root, 0, 2**62, exchanges=exchanges).records()


def _pass_read_xle(root: Path) -> int:
    n = 0
    for _ in _project_records(root):
        n += 1
    return n


def _pass_engine_xle(root: Path) -> int:
    from xle.analytics.engine import Engine
    from xle.config import load_config

    engine = Engine(load_config(None))
    on_record = engine.on_record
    n = 0
    for rec in _project_records(root):
        on_record(rec)
        n += 1
    engine.finish()
    return n


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pass_stages_mem(root: Path) -> int:
    """The first ``MEM_RECORDS`` records read into memory, then the cumulative loops
    (decode, + sync, + book, + the rest of the engine) over them, best of three each.

    With no reader in the loop and every loop in one process, the differences between
    loops are far steadier than between separate passes over the file.
    """
    from itertools import islice

    records = list(islice(read_records(root), MEM_RECORDS))
    for name, loop in (
        ("decode", _decode_loop),
        ("sync", _sync_loop),
        ("book", _book_loop),
        ("engine", _engine_loop),
    ):
        best_cpu = best_wall = float("inf")
        for _ in range(3):
            cpu, wall = _cpu(), time.perf_counter()
            loop(records)
            best_cpu = min(best_cpu, _cpu() - cpu)
            best_wall = min(best_wall, time.perf_counter() - wall)
        _LOOP[f"{name}_cpu_seconds"] = best_cpu
        _LOOP[f"{name}_seconds"] = best_wall
    _LOOP["seconds"] = _LOOP["engine_seconds"]
    _LOOP["cpu_seconds"] = _LOOP["engine_cpu_seconds"]
    return len(records)


#: Records the in-memory pass holds.
MEM_RECORDS = 250_000

#: Timings a pass measured itself (only the part after its setup).
_LOOP: dict[str, float] = {}


def _import_project() -> None:
    """Import what the passes use before the clock starts: imports are start-up cost
    (about 0.3 s, paid once by ``xle replay`` whatever the log's length), not replay work.
    (Until 2026-12-04 only pyarrow's were imported here, so the ``full`` passes also
    timed importing xle itself, about 0.12 s.)"""
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    import xle._native.book
    import xle.analytics.engine
    import xle.config
    import xle.replay.session
    import xle.store.derived
    import xle.store.reader  # noqa: F401


def run_pass(name: str, root: Path) -> dict[str, object]:
    func = globals()[f"_pass_{name}"]
    _import_project()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    records = func(root)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "pass": name,
        "records": records,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": _peak_rss_mb(),
        **_LOOP,  # a pass that timed its own loops overrides the totals
    }


def main() -> None:
    name, root = sys.argv[1], Path(sys.argv[2])
    if name not in PASSES:
        raise SystemExit(f"unknown pass {name!r}; one of {', '.join(PASSES)}")
    print(json.dumps(run_pass(name, root)))


if __name__ == "__main__":
    main()
