# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twin of ``xle._native.book.PyBook``: the L2 book and the walks over it.

Why: on the replay hot path the pure-Python book (dict + bisect-sorted key list) and the
VWAP / arbitrage walks are most of the engine's time; in C the same work costs a small
fraction of it (figures: benchmarks/README.md, "Measurements behind the code").

Same contract, same numbers: every side is a sorted C array of (key, qty) doubles with
the best level at the *end* (bids keyed by price ascending, asks by negated price
ascending, exactly like the pure-Python lists), and every sum is accumulated in the same
order with the same IEEE double operations as the Python code, so the two give
bit-identical outputs (a test pins this). Built with ``-ffp-contract=off`` so no fused
multiply-add can change a rounding.

The same module also holds the frame parsers that feed it (``parse_binance_depth``,
``parse_coinbase_l2`` and their ``Levels`` arrays), kept in ``_fastwire.pxi``.
"""

cimport cython
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_FromDouble
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memcpy, memmove


from xle.records import Quote, VwapResult

cdef class Levels  # defined with the wire parsers, in _fastwire.pxi


cdef struct _Entry:
    double key
    double qty
    Py_ssize_t order


cdef int _cmp_entry(const void* a, const void* b) noexcept nogil:
    cdef const _Entry* x = <const _Entry*>a
    cdef const _Entry* y = <const _Entry*>b
    if x.key < y.key:
        return -1
    if x.key > y.key:
        return 1
    if x.order < y.order:
        return -1
    if x.order > y.order:
        return 1
    return 0


cdef extern from *:
    """
    /* The number of the last XLE_NEAR_END keys (ascending) that are >= key, as the
       index of the first of them: bisect_left within that window, or -1 when the key
       lies before it. A fixed count of comparisons, which the compiler vectorizes. */
    #define XLE_NEAR_END 32
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    static inline Py_ssize_t xle_find_near_end(const double* keys, Py_ssize_t n, double key) {
        Py_ssize_t count = 0, j;
        if (n < XLE_NEAR_END) {
            for (j = 0; j < n; j++) count += keys[j] >= key;
            return n - count;
        }
        keys += n - XLE_NEAR_END;
    #if defined(__SSE2__)
        {   /* two keys per comparison, four sums: no chain of dependent additions */
            __m128d k = _mm_set1_pd(key);
            __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
            for (j = 0; j < XLE_NEAR_END; j += 8) {
                a0 = _mm_sub_epi64(a0, _mm_castpd_si128(_mm_cmpge_pd(_mm_loadu_pd(keys + j), k)));
                a1 = _mm_sub_epi64(a1, _mm_castpd_si128(_mm_cmpge_pd(_mm_loadu_pd(keys + j + 2), k)));
                a2 = _mm_sub_epi64(a2, _mm_castpd_si128(_mm_cmpge_pd(_mm_loadu_pd(keys + j + 4), k)));
                a3 = _mm_sub_epi64(a3, _mm_castpd_si128(_mm_cmpge_pd(_mm_loadu_pd(keys + j + 6), k)));
            }
            a0 = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
            count = (Py_ssize_t)(_mm_cvtsi128_si64(a0) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(a0, a0)));
        }
    #else
        for (j = 0; j < XLE_NEAR_END; j++) count += keys[j] >= key;
    #endif
        return count < XLE_NEAR_END ? n - count : -1;
    }
    """
    const Py_ssize_t _NEAR_END "XLE_NEAR_END"
    Py_ssize_t xle_find_near_end(const double* keys, Py_ssize_t n, double key) nogil


@cython.final
cdef class _Side:
    """Keys ascending, best last; ``sign`` turns a price into its key (+1 bids, -1 asks).

    The live levels are ``K[0:n]`` / ``Q[0:n]``, a window into buffers with free room at
    both ends: an insert or delete moves whichever part of the window is shorter, so
    changes at the touch (the end) and trims at the far end (the start) both stay cheap.
    """

    cdef double* keys  # buffers
    cdef double* qtys
    cdef double* K  # = keys + lo: the live window
    cdef double* Q
    cdef Py_ssize_t lo
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef double sign

    def __cinit__(self, double sign):
        self.sign = sign
        self.n = 0
        self.cap = 64
        self.lo = 32
        self.keys = <double*>malloc(self.cap * sizeof(double))
        self.qtys = <double*>malloc(self.cap * sizeof(double))
        if self.keys == NULL or self.qtys == NULL:
            raise MemoryError()
        self.K = self.keys + self.lo
        self.Q = self.qtys + self.lo

    def __dealloc__(self):
        free(self.keys)
        free(self.qtys)

    cdef int _recentre(self, Py_ssize_t need) except -1:
        """Buffers of at least twice ``need`` with the window in the middle."""
        cdef Py_ssize_t cap = self.cap
        cdef Py_ssize_t lo
        cdef double* keys
        cdef double* qtys
        while cap < 2 * need + 16:
            cap *= 2
        keys = <double*>malloc(cap * sizeof(double))
        qtys = <double*>malloc(cap * sizeof(double))
        if keys == NULL or qtys == NULL:
            free(keys)
            free(qtys)
            raise MemoryError()
        lo = (cap - need) // 2
        if self.n:
            memcpy(keys + lo, self.K, self.n * sizeof(double))
            memcpy(qtys + lo, self.Q, self.n * sizeof(double))
        free(self.keys)
        free(self.qtys)
        self.keys = keys
        self.qtys = qtys
        self.cap = cap
        self.lo = lo
        self.K = keys + lo
        self.Q = qtys + lo
        return 0

    cdef inline Py_ssize_t _find(self, double key) noexcept:
        """Index of the first key >= ``key`` (bisect_left)."""
        cdef Py_ssize_t lo = 0
        cdef Py_ssize_t hi = self.n
        cdef Py_ssize_t mid
        cdef double* keys = self.K
        # Updates cluster at the touch (the end): 95 % of them fall among the last 32
        # levels on the generated logs (median 9). Counting the keys there that are
        # >= ``key`` finds the place without a branch per key; a walk back from the end
        # cost a mispredicted branch at its (random) stop, about half of ``set``'s time.
        cdef Py_ssize_t at = xle_find_near_end(keys, hi, key)
        if at >= 0:
            return at
        hi -= _NEAR_END
        while lo < hi:
            mid = (lo + hi) >> 1
            if keys[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef int _insert(self, Py_ssize_t i, double key, double qty) except -1:
        cdef Py_ssize_t n = self.n
        if i < n - i:  # nearer the start: move the prefix one slot left
            if self.lo == 0:
                self._recentre(n + 1)
            if i:
                memmove(self.K - 1, self.K, i * sizeof(double))
                memmove(self.Q - 1, self.Q, i * sizeof(double))
            self.lo -= 1
            self.K -= 1
            self.Q -= 1
        else:  # nearer the end: move the suffix one slot right
            if self.lo + n >= self.cap:
                self._recentre(n + 1)
            if n - i:
                memmove(self.K + i + 1, self.K + i, (n - i) * sizeof(double))
                memmove(self.Q + i + 1, self.Q + i, (n - i) * sizeof(double))
        self.K[i] = key
        self.Q[i] = qty
        self.n = n + 1
        return 0

    cdef inline void _delete(self, Py_ssize_t i) noexcept:
        cdef Py_ssize_t n = self.n
        if i < n - 1 - i:  # move the prefix one slot right
            if i:
                memmove(self.K + 1, self.K, i * sizeof(double))
                memmove(self.Q + 1, self.Q, i * sizeof(double))
            self.lo += 1
            self.K += 1
            self.Q += 1
        elif n - 1 - i:
            memmove(self.K + i, self.K + i + 1, (n - 1 - i) * sizeof(double))
            memmove(self.Q + i, self.Q + i + 1, (n - 1 - i) * sizeof(double))
        self.n = n - 1

    cdef int set(self, double price, double qty) except -1:
        cdef double key = self.sign * price
        cdef Py_ssize_t i = self._find(key)
        if i < self.n and self.K[i] == key:
            if qty == 0.0:
                self._delete(i)
            else:
                self.Q[i] = qty
            return 0
        if qty != 0.0:
            self._insert(i, key, qty)
        return 0

    cdef void clear(self) noexcept:
        self.n = 0
        self.lo = self.cap // 2
        self.K = self.keys + self.lo
        self.Q = self.qtys + self.lo

    cdef int load(self, object levels) except -1:
        """Replace the side: positive quantities only, the last duplicate price wins."""
        cdef list items = list(levels)
        cdef Py_ssize_t m = len(items)
        cdef _Entry* entries = <_Entry*>malloc((m if m else 1) * sizeof(_Entry))
        cdef Py_ssize_t i, j, k = 0
        cdef double price, qty
        if entries == NULL:
            raise MemoryError()
        try:
            for i in range(m):
                price, qty = _level(items[i])
                if qty > 0.0:
                    entries[k].key = self.sign * price
                    entries[k].qty = qty
                    entries[k].order = i
                    k += 1
            qsort(entries, k, sizeof(_Entry), _cmp_entry)
            self.n = 0
            self._recentre(k)
            j = 0
            for i in range(k):
                if i + 1 < k and entries[i + 1].key == entries[i].key:
                    continue  # a later duplicate of this price follows: it wins
                self.K[j] = entries[i].key
                self.Q[j] = entries[i].qty
                j += 1
            self.n = j
        finally:
            free(entries)
        return 0

    cdef int apply(self, object levels) except -1:
        cdef double price, qty
        cdef object item
        cdef Levels parsed
        cdef Py_ssize_t i
        if type(levels) is Levels:
            parsed = <Levels>levels
            for i in range(parsed.n):
                self.set(parsed.data[2 * i], parsed.data[2 * i + 1])
        elif type(levels) is list:
            for item in <list>levels:
                if (
                    type(item) is tuple
                    and PyTuple_GET_SIZE(item) == 2
                    and type(<object>PyTuple_GET_ITEM(item, 0)) is float
                    and type(<object>PyTuple_GET_ITEM(item, 1)) is float
                ):
                    price = PyFloat_AS_DOUBLE(<object>PyTuple_GET_ITEM(item, 0))
                    qty = PyFloat_AS_DOUBLE(<object>PyTuple_GET_ITEM(item, 1))
                else:
                    price, qty = _level(item)
                self.set(price, qty)
        else:
            for item in levels:
                price, qty = _level(item)
                self.set(price, qty)
        return 0

    cdef inline object best(self):
        if self.n == 0:
            return None
        return PyFloat_FromDouble(self.sign * self.K[self.n - 1])

    cdef list top(self, Py_ssize_t depth):
        cdef Py_ssize_t i, stop
        cdef list out = []
        stop = 0 if depth < 0 or depth >= self.n else self.n - depth
        i = self.n - 1
        while i >= stop:
            out.append((self.sign * self.K[i], self.Q[i]))
            i -= 1
        return out

    cdef double depth_sum(self, Py_ssize_t depth) noexcept:
        cdef double total = 0.0
        cdef Py_ssize_t i, stop
        stop = 0 if depth < 0 or depth >= self.n else self.n - depth
        i = self.n - 1
        while i >= stop:
            total += self.Q[i]
            i -= 1
        return total


cdef inline tuple _level(object item):
    price, qty = item
    return float(price), float(qty)


@cython.final
cdef class Book:
    """One exchange's L2 book for one symbol (compiled). Pure: no clock, no I/O."""

    cdef _Side _bids
    cdef _Side _asks

    def __cinit__(self):
        self._bids = _Side(1.0)
        self._asks = _Side(-1.0)

    # ------------------------------------------------------------------ mutation

    def clear(self):
        self._bids.clear()
        self._asks.clear()

    def load(self, bids, asks):
        """Replace the whole book (a snapshot); zero quantities are left out."""
        self._bids.load(bids)
        self._asks.load(asks)

    def apply(self, bids, asks):
        """Apply absolute quantities; 0 removes the level. True if the best prices moved."""
        cdef _Side b = self._bids
        cdef _Side a = self._asks
        cdef Py_ssize_t bn = b.n
        cdef Py_ssize_t an = a.n
        cdef double bk = b.K[bn - 1] if bn else 0.0
        cdef double ak = a.K[an - 1] if an else 0.0
        b.apply(bids)
        a.apply(asks)
        if (bn == 0) != (b.n == 0) or (an == 0) != (a.n == 0):
            return True
        return (b.n != 0 and b.K[b.n - 1] != bk) or (a.n != 0 and a.K[a.n - 1] != ak)

    # ------------------------------------------------------------------ reading

    def best_bid(self):
        return self._bids.best()

    def best_ask(self):
        return self._asks.best()

    def best_bid_size(self):
        cdef _Side s = self._bids
        return s.Q[s.n - 1] if s.n else None

    def best_ask_size(self):
        cdef _Side s = self._asks
        return s.Q[s.n - 1] if s.n else None

    def top(self):
        """(best bid, best ask), None for an empty side."""
        return self._bids.best(), self._asks.best()

    def is_crossed(self):
        cdef _Side b = self._bids
        cdef _Side a = self._asks
        return b.n != 0 and a.n != 0 and b.K[b.n - 1] >= -a.K[a.n - 1]

    def bid_prices(self):
        """Bid prices from the best down."""
        return [p for p, _ in self._bids.top(-1)]

    def ask_prices(self):
        """Ask prices from the best up."""
        return [p for p, _ in self._asks.top(-1)]

    def size_at(self, double price, bint bid):
        """Quantity shown at ``price`` on the bid (or ask) side; 0.0 when no level."""
        cdef _Side s = self._bids if bid else self._asks
        cdef double key = s.sign * price
        cdef Py_ssize_t i = s._find(key)
        return s.Q[i] if i < s.n and s.K[i] == key else 0.0

    def top_bids(self, depth=None):
        return self._bids.top(-1 if depth is None else depth)

    def top_asks(self, depth=None):
        return self._asks.top(-1 if depth is None else depth)

    @property
    def bids(self):
        """Price -> quantity (a copy: the compiled book keeps no dict)."""
        return dict(self._bids.top(-1))

    @property
    def asks(self):
        return dict(self._asks.top(-1))

    def depth_sums(self, Py_ssize_t depth):
        """(B, A): summed sizes of the best ``depth`` levels, best first."""
        return self._bids.depth_sum(depth), self._asks.depth_sum(depth)

    def walk(self, bint buy, double size):
        """(notional, remaining, best price or None) of taking ``size`` from one side."""
        cdef double notional, remaining
        cdef _Side s = self._asks if buy else self._bids
        if not self._walk(buy, size, &notional, &remaining):
            return notional, remaining, None
        return notional, remaining, s.sign * s.K[s.n - 1]

    cdef bint _walk(self, bint buy, double size, double* notional_out, double* remaining_out) noexcept:
        """Take ``size`` from one side; False when that side is empty."""
        cdef _Side s = self._asks if buy else self._bids
        cdef double remaining = size
        cdef double notional = 0.0
        cdef double price, qty
        cdef Py_ssize_t i = s.n - 1
        notional_out[0] = notional
        remaining_out[0] = remaining
        if i < 0:
            return False
        while i >= 0:
            price = s.sign * s.K[i]
            qty = s.Q[i]
            if qty >= remaining:
                notional += price * remaining
                remaining = 0.0
                break
            notional += price * qty
            remaining -= qty
            i -= 1
        notional_out[0] = notional
        remaining_out[0] = remaining
        return True

    def __len__(self):
        return self._bids.n + self._asks.n


