# Included by _fastbook.pyx: engine outputs into Arrow columns for the derived writer.
#
# Why: a replay writes a quote row per book and quote interval (100,000 rows on the
# generated million-message log), and turning rows into Arrow the generic way (a tuple
# of attributes per row, then a Python list per column for ``pa.array``) cost about a
# fifth of the replay. Here each attribute is read once and written straight into its
# column's buffer, and the arrays are made from those buffers. This also keeps
# ``pa.array`` off the replay path altogether: its first call imports pandas (to check
# whether the list is a pandas object), 0.35 s of every replay.
#
# Same values, same nulls: a null slot holds zeros in its data buffer, as ``pa.array``
# leaves it, so the Parquet files are byte-identical to the generic path's (a test pins
# this).

from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from operator import attrgetter
from sys import intern
from types import MemberDescriptorType


cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    enum:
        T_OBJECT
        T_OBJECT_EX


cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef Py_ssize_t _slot_offset(cls, str name):
    """Where instances of ``cls`` hold attribute ``name`` (a msgspec struct field, or a
    ``__slots__`` entry: an object member), or -1 when it is anything else."""
    for klass in cls.__mro__:
        descr = klass.__dict__.get(name)
        if descr is not None:
            break
    else:
        return -1
    if type(descr) is not MemberDescriptorType:
        return -1
    cdef PyMemberDef* member = (<PyMemberDescrObject*>descr).d_member
    if member.type != T_OBJECT and member.type != T_OBJECT_EX:
        return -1
    return member.offset


cdef list _attributes(list rows, str name):
    """``[getattr(row, name) for row in rows]``, read straight from each row's slot when
    the rows are instances of one struct type (about 30x cheaper than ``getattr``)."""
    cdef Py_ssize_t n = len(rows)
    cdef Py_ssize_t i, offset
    cdef PyObject* slot
    cdef object row, value, cls
    if n == 0:
        return []
    cls = type(rows[0])
    offset = _slot_offset(cls, name)
    if offset < 0:
        return list(map(attrgetter(name), rows))
    cdef list out = PyList_New(n)
    for i in range(n):
        row = rows[i]
        slot = NULL
        if type(row) is cls:
            slot = (<PyObject**>((<char*><PyObject*>row) + offset))[0]
        value = <object>slot if slot != NULL else getattr(row, name)
        Py_INCREF(value)
        PyList_SET_ITEM(out, i, value)
    return out
from libc.stdint cimport int32_t, int64_t, uintptr_t
from libc.string cimport memset


@cython.final
cdef class _Buffer:
    """A zeroed buffer from Arrow's memory pool (as ``pa.array``'s are: buffers from the
    C heap instead left the replay's peak RSS growing with the log's length)."""

    cdef object buffer
    cdef char* p

    def __cinit__(self, pa, Py_ssize_t size):
        self.buffer = pa.allocate_buffer(size)
        self.p = <char*><uintptr_t>self.buffer.address
        if size:
            memset(self.p, 0, size)


cdef inline void _set_valid(char* bits, Py_ssize_t i) noexcept:
    bits[i >> 3] |= <char>(1 << (i & 7))


cdef object _fixed_width(pa, list values, arrow_type, int kind):
    """int64 (kind 8), int32 (4), float64 (0) or bool (1) values, None for null."""
    cdef Py_ssize_t n = len(values)
    cdef Py_ssize_t i, nulls = 0
    cdef _Buffer valid = _Buffer(pa, (n + 7) // 8)
    cdef _Buffer data = _Buffer(pa, n * kind if kind >= 4 else (n * 8 if kind == 0 else (n + 7) // 8))
    cdef object value
    for i in range(n):
        value = values[i]
        if value is None:
            nulls += 1
            continue
        _set_valid(valid.p, i)
        if kind == 8:
            (<int64_t*>data.p)[i] = <int64_t>value
        elif kind == 4:
            (<int32_t*>data.p)[i] = <int32_t>value
        elif kind == 0:
            (<double*>data.p)[i] = <double>value
        elif value:
            _set_valid(data.p, i)
    return pa.Array.from_buffers(
        arrow_type, n, [valid.buffer if nulls else None, data.buffer], nulls
    )


cdef object _strings(pa, list values, arrow_type):
    """str values, None for null, as a UTF-8 string array."""
    cdef Py_ssize_t n = len(values)
    cdef Py_ssize_t i, size, total = 0, nulls = 0
    cdef const char* text
    cdef object value
    for i in range(n):
        value = values[i]
        if value is not None:
            PyUnicode_AsUTF8AndSize(value, &size)
            total += size
    if total > 2147483647:
        raise OverflowError("more than 2 GiB of text in one batch")
    cdef _Buffer valid = _Buffer(pa, (n + 7) // 8)
    cdef _Buffer offsets = _Buffer(pa, (n + 1) * 4)
    cdef _Buffer data = _Buffer(pa, total)
    cdef int32_t* off = <int32_t*>offsets.p
    cdef int32_t at = 0
    for i in range(n):
        off[i] = at
        value = values[i]
        if value is None:
            nulls += 1
            continue
        _set_valid(valid.p, i)
        text = PyUnicode_AsUTF8AndSize(value, &size)
        memcpy(data.p + at, text, size)
        at += <int32_t>size
    off[n] = at
    return pa.Array.from_buffers(
        arrow_type, n, [valid.buffer if nulls else None, offsets.buffer, data.buffer], nulls
    )


cdef object _column(pa, list values, arrow_type):
    """``values`` (Python objects, None for null) as an array of ``arrow_type``."""
    types = pa.types
    if types.is_int64(arrow_type):
        return _fixed_width(pa, values, arrow_type, 8)
    if types.is_int32(arrow_type):
        return _fixed_width(pa, values, arrow_type, 4)
    if types.is_float64(arrow_type):
        return _fixed_width(pa, values, arrow_type, 0)
    if types.is_boolean(arrow_type):
        return _fixed_width(pa, values, arrow_type, 1)
    if types.is_string(arrow_type):
        return _strings(pa, values, arrow_type)
    if types.is_list(arrow_type) and types.is_struct(arrow_type.value_type):
        return _struct_lists(pa, values, arrow_type)
    raise TypeError(f"no compiled column for {arrow_type}")


cdef object _struct_lists(pa, list values, arrow_type):
    """Lists (never null) of objects whose attributes are the struct's fields."""
    cdef Py_ssize_t n = len(values)
    cdef Py_ssize_t i
    cdef _Buffer offsets = _Buffer(pa, (n + 1) * 4)
    cdef int32_t* off = <int32_t*>offsets.p
    cdef list items = []
    for i in range(n):
        off[i] = <int32_t>len(items)
        items.extend(<list>values[i])
    off[n] = <int32_t>len(items)
    struct = arrow_type.value_type
    children = [
        _column(pa, _attributes(items, intern(field.name)), field.type)
        for field in struct
    ]
    return pa.ListArray.from_arrays(
        pa.Array.from_buffers(pa.int32(), n + 1, [None, offsets.buffer]),
        pa.StructArray.from_arrays(children, fields=list(struct)),
        type=arrow_type,
    )


def arrow_columns(list rows, schema):
    """The columns of ``schema`` for ``rows``, objects with an attribute per field (the
    engine's outputs): what ``pa.array`` makes of one list per column, built without it."""
    import pyarrow as pa

    return [_column(pa, _attributes(rows, intern(field.name)), field.type) for field in schema]
