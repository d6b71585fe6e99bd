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


cdef class Levels  # defined with the wire parsers below


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
        cdef Py_ssize_t stop = hi - 48 if hi > 48 else 0
        cdef double* keys = self.K
        # Updates cluster at the touch (the end): walk back from there first. A short
        # predictable scan beats a binary search whose every branch is a coin toss.
        while hi > stop and keys[hi - 1] >= key:
            hi -= 1
        if hi > stop or hi == 0:
            return hi
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
            price = s.sign * s.K[i]
            qty = s.Q[i]
            if qty >= remaining:
                notional += price * remaining
                remaining = 0.0
                break
            notional += price * qty
            remaining -= qty
            i -= 1
        return notional, remaining, s.sign * s.K[s.n - 1]

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


# ============================================================================ wire parsing
#
# Fast paths for the two hot frames, Binance ``depthUpdate`` and Coinbase ``l2_data``.
# They accept only the exact shape the venues send (known keys, compact or spaced JSON,
# plain decimal strings) and return None for anything else, in which case the decoder
# falls back to its msgspec path, which then decides (and words) any error. So they can
# never accept what msgspec would reject, and their numbers are the same doubles:
# ``m / 10**f`` of two exactly representable doubles is correctly rounded, like
# ``float(s)``; anything outside that exact range goes through ``PyOS_string_to_double``.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memchr, memcmp, memcpy

cdef extern from "Python.h":
    double PyOS_string_to_double(const char* s, char** endptr, object overflow_exception) except? -1.0


cdef double[23] _POW10 = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]


cdef class Levels:
    """(price, qty) pairs parsed straight into a C array: one object per side and message
    instead of a tuple and two floats per level. Iterates as ``(price, qty)`` tuples, so
    any code written for a list of levels still works with it."""

    cdef double* data  # price, qty, price, qty, ...
    cdef Py_ssize_t n
    cdef Py_ssize_t cap

    def __cinit__(self):
        self.n = 0
        self.cap = 0
        self.data = NULL

    def __dealloc__(self):
        free(self.data)

    cdef int push(self, double price, double qty) except -1:
        cdef double* grown
        cdef Py_ssize_t cap
        if self.n == self.cap:
            cap = self.cap * 2 if self.cap else 32
            grown = <double*>realloc(self.data, 2 * cap * sizeof(double))
            if grown == NULL:
                raise MemoryError()
            self.data = grown
            self.cap = cap
        self.data[2 * self.n] = price
        self.data[2 * self.n + 1] = qty
        self.n += 1
        return 0

    def __len__(self):
        return self.n

    def __getitem__(self, Py_ssize_t i):
        if i < 0:
            i += self.n
        if i < 0 or i >= self.n:
            raise IndexError("level index out of range")
        return (self.data[2 * i], self.data[2 * i + 1])

    def __iter__(self):
        cdef Py_ssize_t i
        for i in range(self.n):
            yield (self.data[2 * i], self.data[2 * i + 1])

    def __eq__(self, other):
        try:
            return list(self) == list(other)
        except TypeError:
            return NotImplemented

    def __repr__(self):
        return f"Levels({list(self)!r})"