def vwap(Book book, str side, double size):
    """Compiled ``xle.analytics.metrics.vwap`` (the same walk and operations, in order)."""
    if side == "buy":
        return _vwap(book, True, size)
    if side == "sell":
        return _vwap(book, False, size)
    raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")


cdef struct _QuoteWalk:
    double size
    double price  # with slippage: null when nothing filled (``priced`` false)
    double filled
    double slippage
    uint8_t buy
    uint8_t priced
    uint8_t insufficient


cdef void _walk_into(Book book, bint buy, double size, _QuoteWalk* out) noexcept:
    """Walk-the-book price for ``size``: ``xle.analytics.metrics.vwap``'s operations, in
    order (``_vwap`` makes the ``VwapResult``, ``QuoteRows`` keeps the struct)."""
    cdef double notional, remaining, filled, best, price, slippage
    cdef _Side s
    cdef bint has_best = book._walk(buy, size, &notional, &remaining)
    filled = size - remaining
    out.buy = buy
    out.size = size
    if not has_best or filled <= 0.0:
        out.price = 0.0
        out.filled = 0.0
        out.slippage = 0.0
        out.priced = 0
        out.insufficient = size > 0.0
        return
    s = book._asks if buy else book._bids
    best = s.sign * s.K[s.n - 1]
    price = notional / filled
    slippage = (price - best) / best if buy else (best - price) / best
    out.price = price
    out.filled = filled
    out.slippage = slippage * 1e4
    out.priced = 1
    out.insufficient = remaining > 0.0


