"""The compiled core is built whenever it can be, and is the build of today's sources.

A Cython error does not fail ``pip install`` (``setup.py`` falls back to pure Python on
purpose, for machines without a compiler), so without these checks a broken ``.pyx`` or
``.pxi`` would pass every test on the slower fallback, or on a stale build left from before.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from xle._native import book as book_module

NATIVE = Path(book_module.__file__).resolve().parent


@pytest.mark.skipif(
    shutil.which("cc") is None or bool(os.environ.get("XLE_PURE_PYTHON")),
    reason="no C compiler, or the pure-Python fallback was asked for",
)
def test_the_compiled_core_is_built_where_a_compiler_is():
    assert book_module.COMPILED, "xle/_native/_fastbook.pyx did not build: see pip install -v"


@pytest.mark.skipif(not book_module.COMPILED, reason="compiled book not built")
def test_the_compiled_core_is_not_older_than_its_sources():
    from xle._native import _fastbook

    built = Path(_fastbook.__file__).stat().st_mtime
    sources = [*NATIVE.glob("_fastbook.pyx"), *NATIVE.glob("_fast*.pxi")]
    stale = [p.name for p in sources if p.stat().st_mtime > built]
    assert not stale, f"the compiled core predates {stale}: rebuild (pip install -e .)"
