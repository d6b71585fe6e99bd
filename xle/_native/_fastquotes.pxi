# Included by _fastbook.pyx (after _fastrows.pxi, whose buffers it uses): a replay's
# quotes as rows in C, from the lane's quote tick to the derived writer's Arrow columns.
#
# Why: a replay makes a quote per book and quote interval (100,000 on the generated
# million-message log). As Python objects (a ``Quote`` and its ``VwapResult``s, then read
# back attribute by attribute into Arrow columns) they cost about a quarter of the
# replay; here the values go from the book to a C struct to the column buffers. The
# arithmetic is ``make_quote``'s own (``_quote_values`` and ``_walk_into``, in
# _fastbook.pyx), so every value is bit-identical; ``quotes()`` gives the objects back.

cdef extern from *:
    bint __builtin_ssubll_overflow(long long a, long long b, long long* out) nogil

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


cdef inline bint _fits_int64(value) except -1:
    """Is ``value`` (an int, or None for no value) one a C row holds?"""
    return value is None or _INT64_MIN <= value <= _INT64_MAX


cdef enum:
    _Q_VALUES = 9  # bid, bid_size, ask, ask_size, mid, spread, spread_bps, imbalance, ratio
    _Q_EXCH = 9  # the validity bit of exch_ns (and feed_latency_ns)


cdef struct _QuoteRow:
    int64_t recv_ns
    int64_t seq
    int64_t exch_ns
    double v[9]  # _Q_VALUES, as ``_quote_values`` writes them
    uint32_t valid  # bit k: v[k] is not null; bit _Q_EXCH: exch_ns is not null
    int32_t key  # index into the keys' (exchange, symbol, market)
    int32_t walk0  # the row's first walk
    int32_t walks  # how many: buy then sell for each configured size


@cython.final
cdef class QuoteKeys:
    """The books of one lane's quote rows: ``(exchange, symbol, market)`` by index, shared
    by all its ``QuoteRows`` (a row holds an index, not three strings)."""

    cdef list keys
    cdef dict index  # "exchange:SYMBOL" -> index
    cdef list symbol_bytes
    cdef list market_bytes  # None for a book with no canonical market

    def __cinit__(self):
        self.keys = []
        self.index = {}
        self.symbol_bytes = []
        self.market_bytes = []

    cdef int32_t of(self, label, exchange, symbol, market) except -1:
        found = self.index.get(label)
        if found is not None:
            return <int32_t>found
        at = len(self.keys)
        self.keys.append((exchange, symbol, market))
        self.symbol_bytes.append(symbol.encode())
        self.market_bytes.append(market.encode() if market is not None else None)
        self.index[label] = at
        return <int32_t>at


