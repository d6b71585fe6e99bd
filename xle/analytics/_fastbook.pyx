# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twin of ``xle.analytics.book.PyBook``: the L2 book and the walks over it.

Why: on the replay hot path the pure-Python book (dict + bisect-sorted key list) costs
about 4 us per message and the VWAP / arbitrage walks as much again; in C the same work
takes a fraction of a microsecond (``benchmarks/README.md``).

Same contract, same numbers: every side is a sorted C array of (key, qty) doubles with
the best level at the *end* (bids keyed by price ascending, asks by negated price
ascending, exactly like the pure-Python lists), and every sum is accumulated in the same
order with the same IEEE double operations as the Python code, so the two give
bit-identical outputs (a test pins this). Built with ``-ffp-contract=off`` so no fused
multiply-add can change a rounding.
"""

from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_FromDouble
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memmove


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


cdef class _Side:
    """Keys ascending, best last; ``sign`` turns a price into its key (+1 bids, -1 asks)."""

    cdef double* keys
    cdef double* qtys
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef double sign

    def __cinit__(self, double sign):
        self.sign = sign
        self.n = 0
        self.cap = 64
        self.keys = <double*>malloc(self.cap * sizeof(double))
        self.qtys = <double*>malloc(self.cap * sizeof(double))
        if self.keys == NULL or self.qtys == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.keys)
        free(self.qtys)

    cdef int _reserve(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t cap = self.cap
        cdef double* keys
        cdef double* qtys
        if need <= cap:
            return 0
        while cap < need:
            cap *= 2
        keys = <double*>realloc(self.keys, cap * sizeof(double))
        if keys == NULL:
            raise MemoryError()
        self.keys = keys
        qtys = <double*>realloc(self.qtys, cap * sizeof(double))
        if qtys == NULL:
            raise MemoryError()
        self.qtys = qtys
        self.cap = cap
        return 0

    cdef inline Py_ssize_t _find(self, double key) noexcept:
        """Index of the first key >= ``key`` (bisect_left)."""
        cdef Py_ssize_t lo = 0
        cdef Py_ssize_t hi = self.n
        cdef Py_ssize_t mid
        cdef double* keys = self.keys
        # Updates cluster at the touch (the end): try the last slots first.
        if hi > 0 and keys[hi - 1] < key:
            return hi
        while lo < hi:
            mid = (lo + hi) >> 1
            if keys[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef int set(self, double price, double qty) except -1:
        cdef double key = self.sign * price
        cdef Py_ssize_t i = self._find(key)
        cdef Py_ssize_t tail
        if qty == 0.0:
            if i < self.n and self.keys[i] == key:
                tail = self.n - i - 1
                if tail:
                    memmove(self.keys + i, self.keys + i + 1, tail * sizeof(double))
                    memmove(self.qtys + i, self.qtys + i + 1, tail * sizeof(double))
                self.n -= 1
            return 0
        if i < self.n and self.keys[i] == key:
            self.qtys[i] = qty
            return 0
        self._reserve(self.n + 1)
        tail = self.n - i
        if tail:
            memmove(self.keys + i + 1, self.keys + i, tail * sizeof(double))
            memmove(self.qtys + i + 1, self.qtys + i, tail * sizeof(double))
        self.keys[i] = key
        self.qtys[i] = qty
        self.n += 1
        return 0

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
            self._reserve(k if k else 1)
            j = 0
            for i in range(k):
                if i + 1 < k and entries[i + 1].key == entries[i].key:
                    continue  # a later duplicate of this price follows: it wins
                self.keys[j] = entries[i].key
                self.qtys[j] = entries[i].qty
                j += 1
            self.n = j
        finally:
            free(entries)
        return 0

    cdef int apply(self, object levels) except -1:
        cdef double price, qty
        cdef object item
        if type(levels) is list:
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
        return PyFloat_FromDouble(self.sign * self.keys[self.n - 1])

    cdef list top(self, Py_ssize_t depth):
        cdef Py_ssize_t i, stop
        cdef list out = []
        stop = 0 if depth < 0 or depth >= self.n else self.n - depth
        i = self.n - 1
        while i >= stop:
            out.append((self.sign * self.keys[i], self.qtys[i]))
            i -= 1
        return out

    cdef double depth_sum(self, Py_ssize_t depth) noexcept:
        cdef double total = 0.0
        cdef Py_ssize_t i, stop
        stop = 0 if depth < 0 or depth >= self.n else self.n - depth
        i = self.n - 1
        while i >= stop:
            total += self.qtys[i]
            i -= 1
        return total


cdef inline tuple _level(object item):
    price, qty = item
    return float(price), float(qty)


cdef class Book:
    """One exchange's L2 book for one symbol (compiled). Pure: no clock, no I/O."""

    cdef _Side _bids
    cdef _Side _asks

    def __cinit__(self):
        self._bids = _Side(1.0)
        self._asks = _Side(-1.0)

    # ------------------------------------------------------------------ mutation

    def clear(self):
        self._bids.n = 0
        self._asks.n = 0

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
        cdef double bk = b.keys[bn - 1] if bn else 0.0
        cdef double ak = a.keys[an - 1] if an else 0.0
        b.apply(bids)
        a.apply(asks)
        if (bn == 0) != (b.n == 0) or (an == 0) != (a.n == 0):
            return True
        return (b.n != 0 and b.keys[b.n - 1] != bk) or (a.n != 0 and a.keys[a.n - 1] != ak)

    # ------------------------------------------------------------------ reading

    def best_bid(self):
        return self._bids.best()

    def best_ask(self):
        return self._asks.best()

    def best_bid_size(self):
        cdef _Side s = self._bids
        return s.qtys[s.n - 1] if s.n else None

    def best_ask_size(self):
        cdef _Side s = self._asks
        return s.qtys[s.n - 1] if s.n else None

    def top(self):
        """(best bid, best ask), None for an empty side."""
        return self._bids.best(), self._asks.best()

    def is_crossed(self):
        cdef _Side b = self._bids
        cdef _Side a = self._asks
        return b.n != 0 and a.n != 0 and b.keys[b.n - 1] >= -a.keys[a.n - 1]

    def bid_prices(self):
        """Bid prices from the best down."""
        return [p for p, _ in self._bids.top(-1)]

    def ask_prices(self):
        """Ask prices from the best up."""
        return [p for p, _ in self._asks.top(-1)]

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
        cdef _Side s = self._asks if buy else self._bids
        cdef double remaining = size
        cdef double notional = 0.0
        cdef double price, qty
        cdef Py_ssize_t i = s.n - 1
        if i < 0:
            return notional, remaining, None
        while i >= 0:
            price = s.sign * s.keys[i]
            qty = s.qtys[i]
            if qty >= remaining:
                notional += price * remaining
                remaining = 0.0
                break
            notional += price * qty
            remaining -= qty
            i -= 1
        return notional, remaining, s.sign * s.keys[s.n - 1]

    def __len__(self):
        return self._bids.n + self._asks.n


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
    ask = -asks.keys[ai]
    bid = bids.keys[bi]
    ask_left = asks.qtys[ai]
    bid_left = bids.qtys[bi]
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
            ask = -asks.keys[ai]
            ask_left = asks.qtys[ai]
        if bid_left <= 0.0:
            bi -= 1
            if bi < 0:
                break
            bid = bids.keys[bi]
            bid_left = bids.qtys[bi]
    return size, profit
