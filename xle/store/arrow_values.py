"""Small Arrow values made from their bytes, for the replay's read path.

Why not ``pa.scalar`` / ``pa.array``: their first call imports pandas (to check whether
the value is a pandas object), 0.35 s added to every replay that filters a window or a
symbol, and to none of its work. Compute functions given a Python value call
``pa.scalar`` themselves, so the reader hands them these scalars instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

import pyarrow as pa

__all__ = ["int_array", "int_scalar", "string_array", "string_scalar"]


def int_array(values: Sequence[int], type: pa.DataType) -> pa.Array:
    """Non-null signed integers as an array of ``type`` (int8 to int64)."""
    width = type.bit_width // 8
    data = b"".join(value.to_bytes(width, "little", signed=True) for value in values)
    return pa.Array.from_buffers(type, len(values), [None, pa.py_buffer(data)])


def int_scalar(value: int, type: pa.DataType) -> pa.Scalar:
    """A signed integer as a scalar of ``type``."""
    return int_array([value], type)[0]


def string_array(values: Sequence[str]) -> pa.Array:
    """Non-null strings as a UTF-8 string array."""
    encoded = [value.encode("utf-8") for value in values]
    offsets = list(accumulate(map(len, encoded), initial=0))
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [None, int_array(offsets, pa.int32()).buffers()[1], pa.py_buffer(b"".join(encoded))],
    )


def string_scalar(value: str) -> pa.Scalar:
    """A string as a scalar."""
    return string_array([value])[0]
