"""``xle.open(root) -> Log``: one recorded log for Python and notebooks.

What the command line does, as objects: ``Log.replay`` iterates the engine's outputs
(``xle replay --dry-run``, with the books readable on the way), ``Log.write_derived``
is ``xle replay``, ``Log.book_at`` is ``xle book --json``, ``Log.audit`` is ``xle
audit``, ``Log.sql`` is ``xle query``, and ``Log.raw`` / ``quotes`` / ``arbitrage`` /
``integrity`` read the stored tables as ``pyarrow.Table``s (``table.to_pandas()``,
``polars.from_arrow(table)``).

Times are anything ``xle.to_ns`` takes (ISO strings, ``datetime``, pandas
``Timestamp``, ``numpy.datetime64``, epoch ns), exact to the nanosecond; ``None`` is the
start or end of the log. Windows are closed: ``start <= recv_ns <= end``, as on the
command line.

The store sits on a ``pyarrow.fs.FileSystem``: a root is a local directory or a URI
(``s3://bucket/prefix``, with the endpoint and credentials from the standard AWS
environment variables; ``xle.store.fs``), and every method works on either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xle import numfmt
from xle.config import EngineConfig, load_config
from xle.errors import DataError, UsageError
from xle.records import ArbitrageEpisode, IntegrityEvent, Quote
from xle.store.paths import DERIVED_TABLES, derived_dir, raw_dir
from xle.timeutil import INT64_MAX, INT64_MIN, format_ns, to_ns

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

    from xle.analytics.engine import BookView, Engine
    from xle.replay.audit import AuditReport
    from xle.replay.export import ExportSummary
    from xle.replay.session import ReplaySummary
    from xle.store.derived import Scope
    from xle.store.fs import ObjectPath

__all__ = ["BookSnapshot", "Log", "Replay", "VwapWalk", "open"]

Output = Quote | ArbitrageEpisode | IntegrityEvent
TimeLike = Any  # str | int | datetime | date | pandas.Timestamp | numpy.datetime64
ConfigLike = EngineConfig | str | os.PathLike[str] | None

_PARTITION_TYPES = {"exchange": "string", "date": "date32", "hour": "int32"}


def open(  # ``xle.open`` is the entry point, like ``io.open``
    root: str | os.PathLike[str] | ObjectPath,
    *,
    config: ConfigLike = None,
    filesystem: pafs.FileSystem | None = None,
) -> Log:
    """The log under ``root``: a local directory, or a URI pyarrow understands.

    ``config`` (an ``EngineConfig`` or a TOML path) is the default of every replay;
    raises ``DataError`` when a local root holds no raw log.
    """
    import pyarrow.fs as pafs

    from xle.replay.session import check_data_root
    from xle.store.fs import ObjectPath, as_root, redact

    store: Path | ObjectPath
    if isinstance(root, ObjectPath):  # a root the store already opened
        log = Log(str(root), root.fs, root.key, _config(config, None), store=root)
        check_data_root(log.root)
        return log
    text = os.fspath(root)
    if filesystem is not None:
        if filesystem.type_name == "local":
            store = Path(text)
        else:
            store = ObjectPath(filesystem, text, filesystem.type_name)
        path = text
    else:
        store = as_root(text)
        if isinstance(store, ObjectPath):
            filesystem, path, text = store.fs, store.key, redact(text)
        else:
            filesystem, path = pafs.LocalFileSystem(), store.absolute().as_posix()
            text = str(store)
    log = Log(text, filesystem, path, _config(config, None), store=store)
    check_data_root(log.root)
    return log


def _config(config: ConfigLike, default: EngineConfig | None) -> EngineConfig:
    if isinstance(config, EngineConfig):
        return config
    if config is None:
        return default if default is not None else load_config()
    return load_config(config)


def _time(value: TimeLike, name: str) -> int:
    try:
        return to_ns(value)
    except ValueError as exc:
        raise UsageError(f"{name}: {exc}") from None


def _times(start: TimeLike | None, end: TimeLike | None) -> tuple[int | None, int | None]:
    from xle.replay.session import check_range

    start_ns = None if start is None else _time(start, "start")
    end_ns = None if end is None else _time(end, "end")
    if start_ns is not None and end_ns is not None:
        check_range(start_ns, end_ns)
    return start_ns, end_ns


def _names(values: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return tuple(sorted(set(values)))


# --------------------------------------------------------------------------- book snapshots


@dataclass(frozen=True)
class VwapWalk:
    """Walking one side of the book for ``size`` base units (decimal strings, as printed)."""

    side: str
    size: str
    price: str | None
    filled: str
    slippage_bps: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "size": self.size,
            "price": self.price,
            "filled": self.filled,
            "slippage_bps": self.slippage_bps,
        }


@dataclass(frozen=True)
class BookSnapshot:
    """One book at ``at_ns`` with exact decimal strings; ``to_dict()`` is ``xle book --json``."""

    exchange: str
    symbol: str
    at_ns: int
    status: str  # synced | unsynced
    bids: list[tuple[str, str]]  # (price, qty), best first
    asks: list[tuple[str, str]]
    imbalance: float | None
    vwap: list[VwapWalk] = field(default_factory=list)

    @property
    def at(self) -> str:
        return format_ns(self.at_ns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "at_ns": self.at_ns,
            "status": self.status,
            "bids": [[p, q] for p, q in self.bids],
            "asks": [[p, q] for p, q in self.asks],
            "imbalance": self.imbalance,
            "vwap": [w.to_dict() for w in self.vwap],
        }


def snapshot(
    engine: Engine,
    view: BookView,
    exchange: str,
    at_ns: int,
    depth: int | None = None,
    sizes: Sequence[float] | None = None,
) -> BookSnapshot:
    """The document of ``xle book``: the ladder to ``depth`` and a walk per size and side."""
    from xle._native.book import format_decimal

    symbol = view.symbol
    if sizes is None:
        sizes = engine.config.sizes_for(engine.market_of(exchange, symbol))
    for size in sizes:
        if not size > 0:
            raise UsageError(f"VWAP sizes must be positive, not {size}")
    if depth is not None and depth < 1:
        raise UsageError(f"depth must be at least 1, not {depth}")
    imbalance, _ratio = engine.imbalance(exchange, symbol)
    walks = [
        engine.vwap(exchange, symbol, side, size) for size in sizes for side in ("buy", "sell")
    ]
    bids = [(format_decimal(p), format_decimal(q)) for p, q in view.bids]
    asks = [(format_decimal(p), format_decimal(q)) for p, q in view.asks]
    # Computed figures are rounded to what they measure: a VWAP to the book's tick, a
    # filled size to its lot, slippage to 0.01 bps, the imbalance (a ratio) to 4 places.
    tick = numfmt.max_decimals(p for p, _ in bids + asks)
    lot = numfmt.max_decimals([q for _, q in bids + asks] + [format_decimal(s) for s in sizes])
    return BookSnapshot(
        exchange=exchange,
        symbol=symbol,
        at_ns=at_ns,
        status=view.status,
        bids=bids[:depth],
        asks=asks[:depth],
        imbalance=_rounded(imbalance, IMBALANCE_PLACES),
        vwap=[
            VwapWalk(
                w.side,
                format_decimal(w.size),
                numfmt.trimmed(w.price, tick) if w.price is not None else None,
                numfmt.trimmed(w.filled, lot),
                _rounded(w.slippage_bps, numfmt.BPS_PLACES),
            )
            for w in walks
        ],
    )


#: Imbalance is a ratio in [-1, 1]: four decimals tell books apart, more is noise.
IMBALANCE_PLACES = 4


def _rounded(value: float | None, places: int) -> float | None:
    return float(numfmt.fixed(value, places)) if value is not None else None


# --------------------------------------------------------------------------- replay


class Replay:
    """The engine's outputs of one window in replay order; iterate it once.

    Records are fed one at a time, so while the loop body runs, ``engine`` and
    ``book()`` show the books right after the record at ``position_ns``: the one that
    produced the current output, except for a throttled quote, which is stamped with
    the record that made its book's state and emitted by the first record past its
    ``quote_interval`` tick.
    Warm-up records (before ``start``) rebuild the books and their outputs are dropped,
    exactly as ``xle replay`` does; so are the engine's resync requests, which only
    mean something to a live recorder. Raises ``DataError`` at the end when the window
    held no record.
    """

    def __init__(
        self,
        root: Path,
        scope: Scope,
        config: EngineConfig,
        start_ns: int | None,
        end_ns: int | None,
        exchanges: tuple[str, ...],
    ) -> None:
        from xle.analytics.engine import Engine

        self.scope = scope
        self.engine = Engine(config)
        self.records = 0  # records inside the window
        self.warmup_records = 0
        self.position_ns: int | None = None  # recv_ns of the last record fed
        self._root = root
        self._start_ns = start_ns
        self._end_ns = end_ns
        self._exchanges = exchanges
        self._started = False

    def __iter__(self) -> Iterator[Output]:
        if self._started:
            raise UsageError("a Replay runs once; call Log.replay again to start over")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[Output]:
        from msgspec.structs import replace

        from xle.replay.session import CORRUPT_FILE
        from xle.store.batches import read_batches, rows_before
        from xle.store.reader import read_records

        scope, engine, start_ns = self.scope, self.engine, self._start_ns
        covers = scope.covers
        read = read_records(
            self._root,
            start_ns,
            self._end_ns,
            exchanges=self._exchanges,
            symbols=self.scope.symbols,
        )
        for chunk in read_batches(read):
            if not isinstance(chunk, list):
                # Record batches: the engine stops right after each row with outputs
                # (``iter_batch``), so the books are those of the output's record.
                exchange, batch = chunk
                recv = batch.column("recv_ns")
                warm_rows = rows_before(batch, start_ns) if start_ns is not None else 0
                fed = 0
                for stop, outputs in engine.iter_batch(batch, exchange):
                    self.position_ns = recv[stop - 1].as_py()
                    self.warmup_records += max(0, min(stop, warm_rows) - fed)
                    self.records += max(0, stop - max(fed, warm_rows))
                    fed = stop
                    if stop <= warm_rows:
                        continue  # a warm-up row's outputs are dropped
                    for out in outputs:
                        if covers(out):
                            yield out
                continue
            for rec in chunk:
                outputs = engine.on_record(rec)
                self.position_ns = rec.recv_ns
                if start_ns is not None and rec.recv_ns < start_ns:
                    self.warmup_records += 1
                    if rec.kind == "event" and rec.stream == CORRUPT_FILE:
                        # the books at ``start`` lack this file: report it at ``start``
                        for out in outputs:
                            moved = replace(out, recv_ns=start_ns)
                            if covers(moved):
                                yield moved
                    continue
                self.records += 1
                for out in outputs:
                    if covers(out):
                        yield out
        for out in engine.finish():
            if covers(out):
                yield out
        if self.records == 0:
            window = ""
            if start_ns is not None or self._end_ns is not None:
                first = format_ns(start_ns) if start_ns is not None else "the start"
                last = format_ns(self._end_ns) if self._end_ns is not None else "the end"
                window = f" between {first} and {last}"
            raise DataError(f"no records{window} in {raw_dir(self._root)}")

    def book(self, exchange: str, symbol: str, *, depth: int | None = None) -> BookSnapshot:
        """The book as the replay has it now (after the record at ``position_ns``)."""
        symbol = symbol.upper()
        view = self.engine.book_view(exchange, symbol)
        if view is None or self.position_ns is None:
            books = ", ".join(f"{e}:{s}" for e, s in self.engine.book_keys()) or "none yet"
            raise DataError(f"no book for {exchange} {symbol} yet (books so far: {books})")
        return snapshot(self.engine, view, exchange, self.position_ns, depth)


# --------------------------------------------------------------------------- the log


class Log:
    """A recorded log: ``raw/`` and ``derived/`` under one root (see ``xle.open``)."""

    def __init__(
        self,
        uri: str,
        filesystem: pafs.FileSystem,
        path: str,
        config: EngineConfig,
        *,
        store: Path | ObjectPath | None = None,
    ) -> None:
        self.uri = uri
        self.filesystem = filesystem
        self.path = path.rstrip("/")
        self.config = config
        if store is None:
            from xle.store.fs import ObjectPath

            local = filesystem.type_name == "local"
            store = Path(uri) if local else ObjectPath(filesystem, path, filesystem.type_name)
        self._store = store

    def __repr__(self) -> str:
        return f"xle.Log({self.uri!r})"

    # ----------------------------------------------------------------- where

    @property
    def is_local(self) -> bool:
        return self.filesystem.type_name == "local"

    @property
    def root(self) -> Path | ObjectPath:
        """The data root as the store takes it: a ``Path``, or an ``ObjectPath`` on object
        storage (``xle.store.fs``)."""
        return self._store

    @property
    def exchanges(self) -> list[str]:
        """Known exchanges with a raw partition, sorted."""
        from xle.exchanges.registry import EXCHANGES

        found = []
        for name in self._listdir(f"{self.path}/raw"):
            key, sep, value = name.partition("=")
            if sep and key == "exchange" and value in EXCHANGES:
                found.append(value)
        return sorted(found)

    def symbols(self, exchange: str | None = None) -> list[str]:
        """Symbols the raw log holds records of (all exchanges, or one), sorted."""
        import pyarrow.compute as pc

        table = self.raw(exchanges=exchange, columns=["symbol"])
        unique = pc.unique(table.column("symbol")).drop_null()
        return sorted(unique.to_pylist())

    def _listdir(self, path: str) -> list[str]:
        import pyarrow.fs as pafs

        infos = self.filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)

    def _check_exchanges(self, exchanges: str | Sequence[str] | None) -> tuple[str, ...] | None:
        from xle.replay.session import check_exchanges

        names = check_exchanges(list(_names(exchanges) or ())) if exchanges is not None else None
        if names:
            present = self.exchanges
            missing = [n for n in names if n not in present]
            if missing:
                raise DataError(
                    f"no raw log of {', '.join(missing)} in {self.uri} "
                    f"(it holds: {', '.join(present) or 'nothing'})"
                )
        return names

    def _check_symbols(
        self, symbols: str | Sequence[str] | None, exchanges: tuple[str, ...] | None
    ) -> tuple[str, ...] | None:
        names = _names(symbols)
        if names is None:
            return None
        names = tuple(sorted({s.upper() for s in names}))
        present: set[str] = set()
        for exchange in exchanges or self.exchanges:
            present.update(self.symbols(exchange))
        missing = [s for s in names if s not in present]
        if missing:
            where = ", ".join(exchanges) if exchanges else "any exchange"
            raise DataError(
                f"no records of {', '.join(missing)} on {where} in {self.uri} "
                f"(symbols: {', '.join(sorted(present)) or 'none'})"
            )
        return names

    # ----------------------------------------------------------------- replaying

    def replay(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        exchanges: str | Sequence[str] | None = None,
        symbols: str | Sequence[str] | None = None,
        config: ConfigLike = None,
    ) -> Replay:
        """The engine's quotes, arbitrage episodes and integrity events of ``[start, end]``
        in replay order, computed now and written nowhere (see ``write_derived``)."""
        from xle.store.derived import Scope

        root = self.root
        start_ns, end_ns = _times(start, end)
        names = self._check_exchanges(exchanges)
        syms = self._check_symbols(symbols, names)
        scope = Scope(
            INT64_MIN if start_ns is None else start_ns,
            INT64_MAX if end_ns is None else end_ns,
            names,
            syms,
        )
        return Replay(
            root,
            scope,
            _config(config, self.config),
            start_ns,
            end_ns,
            names if names is not None else tuple(self.exchanges),
        )

    def write_derived(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        exchanges: str | Sequence[str] | None = None,
        symbols: str | Sequence[str] | None = None,
        config: ConfigLike = None,
        workers: int = 1,
        shard: str | int | None = None,
        cluster: str | None = None,
    ) -> ReplaySummary:
        """``xle replay``: replay ``[start, end]`` and store quotes, arbitrage and integrity
        under ``derived/`` (replacing what an earlier replay stored inside that scope).

        ``None`` is the first or last record of the raw log. ``workers=N`` (or a
        ``shard`` length such as ``"6h"``, or ``cluster="ray"`` / ``"ray://host:port"``)
        splits the range into shards by UTC day (or ``shard``) replayed in parallel,
        each warm-started from its books' latest snapshots; the stored rows are those of
        a serial replay (``xle.replay.fanout``).
        """
        from xle.replay.session import run_replay
        from xle.store.derived import Scope

        root = self.root
        start_ns, end_ns = _times(start, end)
        names = self._check_exchanges(exchanges)
        syms = self._check_symbols(symbols, names)
        if start_ns is None or end_ns is None:
            first, last = self.bounds(names)
            start_ns = first if start_ns is None else start_ns
            end_ns = last if end_ns is None else end_ns
        scope = Scope(start_ns, end_ns, names, syms)
        if workers != 1 or shard is not None or cluster is not None:
            from xle.replay.fanout import fanout_replay

            return fanout_replay(
                root,
                scope,
                _config(config, self.config),
                workers=workers,
                shard=shard,
                cluster=cluster,
            )
        return run_replay(root, scope, _config(config, self.config))

    def book_at(
        self,
        exchange: str,
        symbol: str,
        at: TimeLike,
        *,
        depth: int | None = None,
        vwap: Sequence[float] | None = None,
        config: ConfigLike = None,
    ) -> BookSnapshot:
        """The book rebuilt from every record of ``exchange`` with ``recv_ns <= at``
        (``xle book --json``); ``depth=None`` is every level, ``vwap`` the walk sizes
        (default: the config's for the market)."""
        from xle.replay.session import book_at

        at_ns = _time(at, "at")
        self._check_exchanges(exchange)
        sym = symbol.upper()
        try:
            engine, view = book_at(self.root, exchange, sym, at_ns, _config(config, self.config))
        except DataError:
            known = self.symbols(exchange)
            if sym not in known:
                raise DataError(
                    f"no records of {sym} on {exchange} in {self.uri} "
                    f"(symbols: {', '.join(known) or 'none'})"
                ) from None
            raise
        return snapshot(engine, view, exchange, at_ns, depth, vwap)

    def audit(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        exchanges: str | Sequence[str] | None = None,
        config: ConfigLike = None,
    ) -> AuditReport:
        """``xle audit``: gaps, resyncs, crossed and stale books ... per exchange and symbol."""
        from xle.replay.audit import run_audit

        start_ns, end_ns = _times(start, end)
        return run_audit(
            self.root,
            _config(config, self.config),
            start_ns=start_ns,
            end_ns=end_ns,
            exchanges=self._check_exchanges(exchanges),
        )

    def export(
        self,
        fmt: str,
        out: str | os.PathLike[str],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        kinds: str | Sequence[str] | None = None,
        exchanges: str | Sequence[str] | None = None,
        symbols: str | Sequence[str] | None = None,
        config: ConfigLike = None,
    ) -> ExportSummary:
        """``xle export``: the books and trades of ``[start, end]`` under ``out`` as
        ``tardis`` (gzip CSV), ``tardis-parquet`` or ``hftbacktest`` (npz) files, one per
        exchange, symbol and UTC day; the summary counts rows in and out per file."""
        from xle.replay.export import export

        start_ns, end_ns = _times(start, end)
        names = self._check_exchanges(exchanges)
        syms = self._check_symbols(symbols, names)
        return export(
            self.root,
            fmt,
            Path(out),
            start_ns,
            end_ns,
            _names(kinds),
            names,
            syms,
            _config(config, self.config),
        )

    # ----------------------------------------------------------------- tables

    def bounds(self, exchanges: str | Sequence[str] | None = None) -> tuple[int, int]:
        """``recv_ns`` of the first and last record of the raw log (of ``exchanges``)."""
        import pyarrow.compute as pc

        table = self.raw(exchanges=exchanges, columns=["recv_ns"])
        if table.num_rows == 0:
            raise DataError(f"no records in {self.uri}/raw")
        low, high = pc.min_max(table.column("recv_ns")).values()
        return low.as_py(), high.as_py()

    def raw(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        exchanges: str | Sequence[str] | None = None,
        symbols: str | Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The raw records of ``[start, end]`` as the ``raw`` SQL view has them."""
        return self._table("raw", start, end, exchanges, symbols, None, columns)

    def quotes(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        exchanges: str | Sequence[str] | None = None,
        symbols: str | Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Stored quotes (written by ``write_derived`` / ``xle replay``)."""
        return self._table("quotes", start, end, exchanges, symbols, None, columns)

    def arbitrage(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        markets: str | Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Stored arbitrage episode rows (``open`` and ``closed``), by ``recv_ns``."""
        return self._table("arbitrage", start, end, None, None, markets, columns)

    def integrity(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        exchanges: str | Sequence[str] | None = None,
        symbols: str | Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Stored integrity events (gaps, resyncs, crossed or stale books, ...)."""
        return self._table("integrity", start, end, exchanges, symbols, None, columns)

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
        """``xle query``: DuckDB over the views ``raw``, ``quotes``, ``arbitrage``,
        ``integrity``; a DuckDB error is raised as ``UsageError`` with its first line."""
        import duckdb

        from xle.store.views import connect

        con = connect(self.root)
        try:
            relation = con.sql(query) if params is None else con.sql(query, params=params)
            if relation is None:  # a statement without rows
                import pyarrow as pa

                return pa.table({})
            # ``to_arrow_table`` since DuckDB 1.4; ``arrow`` returned the table before it
            fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
            return fetch()
        except duckdb.Error as exc:
            text = str(exc).strip()
            raise UsageError(text.splitlines()[0] if text else type(exc).__name__) from None
        finally:
            con.close()

    def _schema(self, table: str) -> pa.Schema:
        import pyarrow as pa

        from xle.store.derived import PARTITION_KEYS, SCHEMAS
        from xle.store.layout import RAW_SCHEMA

        if table == "raw":
            keys: tuple[str, ...] = ("exchange", "date", "hour")
            fields = [pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f
                      for f in RAW_SCHEMA]  # fmt: skip
        else:
            keys, fields = PARTITION_KEYS[table], list(SCHEMAS[table])
        for key in keys:
            fields.append(pa.field(key, getattr(pa, _PARTITION_TYPES[key])()))
        return pa.schema(fields)

    def _files(self, table: str) -> list[str]:
        """Finished Parquet files of a table; for a local raw log, the reader's own list
        (it leaves out files a compacted file already holds)."""
        import pyarrow.fs as pafs

        if table == "raw":
            from xle.store.fs import arrow_source
            from xle.store.listing import log_files

            root = self.root
            if isinstance(root, Path):
                return [p.absolute().as_posix() for p in log_files(root)]  # type: ignore[union-attr]
            return [arrow_source(p)[0] for p in log_files(root)]
        base = f"{self.path}/raw" if table == "raw" else f"{self.path}/derived/{table}"
        from xle.store.derived import PARTITION_KEYS

        depth = 3 if table == "raw" else len(PARTITION_KEYS[table])
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        files = []
        for info in self.filesystem.get_file_info(selector):
            rel = info.path[len(base) + 1 :].split("/")
            if (
                info.type == pafs.FileType.File
                and len(rel) == depth + 1
                and all("=" in part for part in rel[:-1])
                and rel[-1].endswith(".parquet")
                and not rel[-1].startswith((".", "_"))
            ):
                files.append(info.path)
        return sorted(files)

    def _table(
        self,
        table: str,
        start: TimeLike | None,
        end: TimeLike | None,
        exchanges: str | Sequence[str] | None,
        symbols: str | Sequence[str] | None,
        markets: str | Sequence[str] | None,
        columns: Sequence[str] | None,
    ) -> pa.Table:
        import pyarrow.dataset as ds

        start_ns, end_ns = _times(start, end)
        schema = self._schema(table)
        if columns is not None:
            unknown = [c for c in columns if c not in schema.names]
            if unknown:
                raise UsageError(
                    f"no column {', '.join(unknown)} in {table} "
                    f"(columns: {', '.join(schema.names)})"
                )
        files = self._files(table)
        if not files and table in DERIVED_TABLES:
            where = derived_dir(self.root, table)
            raise DataError(
                f"no {table} in {where}: no replay has written them yet; run "
                f"`xle replay --data {self.uri} --from T0 --to T1` or "
                f"`Log.write_derived(T0, T1)` first"
            )
        keys = [n for n in schema.names if n in ("exchange", "date", "hour")]
        base = f"{self.path}/raw" if table == "raw" else f"{self.path}/derived/{table}"
        dataset = ds.dataset(
            files,
            schema=schema,
            format="parquet",
            filesystem=self.filesystem,
            partitioning=ds.partitioning(schema=self._key_schema(schema, keys), flavor="hive"),
            partition_base_dir=base,
        )
        where = None
        clauses: list[ds.Expression] = []
        if start_ns is not None:
            clauses.append(ds.field("recv_ns") >= start_ns)
        if end_ns is not None:
            clauses.append(ds.field("recv_ns") <= end_ns)
        names = _names(exchanges)
        if names:
            from xle.replay.session import check_exchanges

            check_exchanges(list(names))
            clauses.append(ds.field("exchange").isin(names))
        syms = _names(symbols)
        if syms:
            clauses.append(ds.field("symbol").isin([s.upper() for s in syms]))
        mkts = _names(markets)
        if mkts:
            clauses.append(ds.field("market").isin(mkts))
        for clause in clauses:
            where = clause if where is None else where & clause
        ordering = [c for c in ("recv_ns", "exchange", "seq") if c in schema.names]
        wanted = list(columns) if columns is not None else schema.names
        read = list(dict.fromkeys([*wanted, *ordering]))
        result = dataset.to_table(columns=read, filter=where)
        result = result.sort_by([(c, "ascending") for c in ordering])
        return result.select(wanted)

    @staticmethod
    def _key_schema(schema: pa.Schema, keys: list[str]) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([schema.field(k) for k in keys])