cdef object _vwap(Book book, bint buy, double size, object size_float=None):
    """``size_float``, when given, is ``size`` as a Python float: the result holds it (and
    holds it again as ``filled`` when all of it filled) instead of new floats of the same
    value, four to eight fewer objects per quote."""
    cdef _QuoteWalk w
    _walk_into(book, buy, size, &w)
    side = "buy" if buy else "sell"
    size_o = size_float if size_float is not None else size
    if not w.priced:
        return VwapResult(side, size_o, None, 0.0, None, bool(w.insufficient))
    filled_o = size_o if w.filled == size else w.filled
    return VwapResult(side, size_o, w.price, filled_o, w.slippage, bool(w.insufficient))


cdef bint _quote_values(Book book, Py_ssize_t depth, double* v, uint32_t* valid) noexcept:
    """A quote's nine values into ``v`` (best bid, its size, best ask, its size, mid,
    spread, spread in bps, imbalance and ratio over ``depth`` levels) and bit k of
    ``valid`` set where ``v[k]`` is not null; ``Engine._quote_fields``' operations, in
    order. False, nothing written, when the mid is zero (Python's division would raise:
    the caller takes its own path)."""
    cdef _Side b = book._bids
    cdef _Side a = book._asks
    cdef double bid, ask, mid, spread, bid_total, ask_total, total
    cdef uint32_t bits = 0
    cdef Py_ssize_t k
    if b.n and a.n:
        bid = b.sign * b.K[b.n - 1]
        ask = a.sign * a.K[a.n - 1]
        mid = (bid + ask) / 2.0
        if mid == 0.0:
            return False
    for k in range(9):
        v[k] = 0.0
    if b.n:
        v[0] = b.sign * b.K[b.n - 1]
        v[1] = b.Q[b.n - 1]
        bits |= 3u
    if a.n:
        v[2] = a.sign * a.K[a.n - 1]
        v[3] = a.Q[a.n - 1]
        bits |= 12u
    if b.n and a.n:
        spread = ask - bid
        v[4] = mid
        v[5] = spread
        v[6] = spread / mid * 1e4
        bits |= 0x70u
    bid_total = b.depth_sum(depth)
    ask_total = a.depth_sum(depth)
    total = bid_total + ask_total
    if not total <= 0.0:
        if ask_total > 0.0:
            v[8] = bid_total / ask_total
            bits |= 0x100u
        v[7] = (bid_total - ask_total) / total
        bits |= 0x80u
    valid[0] = bits
    return True


