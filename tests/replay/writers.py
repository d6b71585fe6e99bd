"""Feeding one DerivedWriter output by output and another a list at a time, to compare."""

from __future__ import annotations

from pathlib import Path

import pytest

from xle.store.derived import DerivedWriter, Scope


def stored_both_ways(
    factory: pytest.TempPathFactory,
    scope: Scope,
    one_by_one: list,
    in_lists: list,
    cuts: list[int],
) -> tuple[tuple[DerivedWriter, Path], tuple[DerivedWriter, Path]]:
    """``(writer, root)`` of ``one_by_one`` stored with ``store``, and of ``in_lists``
    stored with ``store_all`` in the slices ``cuts`` makes; both committed."""
    one, many = factory.mktemp("one"), factory.mktemp("many")
    by_one = DerivedWriter(one, scope)
    for item in one_by_one:
        by_one.store(item)
    by_one.commit()
    by_list = DerivedWriter(many, scope)
    for lo, hi in zip([0, *cuts], [*cuts, len(in_lists)], strict=True):
        by_list.store_all(in_lists[lo:hi])
    by_list.commit()
    return (by_one, one), (by_list, many)
