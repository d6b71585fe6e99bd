"""The store's pandas-free Arrow values equal what ``pa.array`` / ``pa.scalar`` make."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xle.store.arrow_values import int_array, int_scalar, string_array, string_scalar

_WIDTHS = {pa.int8(): 8, pa.int16(): 16, pa.int32(): 32, pa.int64(): 64}


@pytest.mark.parametrize("arrow_type", list(_WIDTHS))
@given(data=st.data())
def test_int_values_equal_pyarrows(arrow_type: pa.DataType, data: st.DataObject) -> None:
    bits = _WIDTHS[arrow_type]
    values = data.draw(st.lists(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)))
    assert int_array(values, arrow_type).equals(pa.array(values, arrow_type))
    for value in values[:3]:
        assert int_scalar(value, arrow_type).equals(pa.scalar(value, arrow_type))


@given(st.lists(st.text()))
def test_string_values_equal_pyarrows(values: list[str]) -> None:
    assert string_array(values).equals(pa.array(values, pa.string()))
    for value in values[:3]:
        assert string_scalar(value).equals(pa.scalar(value, pa.string()))