@cython.final
cdef class QuoteRows:
    """Quotes in the order the engine made them, as C rows (``Engine.quote_rows``: the
    replay's writer takes them as Arrow batches, one per exchange; see
    ``xle.store.derived``). ``exchange_of`` and ``quotes()`` read them back."""

    cdef _QuoteRow* rows
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef _QuoteWalk* walks
    cdef Py_ssize_t nw
    cdef Py_ssize_t wcap
    cdef readonly QuoteKeys keys
    cdef readonly long long min_recv_ns
    cdef readonly long long max_recv_ns

    def __cinit__(self, QuoteKeys keys):
        self.keys = keys

    def __dealloc__(self):
        free(self.rows)
        free(self.walks)

    @property
    def num_rows(self):
        return self.n

    def __len__(self):
        return self.n

    cdef _QuoteRow* _next_row(self) except NULL:
        cdef Py_ssize_t cap
        cdef _QuoteRow* grown
        if self.n == self.cap:
            cap = self.cap * 2 if self.cap else 64
            grown = <_QuoteRow*>realloc(self.rows, cap * sizeof(_QuoteRow))
            if grown == NULL:
                raise MemoryError()
            self.rows = grown
            self.cap = cap
        return &self.rows[self.n]

    cdef _QuoteWalk* _next_walks(self, Py_ssize_t count) except NULL:
        cdef Py_ssize_t cap = self.wcap
        cdef _QuoteWalk* grown
        if self.walks == NULL or self.nw + count > cap:
            if cap == 0:
                cap = 256
            while cap < self.nw + count:
                cap *= 2
            grown = <_QuoteWalk*>realloc(self.walks, cap * sizeof(_QuoteWalk))
            if grown == NULL:
                raise MemoryError()
            self.walks = grown
            self.wcap = cap
        return &self.walks[self.nw]

    cdef int add(self, Book book, tuple sizes, Py_ssize_t depth, long long recv_ns,
                 long long seq, int32_t key, object exch_ns) except -1:
        """Append ``make_quote``'s quote of ``book``; 0 (nothing appended) where it would
        return None (a zero mid) or the row cannot hold it (a venue time so far off that
        the latency leaves int64): the caller makes the ``Quote`` then."""
        if not _fits_int64(exch_ns):
            return 0
        return self.add_row(
            book, sizes, depth, recv_ns, seq, key, exch_ns is not None,
            exch_ns if exch_ns is not None else 0,
        )

    cdef int add_row(self, Book book, tuple sizes, Py_ssize_t depth, long long recv_ns,
                     long long seq, int32_t key, bint has_exch, long long exch) except -1:
        """``add`` with the venue time in C (``has_exch`` False: none)."""
        cdef long long latency
        cdef Py_ssize_t count = 2 * len(sizes)
        cdef Py_ssize_t k
        cdef _QuoteRow* row
        cdef _QuoteWalk* walk
        if has_exch and __builtin_ssubll_overflow(recv_ns, exch, &latency):
            return 0
        row = self._next_row()
        if not _quote_values(book, depth, row.v, &row.valid):
            return 0
        walk = self._next_walks(count)
        row.recv_ns = recv_ns
        row.seq = seq
        row.exch_ns = exch
        row.key = key
        row.walk0 = <int32_t>self.nw
        row.walks = <int32_t>count
        if has_exch:
            row.valid |= 1u << _Q_EXCH
        k = 0
        for item in sizes:
            _walk_into(book, True, item, &walk[k])
            _walk_into(book, False, item, &walk[k + 1])
            k += 2
        self.nw += count
        if self.n == 0 or recv_ns < self.min_recv_ns:
            self.min_recv_ns = recv_ns
        if self.n == 0 or recv_ns > self.max_recv_ns:
            self.max_recv_ns = recv_ns
        self.n += 1
        return 1

    cdef int _append(self, QuoteRows source, _QuoteRow* row) except -1:
        """A copy of ``source``'s ``row`` and its walks as the last row."""
        cdef _QuoteRow* to = self._next_row()
        to[0] = row[0]
        to.walk0 = <int32_t>self.nw
        memcpy(self._next_walks(row.walks), &source.walks[row.walk0],
               row.walks * sizeof(_QuoteWalk))
        self.nw += row.walks
        if self.n == 0 or row.recv_ns < self.min_recv_ns:
            self.min_recv_ns = row.recv_ns
        if self.n == 0 or row.recv_ns > self.max_recv_ns:
            self.max_recv_ns = row.recv_ns
        self.n += 1
        return 0

    def add_quote(self, Book book, tuple sizes, Py_ssize_t depth, long long recv_ns,
                  long long seq, exchange, symbol, market, exch_ns):
        """``add`` by name, as ``make_quote`` is called; True when the row was added."""
        key = self.keys.of(f"{exchange}:{symbol}", exchange, symbol, market)
        return self.add(book, sizes, depth, recv_ns, seq, key, exch_ns) == 1

    def copy_to(self, QuoteRows other, exchange, Py_ssize_t start, Py_ssize_t limit):
        """Append to ``other`` (same keys) the rows of ``exchange`` from row ``start`` on,
        at most ``limit`` of them: ``(the row to go on from, how many were copied)``."""
        cdef Py_ssize_t i, copied = 0
        cdef _QuoteRow* row
        if other.keys is not self.keys or other is self:
            raise ValueError("QuoteRows.copy_to needs other rows of the same keys")
        cdef bytearray wanted = self._wanted(exchange)
        i = start
        while i < self.n and copied < limit:
            row = &self.rows[i]
            i += 1
            if not wanted[row.key]:
                continue
            other._append(self, row)
            copied += 1
        return i, copied

    cdef bytearray _wanted(self, exchange):
        """Per key: is it a book of ``exchange``?"""
        cdef Py_ssize_t k
        cdef bytearray wanted = bytearray(len(self.keys.keys))
        for k, key in enumerate(self.keys.keys):
            wanted[k] = 1 if key[0] == exchange else 0
        return wanted

    def exchanges(self):
        """The exchanges of the rows, in order of first appearance."""
        cdef Py_ssize_t i
        seen = {}
        keys = self.keys.keys
        for i in range(self.n):
            exchange = keys[self.rows[i].key][0]
            if exchange not in seen:
                seen[exchange] = None
        return list(seen)

    def select(self, long long start_ns, long long end_ns, covers_book):
        """The rows with ``start_ns <= recv_ns <= end_ns`` of the books for which
        ``covers_book(exchange, symbol)`` holds: this object when that is all of them."""
        cdef Py_ssize_t i, j, w
        cdef _QuoteRow* row
        cdef QuoteRows kept
        cdef bytearray allowed = bytearray(len(self.keys.keys))
        for i, (exchange, symbol, _market) in enumerate(self.keys.keys):
            allowed[i] = 1 if covers_book(exchange, symbol) else 0
        for i in range(self.n):
            row = &self.rows[i]
            if not (allowed[row.key] and start_ns <= row.recv_ns <= end_ns):
                break
        else:
            return self
        kept = QuoteRows(self.keys)
        for i in range(self.n):
            row = &self.rows[i]
            if not (allowed[row.key] and start_ns <= row.recv_ns <= end_ns):
                continue
            kept._append(self, row)
        return kept

    def quotes(self):
        """The rows as the ``Quote`` objects ``make_quote`` gives."""
        cdef Py_ssize_t i, k
        cdef _QuoteRow* row
        cdef _QuoteWalk* walk
        out = []
        keys = self.keys.keys
        for i in range(self.n):
            row = &self.rows[i]
            exchange, symbol, market = keys[row.key]
            walks = []
            for k in range(row.walks):
                walk = &self.walks[row.walk0 + k]
                walks.append(
                    VwapResult(
                        "buy" if walk.buy else "sell",
                        walk.size,
                        walk.price if walk.priced else None,
                        walk.filled,
                        walk.slippage if walk.priced else None,
                        bool(walk.insufficient),
                    )
                )
            values = [row.v[k] if row.valid & (1u << k) else None for k in range(_Q_VALUES)]
            has_exch = row.valid & (1u << _Q_EXCH)
            out.append(
                Quote(
                    row.recv_ns,
                    row.seq,
                    exchange,
                    symbol,
                    market,
                    *values,
                    walks,
                    row.exch_ns if has_exch else None,
                    row.recv_ns - row.exch_ns if has_exch else None,
                )
            )
        return out

    def batch(self, exchange, schema):
        """The rows of ``exchange``, in order, as a record batch of ``schema`` (the
        derived ``quotes`` table's: the columns ``arrow_columns`` makes of the objects,
        with the same values and nulls)."""
        import pyarrow as pa

        if list(schema.names) != _QUOTE_SCHEMA_NAMES:
            raise ValueError(f"QuoteRows.batch makes {_QUOTE_SCHEMA_NAMES}, not {schema.names}")
        cdef bytearray wanted = self._wanted(exchange)
        cdef Py_ssize_t* chosen = <Py_ssize_t*>malloc((self.n + 1) * sizeof(Py_ssize_t))
        if chosen == NULL:
            raise MemoryError()
        try:
            return self._batch(pa, schema, chosen, wanted)
        finally:
            free(chosen)

    cdef object _batch(self, pa, schema, Py_ssize_t* chosen, bytearray wanted):
        cdef Py_ssize_t i, j, k, m = 0, nw = 0
        for i in range(self.n):
            if wanted[self.rows[i].key]:
                chosen[m] = i
                nw += self.rows[i].walks
                m += 1
        cdef _QuoteRow* row
        cdef _QuoteWalk* walk
        cdef _Buffer recv = _Buffer(pa, m * 8)
        cdef _Buffer seq = _Buffer(pa, m * 8)
        cdef _Buffer exch = _Buffer(pa, m * 8)
        cdef _Buffer latency = _Buffer(pa, m * 8)
        cdef _Buffer exch_valid = _Buffer(pa, (m + 7) // 8)
        cdef Py_ssize_t exch_nulls = 0
        cdef list value_data = [_Buffer(pa, m * 8) for k in range(_Q_VALUES)]
        cdef list value_valid = [_Buffer(pa, (m + 7) // 8) for k in range(_Q_VALUES)]
        cdef Py_ssize_t nulls[9]
        cdef double* data[9]
        cdef char* valid[9]
        cdef _Buffer buf
        for k in range(_Q_VALUES):
            nulls[k] = 0
            buf = value_data[k]
            data[k] = <double*>buf.p
            buf = value_valid[k]
            valid[k] = buf.p
        cdef _Buffer list_offsets = _Buffer(pa, (m + 1) * 4)
        cdef int32_t* loff = <int32_t*>list_offsets.p
        for j in range(m):
            row = &self.rows[chosen[j]]
            (<int64_t*>recv.p)[j] = row.recv_ns
            (<int64_t*>seq.p)[j] = row.seq
            if row.valid & (1u << _Q_EXCH):
                (<int64_t*>exch.p)[j] = row.exch_ns
                (<int64_t*>latency.p)[j] = row.recv_ns - row.exch_ns
                _set_valid(exch_valid.p, j)
            else:
                exch_nulls += 1
            for k in range(_Q_VALUES):
                if row.valid & (1u << k):
                    data[k][j] = row.v[k]
                    _set_valid(valid[k], j)
                else:
                    nulls[k] += 1
        symbols = self._key_strings(pa, chosen, m, self.keys.symbol_bytes)
        markets = self._key_strings(pa, chosen, m, self.keys.market_bytes)
        # The walks: a list per row of struct<side, size, price, filled, slippage_bps,
        # insufficient>.
        cdef _Buffer side_offsets = _Buffer(pa, (nw + 1) * 4)
        cdef _Buffer side_data = _Buffer(pa, nw * 4)
        cdef _Buffer size = _Buffer(pa, nw * 8)
        cdef _Buffer price = _Buffer(pa, nw * 8)
        cdef _Buffer price_valid = _Buffer(pa, (nw + 7) // 8)
        cdef _Buffer filled = _Buffer(pa, nw * 8)
        cdef _Buffer slippage = _Buffer(pa, nw * 8)
        cdef _Buffer short = _Buffer(pa, (nw + 7) // 8)
        cdef int32_t* soff = <int32_t*>side_offsets.p
        cdef int32_t at = 0
        cdef Py_ssize_t w = 0, unpriced = 0
        for j in range(m):
            row = &self.rows[chosen[j]]
            loff[j] = <int32_t>w
            for k in range(row.walks):
                walk = &self.walks[row.walk0 + k]
                soff[w] = at
                if walk.buy:
                    memcpy(side_data.p + at, b"buy", 3)
                    at += 3
                else:
                    memcpy(side_data.p + at, b"sell", 4)
                    at += 4
                (<double*>size.p)[w] = walk.size
                (<double*>filled.p)[w] = walk.filled
                if walk.priced:
                    (<double*>price.p)[w] = walk.price
                    (<double*>slippage.p)[w] = walk.slippage
                    _set_valid(price_valid.p, w)
                else:
                    unpriced += 1
                if walk.insufficient:
                    _set_valid(short.p, w)
                w += 1
        loff[m] = <int32_t>w
        soff[nw] = at
        types = [field.type for field in schema]
        vwap_type = types[15]
        struct = vwap_type.value_type
        f64 = pa.float64()
        walks = pa.StructArray.from_arrays(
            [
                pa.Array.from_buffers(pa.string(), nw, [None, side_offsets.buffer, side_data.buffer]),
                pa.Array.from_buffers(f64, nw, [None, size.buffer]),
                pa.Array.from_buffers(
                    f64, nw, [price_valid.buffer if unpriced else None, price.buffer], unpriced
                ),
                pa.Array.from_buffers(f64, nw, [None, filled.buffer]),
                pa.Array.from_buffers(
                    f64, nw, [price_valid.buffer if unpriced else None, slippage.buffer], unpriced
                ),
                pa.Array.from_buffers(pa.bool_(), nw, [None, short.buffer]),
            ],
            fields=list(struct),
        )
        i64 = pa.int64()
        arrays = [
            pa.Array.from_buffers(i64, m, [None, recv.buffer]),
            pa.Array.from_buffers(i64, m, [None, seq.buffer]),
            symbols,
            markets,
        ]
        for k in range(_Q_VALUES):
            arrays.append(
                pa.Array.from_buffers(
                    f64,
                    m,
                    [(<_Buffer>value_valid[k]).buffer if nulls[k] else None,
                     (<_Buffer>value_data[k]).buffer],
                    nulls[k],
                )
            )
        exch_validity = exch_valid.buffer if exch_nulls else None
        arrays.append(pa.Array.from_buffers(i64, m, [exch_validity, exch.buffer], exch_nulls))
        arrays.append(pa.Array.from_buffers(i64, m, [exch_validity, latency.buffer], exch_nulls))
        arrays.append(
            pa.ListArray.from_arrays(
                pa.Array.from_buffers(pa.int32(), m + 1, [None, list_offsets.buffer]),
                walks,
                type=vwap_type,
            )
        )
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    cdef object _key_strings(self, pa, Py_ssize_t* chosen, Py_ssize_t m, list texts):
        """The chosen rows' key strings (``texts``: UTF-8 bytes or None per key)."""
        cdef Py_ssize_t j, total = 0, nulls = 0
        cdef int32_t at = 0
        cdef bytes text
        for j in range(m):
            value = texts[self.rows[chosen[j]].key]
            if value is not None:
                total += len(<bytes>value)
        if total > 2147483647:
            raise OverflowError("more than 2 GiB of text in one batch")
        cdef _Buffer valid = _Buffer(pa, (m + 7) // 8)
        cdef _Buffer offsets = _Buffer(pa, (m + 1) * 4)
        cdef _Buffer data = _Buffer(pa, total)
        cdef int32_t* off = <int32_t*>offsets.p
        for j in range(m):
            off[j] = at
            value = texts[self.rows[chosen[j]].key]
            if value is None:
                nulls += 1
                continue
            text = <bytes>value
            _set_valid(valid.p, j)
            memcpy(data.p + at, <const char*>text, len(text))
            at += <int32_t>len(text)
        off[m] = at
        return pa.Array.from_buffers(
            pa.string(), m, [valid.buffer if nulls else None, offsets.buffer, data.buffer], nulls
        )


_QUOTE_SCHEMA_NAMES = [
    "recv_ns", "seq", "symbol", "market", "bid", "bid_size", "ask", "ask_size", "mid",
    "spread", "spread_bps", "imbalance", "ratio", "exch_ns", "feed_latency_ns", "vwap",
]
