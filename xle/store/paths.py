"""Where things live under a data root (docs/design.md, "The raw event log" and "Queries").

``--data DIR`` defaults to ``$XLE_DATA`` or ``./data`` and may be a filesystem URI
(``s3://bucket/prefix``, ``xle.store.fs``); the raw log is ``DIR/raw`` and
derived outputs are ``DIR/derived/{quotes,arbitrage,integrity}``.
"""

from __future__ import annotations

import os
from pathlib import Path

from xle.store.fs import StorePath, as_root

__all__ = ["DERIVED_TABLES", "data_root", "derived_dir", "journal_dir", "raw_dir"]

DERIVED_TABLES: tuple[str, ...] = ("quotes", "arbitrage", "integrity")


def data_root(option: str | os.PathLike[str] | None = None) -> StorePath:
    """The data root of ``--data``, else ``$XLE_DATA``, else ``./data``: a local ``Path``,
    or an ``ObjectPath`` for a filesystem URI such as ``s3://bucket/prefix`` (see
    ``xle.store.fs``; raises ``DataError`` for an unusable URI)."""
    if option:
        return as_root(option)
    return as_root(os.environ.get("XLE_DATA") or "data")


def raw_dir(root: Path) -> Path:
    return root / "raw"


def journal_dir(root: Path) -> Path:
    return raw_dir(root) / "_journal"


def derived_dir(root: Path, table: str) -> Path:
    return root / "derived" / table
