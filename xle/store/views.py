"""DuckDB over the Parquet store: the views ``raw``, ``quotes``, ``arbitrage``, ``integrity``,
and the backtest results ``orders``, ``fills``, ``positions``, ``equity``, ``backtests``.

No second database: an in-memory DuckDB connection whose views read the files in place
(docs/design.md, "Queries"). Each view has a fixed column list, the file columns followed by the
hive partition keys, so that queries and scripts see the same shape whether the table
has files or not: a table without files becomes an empty view with the same columns
(a query over it returns no rows instead of failing, and the other views still work).

``raw`` globs ``raw/exchange=*/date=*/hour=*/*.parquet``, which leaves out the recorder's
``raw/_journal`` and any temporary file a writer has not yet renamed into place (those
start with ``.`` and end in ``.tmp``).

Like the replay reader, the views skip what they cannot read instead of failing every
query: a file whose footer is unreadable, a file whose columns are not the table's, and a
directory with an impossible partition name are left out, and ``open_views`` returns a
``xle.store.layout.Notice`` for each (the same notices ``LogRead.notices`` holds), along with
the journals of crashed runs it recovered first.

Columns added to a table after files were written (``LATER_COLUMNS``) may be missing from
older files: such a file is still read, and the view shows NULL in those columns for its
rows (a replay over its window writes them again, complete).

The backtest views read ``derived/backtests/run=*/<table>.parquet`` (``backtests`` reads
each run's ``summary.parquet``) with the hive key ``run``: ``select run, count(*) from
fills group by run``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from xle.store.backtests import BACKTEST_SCHEMAS, BACKTEST_VIEWS, backtests_dir
from xle.store.derived import PARTITION_KEYS, SCHEMAS
from xle.store.fs import ObjectPath, StorePath, arrow_source, as_root, is_remote
from xle.store.layout import JOURNAL_SCHEMA, Notice, partition_value_problem, schema_mismatch
from xle.store.paths import derived_dir, raw_dir

__all__ = ["RAW_SCHEMA", "VIEW_NAMES", "Views", "connect", "open_views", "view_columns"]

#: Columns of the raw log as the ``raw`` view shows them (docs/design.md, "The raw event log").
RAW_SCHEMA = pa.schema([f for f in JOURNAL_SCHEMA if f.name != "exchange"])  # plain strings

VIEW_NAMES: tuple[str, ...] = ("raw", "quotes", "arbitrage", "integrity", *BACKTEST_VIEWS)

_HIVE_TYPES = {"exchange": "VARCHAR", "date": "DATE", "hour": "INTEGER", "run": "VARCHAR"}
_PARTITIONS: dict[str, tuple[str, ...]] = {
    "raw": ("exchange", "date", "hour"),
    **PARTITION_KEYS,
    **{view: ("run",) for view in BACKTEST_VIEWS},
}
_PARTITION_ARROW = {
    "exchange": pa.string(),
    "date": pa.date32(),
    "hour": pa.int32(),
    "run": pa.string(),
}


#: Columns a table gained after files of it were written, by view: a file without them is
#: still one of the table's (its rows read as NULL there).
LATER_COLUMNS: dict[str, frozenset[str]] = {
    "quotes": frozenset({"exch_ns", "feed_latency_ns"}),
}


def _file_schema(view: str) -> pa.Schema:
    if view == "raw":
        return RAW_SCHEMA
    if view in BACKTEST_VIEWS:
        return BACKTEST_SCHEMAS[BACKTEST_VIEWS[view]]
    return SCHEMAS[view]


def view_columns(view: str) -> list[str]:
    """Column names of a view, in order: file columns then partition keys."""
    return [*_file_schema(view).names, *_PARTITIONS[view]]


def _table_dir(root: Path, view: str) -> Path:
    if view == "raw":
        return raw_dir(root)
    return backtests_dir(root) if view in BACKTEST_VIEWS else derived_dir(root, view)


def _file_pattern(view: str) -> str:
    """The glob below the table's folder: partition keys, then the file name."""
    name = f"{BACKTEST_VIEWS[view]}.parquet" if view in BACKTEST_VIEWS else "*.parquet"
    return "/".join(f"{key}=*" for key in _PARTITIONS[view]) + "/" + name


def _glob(root: Path, view: str) -> str:
    return f"{_table_dir(root, view).as_posix()}/{_file_pattern(view)}"


