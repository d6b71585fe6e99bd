# Included by _fastbook.pyx: engine quotes into Arrow columns for the derived writer.
#
# Why: a replay writes one quote row per book and quote interval; on the generated
# million-message log that is 100,000 rows, and turning them into Arrow the generic way
# (a tuple of attributes per row, then a Python list per column and per VWAP field for
# ``pa.array``) cost about a fifth of the whole replay. Here each attribute is read once
# and written straight into the column's buffer; the arrays are built from those buffers.
#
# Same values, same nulls: a null slot holds 0 in its data buffer, as ``pa.array`` leaves
# it, so the Parquet files are byte-identical to the generic path's (a test pins this).

from libc.stdint cimport uintptr_t
from libc.string cimport memset


cdef class _Column:
    """One fixed-width column being filled: a data buffer and a validity bitmap, both
    from Arrow's memory pool (as ``pa.array``'s are: buffers from the C heap instead
    left the replay's peak RSS growing with the log's length)."""

    cdef object data
    cdef object valid
    cdef char* d
    cdef unsigned char* v
    cdef Py_ssize_t nulls

    def __cinit__(self, pa, Py_ssize_t length, Py_ssize_t width):
        cdef Py_ssize_t data_size = length * width if width > 1 else (length + 7) // 8
        cdef Py_ssize_t valid_size = (length + 7) // 8
        self.data = pa.allocate_buffer(data_size)
        self.valid = pa.allocate_buffer(valid_size)
        self.d = <char*><uintptr_t>self.data.address
        self.v = <unsigned char*><uintptr_t>self.valid.address
        if data_size:
            memset(self.d, 0, data_size)
        if valid_size:
            memset(self.v, 0, valid_size)
        self.nulls = 0

    cdef inline void set_double(self, Py_ssize_t i, object value) except *:
        if value is None:
            self.nulls += 1
            return
        (<double*>self.d)[i] = <double>value
        self.v[i >> 3] |= <unsigned char>(1 << (i & 7))

    cdef inline void set_int(self, Py_ssize_t i, object value) except *:
        if value is None:
            self.nulls += 1
            return
        (<long long*>self.d)[i] = <long long>value
        self.v[i >> 3] |= <unsigned char>(1 << (i & 7))

    cdef inline void set_bit(self, Py_ssize_t i, bint value):
        """A non-null boolean (the data buffer is a bitmap too)."""
        if value:
            (<unsigned char*>self.d)[i >> 3] |= <unsigned char>(1 << (i & 7))
        self.v[i >> 3] |= <unsigned char>(1 << (i & 7))

    cdef object array(self, pa, arrow_type, Py_ssize_t length):
        return pa.Array.from_buffers(
            arrow_type, length, [self.valid if self.nulls else None, self.data], self.nulls
        )


def quote_columns(list quotes, schema, vwap_type):
    """The columns of ``schema`` (the quotes table's, whose last field is the VWAP list)
    for ``quotes``, a list of ``xle.records.Quote``; what ``xle.store.derived`` builds
    with ``pa.array`` column by column."""
    import pyarrow as pa

    cdef Py_ssize_t n = len(quotes)
    cdef Py_ssize_t i, w = 0, walks = 0
    cdef _Column recv_ns, seq, exch_ns, latency
    cdef list floats
    cdef _Column col
    cdef list symbols = [None] * n
    cdef list markets = [None] * n
    cdef list row_walks = [None] * n
    cdef object q, walk
    for i in range(n):
        row_walks[i] = (<object>quotes[i]).vwap
        walks += len(<list>row_walks[i])
    offsets = pa.allocate_buffer((n + 1) * 4)
    cdef int* off = <int*><uintptr_t>offsets.address
    recv_ns = _Column(pa, n, 8)
    seq = _Column(pa, n, 8)
    exch_ns = _Column(pa, n, 8)
    latency = _Column(pa, n, 8)
    floats = [_Column(pa, n, 8) for _ in range(9)]
    cdef _Column bid = floats[0], bid_size = floats[1], ask = floats[2], ask_size = floats[3]
    cdef _Column mid = floats[4], spread = floats[5], bps = floats[6]
    cdef _Column imbalance = floats[7], ratio = floats[8]
    cdef _Column size = _Column(pa, walks, 8), price = _Column(pa, walks, 8)
    cdef _Column filled = _Column(pa, walks, 8), slippage = _Column(pa, walks, 8)
    cdef _Column insufficient = _Column(pa, walks, 1)
    cdef list sides = [None] * walks
    off[0] = 0
    for i in range(n):
        q = quotes[i]
        recv_ns.set_int(i, q.recv_ns)
        seq.set_int(i, q.seq)
        symbols[i] = q.symbol
        markets[i] = q.market
        bid.set_double(i, q.bid)
        bid_size.set_double(i, q.bid_size)
        ask.set_double(i, q.ask)
        ask_size.set_double(i, q.ask_size)
        mid.set_double(i, q.mid)
        spread.set_double(i, q.spread)
        bps.set_double(i, q.spread_bps)
        imbalance.set_double(i, q.imbalance)
        ratio.set_double(i, q.ratio)
        exch_ns.set_int(i, q.exch_ns)
        latency.set_int(i, q.feed_latency_ns)
        for walk in <list>row_walks[i]:
            sides[w] = walk.side
            size.set_double(w, walk.size)
            price.set_double(w, walk.price)
            filled.set_double(w, walk.filled)
            slippage.set_double(w, walk.slippage_bps)
            insufficient.set_bit(w, walk.insufficient)
            w += 1
        off[i + 1] = <int>w
    f64 = pa.float64()
    i64 = pa.int64()
    items = pa.StructArray.from_arrays(
        [
            pa.array(sides, pa.string()),
            size.array(pa, f64, walks),
            price.array(pa, f64, walks),
            filled.array(pa, f64, walks),
            slippage.array(pa, f64, walks),
            insufficient.array(pa, pa.bool_(), walks),
        ],
        fields=list(vwap_type),
    )
    vwap = pa.ListArray.from_arrays(
        pa.Array.from_buffers(pa.int32(), n + 1, [None, offsets]),
        items,
        type=schema.field(len(schema) - 1).type,
    )
    return [
        recv_ns.array(pa, i64, n),
        seq.array(pa, i64, n),
        pa.array(symbols, pa.string()),
        pa.array(markets, pa.string()),
        *[(<_Column>col).array(pa, f64, n) for col in floats],
        exch_ns.array(pa, i64, n),
        latency.array(pa, i64, n),
        vwap,
    ]