def make_quote(
    Book book, tuple sizes, Py_ssize_t depth, recv_ns, seq, exchange, symbol, market, exch_ns
):
    """``Engine._quote``'s ``Quote`` for a compiled book, computed as ``Engine._quote_fields``
    computes it in Python (the same operations in order: best prices and sizes, mid,
    spread, imbalance over ``depth`` levels, then the walks, buy then sell for each size).
    None when the mid is zero (Python's division would raise there: the caller takes its
    own path)."""
    fields = _quote_fields(book, sizes, depth)
    if fields is None:
        return None
    return Quote(
        recv_ns,
        seq,
        exchange,
        symbol,
        market,
        *<tuple>fields,
        exch_ns,
        recv_ns - exch_ns if exch_ns is not None else None,
    )


cdef object _quote_fields(Book book, tuple sizes, Py_ssize_t depth):
    cdef double v[9]
    cdef uint32_t valid
    cdef double size
    cdef list walks = []
    if not _quote_values(book, depth, v, &valid):
        return None
    for item in sizes:
        size = item
        size_float = item if type(item) is float else None
        walks.append(_vwap(book, True, size, size_float))
        walks.append(_vwap(book, False, size, size_float))
    return (*[v[k] if valid & (1u << k) else None for k in range(9)], walks)