def _files(root: StorePath, view: str) -> list[StorePath]:
    directory = _table_dir(root, view)
    if is_remote(directory):  # one recursive listing; a missing folder lists nothing
        pattern = _file_pattern(view)
        return sorted(p for p in directory.glob(pattern) if not p.name.startswith((".", "_")))
    if not directory.is_dir():
        return []
    pattern = _file_pattern(view)
    return sorted(p for p in directory.glob(pattern) if not p.name.startswith((".", "_")))


def _usable(
    root: Path, view: str, found: list[Path], notices: list[Notice], lacking: set[str]
) -> list[Path]:
    """The files of ``found`` the view can read, reporting the others to ``notices``;
    ``lacking`` gets the ``LATER_COLUMNS`` some usable file has not.

    Only footers are read (the schema), so this costs a few hundred microseconds a file;
    a file corrupt past its footer still fails the query that reaches it. For ``raw``,
    files whose rows a compacted file already holds are left out as the reader does.
    """
    table = _table_dir(root, view)
    expected = _file_schema(view)
    later = LATER_COLUMNS.get(view, frozenset())
    if view == "raw":
        from xle.store.listing import log_files

        live = set(log_files(root))
    usable = []
    reported: set[Path] = set()
    schemas = _remote_schemas(found) if is_remote(table) else {}
    for path in found:
        bad_dir = None
        for directory in reversed(path.relative_to(table).parents[:-1]):
            if partition_value_problem(directory.name) is not None:
                bad_dir = table / directory
                break
        if bad_dir is not None:
            if bad_dir not in reported:
                reported.add(bad_dir)
                detail = partition_value_problem(bad_dir.name) or "impossible partition name"
                notices.append(Notice("bad_partition", bad_dir, detail))
            continue
        if view == "raw" and path not in live:
            continue  # superseded by a compacted file
        try:
            schema = schemas[path] if path in schemas else pq.read_schema(path)
            if isinstance(schema, BaseException):
                raise schema
        except Exception as exc:  # any unreadable footer is reported
            text = " ".join(str(exc).split()) or type(exc).__name__
            notices.append(Notice("unreadable", path, f"{type(exc).__name__}: {text}"))
            continue
        missing = {name for name in later if schema.get_field_index(name) < 0}
        wanted = expected
        if missing:
            wanted = pa.schema([f for f in expected if f.name not in missing])
            lacking.update(missing)
        mismatch = schema_mismatch(schema, wanted)
        if mismatch is not None:
            notices.append(Notice("wrong_schema", path, mismatch))
            continue
        usable.append(path)
    return usable


#: Footers fetched at once from object storage: each is a request of its own there.
_REMOTE_FOOTERS_AT_ONCE = 16


def _remote_schemas(paths: list[ObjectPath]) -> dict[ObjectPath, pa.Schema | BaseException]:
    """The schema (or the error reading it) of every file on object storage, fetched by
    a few threads at once: thousands of files would otherwise be thousands of round trips
    one after the other."""

    def schema(path: ObjectPath) -> pa.Schema | BaseException:
        try:
            where, filesystem = arrow_source(path)
            return pq.read_schema(where, filesystem=filesystem)
        except Exception as exc:  # reported by the caller, file by file
            return exc

    with ThreadPoolExecutor(_REMOTE_FOOTERS_AT_ONCE) as pool:
        return dict(zip(paths, pool.map(schema, paths), strict=True))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _empty_table(view: str) -> pa.Table:
    schema = _file_schema(view)
    for key in _PARTITIONS[view]:
        schema = schema.append(pa.field(key, _PARTITION_ARROW[key]))
    return schema.empty_table()


def _failing_view(con: duckdb.DuckDBPyConnection, view: str, columns: str, reason: str) -> None:
    """A view with the right columns that raises ``reason`` only when it is read.

    One unreadable file must not take the other views down with it: ``SELECT … FROM
    quotes`` still works while ``raw`` has a corrupt file, and a query of ``raw`` fails
    with the reader's one-line message naming the file.
    """
    table = _empty_table(view)
    source = f"_broken_{view}"
    nulls = {name: pa.nulls(1, table.schema.field(name).type) for name in table.column_names}
    con.register(source, pa.table(nulls, schema=table.schema))
    fail = f"error({_quote(reason)}) IS NULL"
    con.execute(f"CREATE VIEW {view} AS SELECT {columns} FROM {source} WHERE {fail}")