cdef inline Py_ssize_t _ws(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and (p[i] == 32 or p[i] == 10 or p[i] == 13 or p[i] == 9):
        i += 1
    return i


cdef inline Py_ssize_t _expect(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, unsigned char c) noexcept:
    i = _ws(p, i, n)
    if i < n and p[i] == c:
        return i + 1
    return -1


cdef Py_ssize_t _string(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Py_ssize_t* start) noexcept:
    """A string without escapes at ``p[i]``: its content is ``p[start:returned - 1]``."""
    i = _ws(p, i, n)
    if i >= n or p[i] != 34:
        return -1
    i += 1
    start[0] = i
    while i < n:
        if p[i] == 34:
            return i + 1
        if p[i] == 92 or p[i] < 32:
            return -1
        i += 1
    return -1


cdef Py_ssize_t _int(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, long long* out) noexcept:
    """A non-negative JSON integer of at most 18 digits."""
    cdef long long value = 0
    cdef Py_ssize_t start
    i = _ws(p, i, n)
    start = i
    while i < n and 48 <= p[i] <= 57:
        value = value * 10 + (p[i] - 48)
        i += 1
    if i == start or i - start > 18 or (p[start] == 48 and i - start > 1):
        return -1
    out[0] = value
    return i


cdef Py_ssize_t _decimal(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, double* out) except -2:
    """A string holding a plain non-negative decimal (``"43000.10000000"``) -> double."""
    cdef Py_ssize_t start, int_end, frac_start
    cdef unsigned long long m = 0
    cdef Py_ssize_t frac = 0
    cdef char buf[64]
    cdef double value
    i = _ws(p, i, n)
    if i >= n or p[i] != 34:
        return -1
    i += 1
    start = i
    while i < n and 48 <= p[i] <= 57:
        m = m * 10 + (p[i] - 48)  # may wrap past 19 digits: then the slow path is taken
        i += 1
    int_end = i
    if int_end == start or (p[start] == 48 and int_end - start > 1):
        return -1  # no digits, or a leading zero followed by a digit: msgspec decides
    if i < n and p[i] == 46:
        i += 1
        frac_start = i
        while i < n and 48 <= p[i] <= 57:
            m = m * 10 + (p[i] - 48)
            i += 1
        frac = i - frac_start
        if frac == 0:
            return -1
    if i >= n or p[i] != 34:
        return -1
    if (int_end - start) + frac <= 19 and m <= 9007199254740992ULL and frac <= 22:
        value = <double>m
        if frac:
            value = value / _POW10[frac]
    else:
        if i - start >= 63:
            return -1
        memcpy(buf, p + start, i - start)
        buf[i - start] = 0
        value = PyOS_string_to_double(buf, NULL, None)
        if not value < 1e300:
            return -1
    out[0] = value
    return i + 1


cdef inline Py_ssize_t _lit(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, const char* text, Py_ssize_t size) noexcept:
    """``i`` past ``text`` if the bytes at ``i`` are exactly ``text``, else -1."""
    if i + size <= n and memcmp(p + i, text, size) == 0:
        return i + size
    return -1


cdef inline Py_ssize_t _skip_string_body(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    """From inside a string to just past its closing quote; -1 on an escape or control
    character (the generic path, and then msgspec, decide those)."""
    cdef const unsigned char* end = <const unsigned char*>memchr(p + i, 34, n - i)
    cdef Py_ssize_t stop, k
    cdef int bad = 0
    if end == NULL:
        return -1
    stop = end - p
    for k in range(i, stop):
        bad |= (p[k] < 32) | (p[k] == 92)
    if bad:
        return -1
    return stop + 1


cdef inline bint _key(const unsigned char* p, Py_ssize_t start, Py_ssize_t end, bytes name) noexcept:
    cdef Py_ssize_t size = PyBytes_GET_SIZE(name)
    return end - start == size and memcmp(p + start, PyBytes_AS_STRING(name), size) == 0


cdef Py_ssize_t _pairs(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Levels out) except -2:
    """``[["p","q"],...]`` into ``out``."""
    cdef double price, qty
    i = _expect(p, i, n, 91)
    if i < 0:
        return -1
    i = _ws(p, i, n)
    if i < n and p[i] == 93:
        return i + 1
    while True:
        i = _expect(p, i, n, 91)
        if i < 0:
            return -1
        i = _decimal(p, i, n, &price)
        if i < 0:
            return -1
        i = _expect(p, i, n, 44)
        if i < 0:
            return -1
        i = _decimal(p, i, n, &qty)
        if i < 0:
            return -1
        i = _expect(p, i, n, 93)
        if i < 0:
            return -1
        out.push(price, qty)
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 93:
            return i + 1
        return -1


cdef Py_ssize_t _depth_object(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, list out) except -2:
    """A ``depthUpdate`` object -> ``out = [s, U, u, bids, asks]``."""
    cdef Py_ssize_t start, end
    cdef long long value
    cdef int seen = 0
    cdef Levels bids = Levels()
    cdef Levels asks = Levels()
    cdef object symbol = None
    cdef long long first = 0, last = 0
    i = _expect(p, i, n, 123)
    if i < 0:
        return -1
    while True:
        end = _string(p, i, n, &start)
        if end < 0:
            return -1
        i = _expect(p, end, n, 58)
        if i < 0:
            return -1
        end -= 1
        if _key(p, start, end, b"e"):
            i = _string(p, i, n, &start)
        elif _key(p, start, end, b"E"):
            i = _int(p, i, n, &value)
        elif _key(p, start, end, b"s") and not seen & 1:
            seen |= 1
            end = _string(p, i, n, &start)
            if end < 0:
                return -1
            symbol = (<const char*>p)[start:end - 1].decode("utf-8")
            i = end
        elif _key(p, start, end, b"U") and not seen & 2:
            seen |= 2
            i = _int(p, i, n, &first)
        elif _key(p, start, end, b"u") and not seen & 4:
            seen |= 4
            i = _int(p, i, n, &last)
        elif _key(p, start, end, b"b") and not seen & 8:
            seen |= 8
            i = _pairs(p, i, n, bids)
        elif _key(p, start, end, b"a") and not seen & 16:
            seen |= 16
            i = _pairs(p, i, n, asks)
        else:
            return -1
        if i < 0:
            return -1
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 125 and seen == 31:
            out.extend((symbol, first, last, bids, asks))
            return i + 1
        return -1


def parse_binance_depth(bytes payload):
    """``(s, U, u, bids, asks)`` of a bare or combined-stream ``depthUpdate``, or None."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(payload)
    cdef Py_ssize_t i, start, end
    cdef list out = []
    cdef bint got_data = False
    i = 0
    if n > 9 and memcmp(p, b'{"stream"', 9) == 0:  # the wrapper, as ``_is_wrapped`` sees it
        i = 1
        while True:
            end = _string(p, i, n, &start)
            if end < 0:
                return None
            i = _expect(p, end, n, 58)
            if i < 0:
                return None
            end -= 1
            if _key(p, start, end, b"stream"):
                i = _string(p, i, n, &start)
            elif _key(p, start, end, b"data") and not got_data:
                got_data = True
                i = _depth_object(p, i, n, out)
            else:
                return None
            if i < 0:
                return None
            i = _ws(p, i, n)
            if i < n and p[i] == 44:
                i += 1
                continue
            if i < n and p[i] == 125 and got_data:
                i += 1
                break
            return None
    else:
        i = _depth_object(p, i, n, out)
        if i < 0:
            return None
    if _ws(p, i, n) != n:
        return None
    return tuple(out)


cdef Py_ssize_t _l2_update_compact(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Levels bids, Levels asks) except -2:
    """The layout Coinbase always sends, matched literally; -1 sends it to the generic path:
    ``{"side":"bid","event_time":"…","price_level":"…","new_quantity":"…"}``."""
    cdef Levels levels
    cdef double price, qty
    cdef Py_ssize_t j = _lit(p, i, n, b'{"side":"', 9)
    if j < 0:
        return -1
    if _lit(p, j, n, b'bid"', 4) > 0:
        j += 4
        levels = bids
    elif _lit(p, j, n, b'offer"', 6) > 0:
        j += 6
        levels = asks
    else:
        return -1
    j = _lit(p, j, n, b',"event_time":"', 15)
    if j < 0:
        return -1
    j = _skip_string_body(p, j, n)
    if j < 0:
        return -1
    j = _lit(p, j, n, b',"price_level":', 15)
    if j < 0:
        return -1
    j = _decimal(p, j, n, &price)
    if j < 0:
        return -1
    j = _lit(p, j, n, b',"new_quantity":', 16)
    if j < 0:
        return -1
    j = _decimal(p, j, n, &qty)
    if j < 0 or j >= n or p[j] != 125:
        return -1
    levels.push(price, qty)
    return j + 1


cdef Py_ssize_t _l2_update(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Levels bids, Levels asks) except -2:
    cdef Py_ssize_t start, end
    cdef int seen = 0
    cdef int side = 0  # 1 bid, 2 offer
    cdef double price = 0.0, qty = 0.0
    i = _ws(p, i, n)
    end = _l2_update_compact(p, i, n, bids, asks)
    if end > 0:
        return end
    i = _expect(p, i, n, 123)
    if i < 0:
        return -1
    while True:
        end = _string(p, i, n, &start)
        if end < 0:
            return -1
        i = _expect(p, end, n, 58)
        if i < 0:
            return -1
        end -= 1
        if _key(p, start, end, b"side") and not seen & 1:
            seen |= 1
            end = _string(p, i, n, &start)
            if end < 0:
                return -1
            if _key(p, start, end - 1, b"bid"):
                side = 1
            elif _key(p, start, end - 1, b"offer"):
                side = 2
            else:
                return -1  # msgspec's path reports the unknown side
            i = end
        elif _key(p, start, end, b"event_time"):
            i = _string(p, i, n, &start)
        elif _key(p, start, end, b"price_level") and not seen & 2:
            seen |= 2
            i = _decimal(p, i, n, &price)
        elif _key(p, start, end, b"new_quantity") and not seen & 4:
            seen |= 4
            i = _decimal(p, i, n, &qty)
        else:
            return -1
        if i < 0:
            return -1
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 125 and seen == 7:
            (bids if side == 1 else asks).push(price, qty)
            return i + 1
        return -1


cdef Py_ssize_t _l2_event(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, list out) except -2:
    """One ``events`` element -> ``(type, product_id, bids, asks)`` appended to ``out``."""
    cdef Py_ssize_t start, end
    cdef int seen = 0
    cdef object kind = None, product = None
    cdef Levels bids = Levels()
    cdef Levels asks = Levels()
    i = _expect(p, i, n, 123)
    if i < 0:
        return -1
    while True:
        end = _string(p, i, n, &start)
        if end < 0:
            return -1
        i = _expect(p, end, n, 58)
        if i < 0:
            return -1
        end -= 1
        if _key(p, start, end, b"type") and not seen & 1:
            seen |= 1
            end = _string(p, i, n, &start)
            if end < 0:
                return -1
            kind = (<const char*>p)[start:end - 1].decode("utf-8")
            i = end
        elif _key(p, start, end, b"product_id") and not seen & 2:
            seen |= 2
            end = _string(p, i, n, &start)
            if end < 0:
                return -1
            product = (<const char*>p)[start:end - 1].decode("utf-8")
            i = end
        elif _key(p, start, end, b"updates") and not seen & 4:
            seen |= 4
            i = _expect(p, i, n, 91)
            if i < 0:
                return -1
            i = _ws(p, i, n)
            if i < n and p[i] == 93:
                i += 1
            else:
                while True:
                    i = _l2_update(p, i, n, bids, asks)
                    if i < 0:
                        return -1
                    i = _ws(p, i, n)
                    if i < n and p[i] == 44:
                        i += 1
                        continue
                    if i < n and p[i] == 93:
                        i += 1
                        break
                    return -1
        else:
            return -1
        if i < 0:
            return -1
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 125 and seen == 7:
            out.append((kind, product, bids, asks))
            return i + 1
        return -1


def parse_coinbase_l2(bytes payload):
    """``(sequence_num, [(type, product_id, bids, asks), ...])`` of an ``l2_data`` frame
    whose every update is a bid or an offer, else None."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(payload)
    cdef Py_ssize_t i, start, end
    cdef int seen = 0
    cdef long long seq = 0
    cdef list events = []
    i = _expect(p, 0, n, 123)
    if i < 0:
        return None
    while True:
        end = _string(p, i, n, &start)
        if end < 0:
            return None
        i = _expect(p, end, n, 58)
        if i < 0:
            return None
        end -= 1
        if _key(p, start, end, b"channel") and not seen & 1:
            seen |= 1
            end = _string(p, i, n, &start)
            if end < 0 or not _key(p, start, end - 1, b"l2_data"):
                return None
            i = end
        elif _key(p, start, end, b"client_id") or _key(p, start, end, b"timestamp"):
            i = _string(p, i, n, &start)
        elif _key(p, start, end, b"sequence_num") and not seen & 2:
            seen |= 2
            i = _int(p, i, n, &seq)
        elif _key(p, start, end, b"events") and not seen & 4:
            seen |= 4
            i = _expect(p, i, n, 91)
            if i < 0:
                return None
            i = _ws(p, i, n)
            if i < n and p[i] == 93:
                i += 1
            else:
                while True:
                    i = _l2_event(p, i, n, events)
                    if i < 0:
                        return None
                    i = _ws(p, i, n)
                    if i < n and p[i] == 44:
                        i += 1
                        continue
                    if i < n and p[i] == 93:
                        i += 1
                        break
                    return None
        else:
            return None
        if i < 0:
            return None
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 125 and seen == 7:
            i += 1
            break
        return None
    if _ws(p, i, n) != n:
        return None
    return seq, events