def book_edge_bps(Book buy_book, double fee_buy, Book sell_book, double fee_sell):
    """Compiled ``xle.analytics.metrics.book_edge_bps`` (the same operations in order)."""
    cdef _Side asks = buy_book._asks
    cdef _Side bids = sell_book._bids
    cdef double cost
    if asks.n == 0 or bids.n == 0:
        return None
    cost = -asks.K[asks.n - 1] * (1.0 + fee_buy)
    return (bids.K[bids.n - 1] * (1.0 - fee_sell) - cost) / cost * 1e4


def executable_arbitrage(Book buy_book, double fee_buy, Book sell_book, double fee_sell):
    """Compiled ``xle.analytics.metrics.executable_arbitrage`` (same walk, same sums)."""
    cdef _Side asks = buy_book._asks
    cdef _Side bids = sell_book._bids
    cdef Py_ssize_t ai = asks.n - 1
    cdef Py_ssize_t bi = bids.n - 1
    cdef double ask, bid, ask_left, bid_left, unit_profit, qty
    cdef double size = 0.0
    cdef double profit = 0.0
    if ai < 0 or bi < 0:
        return 0.0, 0.0
    ask = -asks.K[ai]
    bid = bids.K[bi]
    ask_left = asks.Q[ai]
    bid_left = bids.Q[bi]
    while True:
        unit_profit = bid * (1.0 - fee_sell) - ask * (1.0 + fee_buy)
        if unit_profit <= 0.0:
            break
        qty = ask_left if ask_left < bid_left else bid_left
        size += qty
        profit += qty * unit_profit
        ask_left -= qty
        bid_left -= qty
        if ask_left <= 0.0:
            ai -= 1
            if ai < 0:
                break
            ask = -asks.K[ai]
            ask_left = asks.Q[ai]
        if bid_left <= 0.0:
            bi -= 1
            if bi < 0:
                break
            bid = bids.K[bi]
            bid_left = bids.Q[bi]
    return size, profit


include "_fastwire.pxi"  # Levels and the frame parsers
include "_fastrows.pxi"  # arrow_columns: engine outputs into Arrow columns
include "_fastquotes.pxi"  # QuoteRows: a replay's quotes as C rows, into Arrow columns
include "_fastlane.pxi"  # Lane: Arrow record batches straight into the engine