def _with_nulls(view: str, lacking: set[str], usable: list[Path]) -> str:
    """The view's column list, a typed NULL standing for each later column that no usable
    file has (``union_by_name`` only fills a column some file holds)."""
    held = set()
    for path in usable:
        where, filesystem = arrow_source(path)
        held.update(pq.read_schema(where, filesystem=filesystem).names)
    schema = _empty_table(view).schema
    out = []
    for name in view_columns(view):
        if name in lacking and name not in held:
            sql_type = _SQL_TYPES[schema.field(name).type]
            out.append(f'CAST(NULL AS {sql_type}) AS "{name}"')
        else:
            out.append(f'"{name}"')
    return ", ".join(out)


#: DuckDB types of the ``LATER_COLUMNS``' Arrow types.
_SQL_TYPES = {pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.string(): "VARCHAR"}


def _dataset_view(
    con: duckdb.DuckDBPyConnection,
    root: ObjectPath,
    view: str,
    usable: list[ObjectPath],
) -> None:
    """``view`` over files on object storage: a registered pyarrow dataset.

    DuckDB's own S3 support (the httpfs extension) is downloaded on first use, which
    cannot be done offline; a pyarrow dataset reads through the root's filesystem, with
    the same explicit file list, hive keys and column types as the local view. The
    ``LATER_COLUMNS`` read as NULL for files without them (the dataset's schema has them).
    """
    schema = _empty_table(view).schema
    keys = pa.schema([schema.field(k) for k in _PARTITIONS[view]])
    dataset = ds.dataset(
        [p.key for p in usable],
        schema=schema,
        filesystem=root.fs,
        format="parquet",
        partitioning=ds.partitioning(keys, flavor="hive"),
        partition_base_dir=_table_dir(root, view).key,
    )
    source = f"_dataset_{view}"
    con.register(source, dataset)
    columns = ", ".join(f'"{c}"' for c in view_columns(view))
    con.execute(f"CREATE VIEW {view} AS SELECT {columns} FROM {source}")


class Views(NamedTuple):
    """An open connection with the four views, and what was skipped or recovered."""

    con: duckdb.DuckDBPyConnection
    notices: list[Notice]


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the views (``VIEW_NAMES``) over ``root``.

    Nothing is persisted: the database lives in memory and the views only read files.
    ``open_views`` also says which files were skipped.
    """
    return open_views(root).con


def open_views(root: Path) -> Views:
    """``connect``, plus the notices a CLI shows before the query's result.

    Journals of crashed runs are recovered to Parquet first (as the replay reader does),
    so that a query sees the records of a recorder killed before it rolled.
    """
    from xle.store.writer import recover_journals

    root = as_root(root)
    # Journals live on the recorders' local disks, never on object storage.
    notices = [] if is_remote(root) else list(recover_journals(root, sweep=False).notices)
    con = duckdb.connect(":memory:")
    for view in VIEW_NAMES:
        columns = ", ".join(f'"{c}"' for c in view_columns(view))
        found = _files(root, view)
        lacking: set[str] = set()
        usable = _usable(root, view, found, notices, lacking) if found else []
        if not usable:
            source = f"_empty_{view}"
            con.register(source, _empty_table(view))
            con.execute(f"CREATE VIEW {view} AS SELECT {columns} FROM {source}")
            continue
        if is_remote(root):
            try:
                _dataset_view(con, root, view, usable)
            except (pa.ArrowException, OSError, duckdb.Error) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                _failing_view(con, view, columns, reason)
            continue
        types = ", ".join(f"'{k}': {_HIVE_TYPES[k]}" for k in _PARTITIONS[view])
        if len(usable) == len(found):
            files = _quote(_glob(root, view))
        else:  # the explicit list of the files left (it can be long)
            files = "[" + ", ".join(_quote(p.as_posix()) for p in usable) + "]"
        union = ""
        if lacking:  # older files: DuckDB fills their missing columns with NULL
            union = ", union_by_name = true"
            columns = _with_nulls(view, lacking, usable)
        source = f"read_parquet({files}, hive_partitioning = true, hive_types = {{{types}}}{union})"
        try:
            con.execute(f"CREATE VIEW {view} AS SELECT {columns} FROM {source}")
        except duckdb.Error as exc:  # the files DuckDB reads to bind the view are bad
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            _failing_view(con, view, columns, reason)
    return Views(con, notices)
