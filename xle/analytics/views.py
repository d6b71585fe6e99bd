"""DuckDB over the Parquet store: the views ``raw``, ``quotes``, ``arbitrage``, ``integrity``.

No second database: an in-memory DuckDB connection whose views read the files in place
(DESIGN section 4). Each view has a fixed column list, the file columns followed by the
hive partition keys, so that queries and scripts see the same shape whether the table
has files or not: a table without files becomes an empty view with the same columns
(a query over it returns no rows instead of failing, and the other views still work).

``raw`` globs ``raw/exchange=*/date=*/hour=*/*.parquet``, which leaves out the recorder's
``raw/_journal`` and any temporary file a writer has not yet renamed into place (those
start with ``.`` and end in ``.tmp``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from xle.analytics.derived import PARTITION_KEYS, SCHEMAS
from xle.paths import derived_dir, raw_dir
from xle.rawlog import JOURNAL_SCHEMA

__all__ = ["RAW_SCHEMA", "VIEW_NAMES", "connect", "view_columns"]

#: Columns of the raw log as the ``raw`` view shows them (DESIGN section 3).
RAW_SCHEMA = pa.schema([f for f in JOURNAL_SCHEMA if f.name != "exchange"])  # plain strings

VIEW_NAMES: tuple[str, ...] = ("raw", "quotes", "arbitrage", "integrity")

_HIVE_TYPES = {"exchange": "VARCHAR", "date": "DATE", "hour": "INTEGER"}
_PARTITIONS: dict[str, tuple[str, ...]] = {"raw": ("exchange", "date", "hour"), **PARTITION_KEYS}
_PARTITION_ARROW = {"exchange": pa.string(), "date": pa.date32(), "hour": pa.int32()}


def _file_schema(view: str) -> pa.Schema:
    return RAW_SCHEMA if view == "raw" else SCHEMAS[view]


def view_columns(view: str) -> list[str]:
    """Column names of a view, in order: file columns then partition keys."""
    return [*_file_schema(view).names, *_PARTITIONS[view]]


def _table_dir(root: Path, view: str) -> Path:
    return raw_dir(root) if view == "raw" else derived_dir(root, view)


def _glob(root: Path, view: str) -> str:
    pattern = "/".join(f"{key}=*" for key in _PARTITIONS[view])
    return f"{_table_dir(root, view).as_posix()}/{pattern}/*.parquet"


def _files(root: Path, view: str) -> list[Path]:
    directory = _table_dir(root, view)
    if not directory.is_dir():
        return []
    pattern = "/".join(f"{key}=*" for key in _PARTITIONS[view]) + "/*.parquet"
    return sorted(p for p in directory.glob(pattern) if not p.name.startswith((".", "_")))


def _raw_source(root: Path, found: list[Path]) -> str:
    """The glob, or the explicit file list when a compaction left superseded files.

    The reader's ``LogReader.files()`` leaves out files whose rows a compacted file
    already holds (an interrupted ``xle compact``); the view must not count them twice.
    The glob is kept for the common case because the list can be long.
    """
    from xle.replay.reader import LogReader

    live = LogReader(root).files()
    if len(live) == len(found):
        return _quote(_glob(root, "raw"))
    return "[" + ", ".join(_quote(p.as_posix()) for p in sorted(live)) + "]"


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


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the four views over the data root ``root``.

    Nothing is persisted: the database lives in memory and the views only read files.
    """
    con = duckdb.connect(":memory:")
    for view in VIEW_NAMES:
        columns = ", ".join(f'"{c}"' for c in view_columns(view))
        found = _files(root, view)
        if not found:
            source = f"_empty_{view}"
            con.register(source, _empty_table(view))
            con.execute(f"CREATE VIEW {view} AS SELECT {columns} FROM {source}")
            continue
        types = ", ".join(f"'{k}': {_HIVE_TYPES[k]}" for k in _PARTITIONS[view])
        files = _raw_source(root, found) if view == "raw" else _quote(_glob(root, view))
        source = f"read_parquet({files}, hive_partitioning = true, hive_types = {{{types}}})"
        try:
            con.execute(f"CREATE VIEW {view} AS SELECT {columns} FROM {source}")
        except duckdb.Error as exc:  # the files DuckDB reads to bind the view are bad
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            _failing_view(con, view, columns, reason)
    return con
