# Wire parsing, part of the ``_fastbook`` extension (included by ``_fastbook.pyx``: one
# module, two concerns, two files).
#
# Fast paths for the two hot frames, Binance ``depthUpdate`` and Coinbase ``l2_data``.
# They accept only the exact shape the venues send (known keys, compact or spaced JSON,
# plain decimal strings of at most 15 significant digits) and return None for anything
# else, in which case the decoder
# falls back to its msgspec path, which then decides (and words) any error. So they can
# never accept what msgspec would reject, and their numbers are the same doubles:
# ``m / 10**f`` of two exactly representable doubles is correctly rounded, like
# ``float(s)``; anything outside that exact range goes through ``PyOS_string_to_double``.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp

cdef extern from "Python.h":
    double PyOS_string_to_double(const char* s, char** endptr, object overflow_exception) except? -1.0

# Eight ASCII digits at once (the SWAR technique of fast_float and simdjson): Binance
# prints every number with 8 decimals, and a digit-at-a-time loop is a serial
# multiply-add chain. It computes the same integer as that loop, so the same doubles.
# Little-endian GCC/Clang only (``__builtin_ctzll``); elsewhere the byte loops run.
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) \
        && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #define XLE_SWAR 1
    #define XLE_CTZ64(v) __builtin_ctzll(v)
    #else
    #define XLE_SWAR 0
    #define XLE_CTZ64(v) 0 /* never reached: every caller tests XLE_SWAR first */
    #endif
    #if defined(__GNUC__)
    #define XLE_ALWAYS_INLINE static inline __attribute__((always_inline))
    #elif defined(_MSC_VER)
    #define XLE_ALWAYS_INLINE static __forceinline
    #else
    #define XLE_ALWAYS_INLINE static inline
    #endif
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    static inline uint64_t xle_load8(const unsigned char* p) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    /* Just past the closing quote of a JSON string whose content starts at ``i``, or -1
       when an escape or a control character comes first, or no quote does. Eight bytes
       a step: a byte is flagged when it is a quote, a backslash or below 0x20 (the
       "has zero byte" / "has byte less than" tests of Bit Twiddling Hacks); a test's
       borrow only flags bytes after a matching one, so the lowest flag is exact. */
    XLE_ALWAYS_INLINE Py_ssize_t xle_string_end(
            const unsigned char* p, Py_ssize_t i, Py_ssize_t n) {
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        uint64_t v, quote, backslash, flags;
        Py_ssize_t at;
    #if defined(__SSE2__)
        /* Sixteen bytes a step where SSE2 is (every x86-64): Coinbase's timestamps,
           thirty bytes in every level update, take two steps instead of four. */
        {
            const __m128i quotes = _mm_set1_epi8('"'), backslashes = _mm_set1_epi8(0x5C);
            const __m128i below = _mm_set1_epi8(0x1F);
            __m128i w;
            int mask;
            while (i + 16 <= n) {
                w = _mm_loadu_si128((const __m128i*)(p + i));
                mask = _mm_movemask_epi8(_mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(w, quotes), _mm_cmpeq_epi8(w, backslashes)),
                    _mm_cmpeq_epi8(_mm_max_epu8(w, below), below)));  /* w <= 0x1F */
                if (mask) {
                    at = i + __builtin_ctz(mask);
                    return p[at] == '"' ? at + 1 : -1;
                }
                i += 16;
            }
        }
    #endif
        while (XLE_SWAR && i + 8 <= n) {
            v = xle_load8(p + i);
            quote = v ^ (ones * 0x22);
            backslash = v ^ (ones * 0x5C);
            flags = (((v - ones * 0x20) & ~v) | ((quote - ones) & ~quote)
                     | ((backslash - ones) & ~backslash)) & highs;
            if (flags) {
                at = i + (XLE_CTZ64(flags) >> 3);
                return p[at] == '"' ? at + 1 : -1;
            }
            i += 8;
        }
        for (; i < n; i++) {
            if (p[i] == '"')
                return i + 1;
            if (p[i] < 0x20 || p[i] == 0x5C)
                return -1;
        }
        return -1;
    }
    static inline uint64_t xle_parse_eight(uint64_t v) {
        v -= 0x3030303030303030ULL;
        v = (v * 10) + (v >> 8);
        return (((v & 0x000000FF000000FFULL) * 0x000F424000000064ULL)
                + (((v >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >> 32;
    }
    /* How many of the 8 bytes, from the first, are digits (0 to 8). A carry or borrow
       of the test only moves towards later bytes, so the first flagged byte is the
       first non-digit. Only called where XLE_SWAR holds. */
    static inline int xle_digit_run(uint64_t v) {
        uint64_t flagged = ((v + 0x4646464646464646ULL) | (v - 0x3030303030303030ULL))
                           & 0x8080808080808080ULL;
        return flagged ? (XLE_CTZ64(flagged) >> 3) : 8;
    }
    /* The value of the first ``run`` (1 to 7) digit bytes of ``v``: they are moved to
       the end of the word and the bytes before them set to '0'. */
    static inline uint64_t xle_parse_run(uint64_t v, int run) {
        return xle_parse_eight((v << (8 * (8 - run)))
                               | (0x3030303030303030ULL >> (8 * run)));
    }
    static const uint64_t xle_pow10_int[9] = {
        1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    /* Every power of ten a double holds exactly. */
    static const double xle_pow10[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
        1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    /* The shape the venues print, "I" or "I.F" with one to seven integer digits (no
       leading zero) and one to eight decimals, in two words; -1 for anything else, and
       for a string within 19 bytes of the end. At most 15 digits: ``m`` is exact and
       ``m / 10**f`` the correctly rounded double, as ``float(s)`` gives. */
    XLE_ALWAYS_INLINE Py_ssize_t xle_decimal_common(
            const unsigned char* p, Py_ssize_t i, Py_ssize_t n, double* out) {
        uint64_t word, m;
        Py_ssize_t j;
        int run, frac;
        if (!XLE_SWAR || i + 19 > n || p[i] != '"')
            return -1;
        word = xle_load8(p + i + 1);
        run = xle_digit_run(word);
        if (run == 0 || run == 8 || (run > 1 && p[i + 1] == '0'))
            return -1;
        m = xle_parse_run(word, run);
        j = i + 1 + run;
        if (p[j] == '"') {
            *out = (double)m;
            return j + 1;
        }
        if (p[j] != '.')
            return -1;
        word = xle_load8(p + j + 1);
        frac = xle_digit_run(word);
        if (frac == 0 || p[j + 1 + frac] != '"')
            return -1;
        m = m * xle_pow10_int[frac]
            + (frac == 8 ? xle_parse_eight(word) : xle_parse_run(word, frac));
        *out = (double)m / xle_pow10[frac];
        return j + 2 + frac;
    }
    /* ``xle_decimal_common`` inline at every call, else the general parser out of line
       (through a pointer, so that the compiler cannot inline it there too). */
    static Py_ssize_t (*xle_decimal_general)(
        const unsigned char*, Py_ssize_t, Py_ssize_t, double*);
    XLE_ALWAYS_INLINE Py_ssize_t xle_decimal(
            const unsigned char* p, Py_ssize_t i, Py_ssize_t n, double* out) {
        Py_ssize_t end = xle_decimal_common(p, i, n, out);
        return end >= 0 ? end : xle_decimal_general(p, i, n, out);
    }
    """
    unsigned long long xle_load8(const unsigned char* p) noexcept nogil
    bint XLE_SWAR
    unsigned long long xle_parse_eight(unsigned long long v) noexcept nogil
    Py_ssize_t xle_string_end(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept nogil
    int xle_digit_run(unsigned long long v) noexcept nogil
    const unsigned long long xle_pow10_int[9]
    const double xle_pow10[23]
    unsigned long long xle_parse_run(unsigned long long v, int run) noexcept nogil
    Py_ssize_t (*xle_decimal_general)(const unsigned char*, Py_ssize_t, Py_ssize_t, double*) except -2
    # A string holding a plain non-negative decimal (``"43000.10000000"``) -> double: the
    # venues' own shape in two words, inline (``xle_decimal_common``), else ``_decimal_any``.
    Py_ssize_t _decimal "xle_decimal"(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, double* out) except -2


cdef inline Py_ssize_t _digits(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, unsigned long long* m) noexcept:
    """Accumulate the digits at ``p[i]`` into ``m`` (wrapping past 19 digits: callers
    count digits and take their slow path then); returns the index after them."""
    cdef unsigned long long value = m[0]
    cdef unsigned long long word
    cdef unsigned char d
    cdef int run
    # Eight bytes at a time while eight remain: a run of digits shorter than eight (the
    # integer part of a price, a quantity's decimals) costs one word, not one step per
    # digit.
    while XLE_SWAR and i + 8 <= n:
        word = xle_load8(p + i)
        run = xle_digit_run(word)
        if run == 8:
            value = value * 100000000ULL + xle_parse_eight(word)
            i += 8
            continue
        if run:
            value = value * xle_pow10_int[run] + xle_parse_run(word, run)
            i += run
        m[0] = value
        return i
    while i < n:
        d = p[i] - 48
        if d > 9:
            break
        value = value * 10 + d
        i += 1
    m[0] = value
    return i


#: The largest event time (ms) whose ns fits int64, ``binance.EventMs``'s bound.
cdef long long _MAX_EVENT_MS = 9223372036854


@cython.final
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
    # ``p[i] <= 32`` first: compact JSON has no whitespace, so one test usually decides.
    while i < n and p[i] <= 32 and (p[i] == 32 or p[i] == 10 or p[i] == 13 or p[i] == 9):
        i += 1
    return i


cdef inline Py_ssize_t _expect(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, unsigned char c) noexcept:
    i = _ws(p, i, n)
    if i < n and p[i] == c:
        return i + 1
    return -1


cdef inline Py_ssize_t _string(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Py_ssize_t* start) noexcept:
    """A string without escapes at ``p[i]``: its content is ``p[start:returned - 1]``."""
    i = _ws(p, i, n)
    if i >= n or p[i] != 34:
        return -1
    start[0] = i + 1
    return xle_string_end(p, i + 1, n)


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


cdef Py_ssize_t _significant(const unsigned char* p, Py_ssize_t start, Py_ssize_t end) noexcept:
    """Significant digits of the digits-and-dots ``p[start:end]``: from the first nonzero
    digit to the last. Up to 15 (DBL_DIG) a decimal is held exactly by the double it
    parses to, so two such strings never merge into one price."""
    cdef Py_ssize_t first = -1, last = -1, k, count = 0
    for k in range(start, end):
        if p[k] != 46 and p[k] != 48:
            if first < 0:
                first = k
            last = k
    if first < 0:
        return 0
    for k in range(first, last + 1):
        if p[k] != 46:
            count += 1
    return count


cdef inline bint _digit_or_dot(unsigned char c) noexcept:
    return (48 <= c <= 57) or c == 46


def long_decimals(bytes payload):
    """True if a quoted string in ``payload`` starts with a number of more than 15
    significant digits: the cheap test before checking each such number exactly.

    Such a number is a run of at least 16 digits and dots, so the scan looks at every
    16th byte only (the run containing it is measured when it is a digit or a dot):
    ``p[i - 1]`` is never part of a run, so no run starts before ``i``."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(payload)
    cdef Py_ssize_t i = 0, start, end
    while i + 16 <= n:
        if not _digit_or_dot(p[i + 15]):
            i += 16
            continue
        start = i + 15
        while start > i and _digit_or_dot(p[start - 1]):
            start -= 1
        end = i + 16
        while end < n and _digit_or_dot(p[end]):
            end += 1
        if end - start >= 16 and start > 0 and p[start - 1] == 34:
            if _significant(p, start, end) > 15:
                return True
        i = end + 1
    return False


cdef Py_ssize_t _decimal_any(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, double* out) except -2:
    """``_decimal`` for any length and for whitespace before the string."""
    cdef Py_ssize_t start, int_end, frac_start
    cdef unsigned long long m = 0
    cdef Py_ssize_t frac = 0
    cdef char buf[64]
    cdef double value
    if i >= n or p[i] != 34:
        i = _ws(p, i, n)
        if i >= n or p[i] != 34:
            return -1
    i += 1
    start = i
    i = _digits(p, i, n, &m)
    int_end = i
    if int_end == start or (p[start] == 48 and int_end - start > 1):
        return -1  # no digits, or a leading zero followed by a digit: msgspec decides
    if i < n and p[i] == 46:
        i += 1
        frac_start = i
        i = _digits(p, i, n, &m)
        frac = i - frac_start
        if frac == 0:
            return -1
    if i >= n or p[i] != 34:
        return -1
    if (int_end - start) + frac > 15 and _significant(p, start, i) > 15:
        return -1  # maybe more than a double holds: the decoder checks it exactly
    if (int_end - start) + frac <= 19 and m <= 9007199254740992ULL and frac <= 22:
        value = <double>m
        if frac:
            value = value / xle_pow10[frac]
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


xle_decimal_general = _decimal_any


cdef inline Py_ssize_t _lit(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, const char* text, Py_ssize_t size) noexcept:
    """``i`` past ``text`` if the bytes at ``i`` are exactly ``text``, else -1."""
    if i + size <= n and memcmp(p + i, text, size) == 0:
        return i + size
    return -1


cdef inline Py_ssize_t _skip_string_body(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    """From inside a string to just past its closing quote; -1 on an escape or control
    character (the generic path, and then msgspec, decide those)."""
    return xle_string_end(p, i, n)


# The few short strings every frame repeats (symbols, product ids, event types), kept
# as the ``str`` objects first decoded: a hit costs a memcmp instead of a new string
# whose hash every dict lookup downstream would compute again.
cdef enum:
    _TEXT_SLOTS = 64
    _TEXT_MAX = 24
cdef unsigned char _text_bytes[_TEXT_SLOTS][_TEXT_MAX]
cdef Py_ssize_t _text_size[_TEXT_SLOTS]
cdef Py_ssize_t _text_count = 0
cdef list _text_objects = []


cdef object _text(const unsigned char* p, Py_ssize_t start, Py_ssize_t end):
    """``p[start:end]`` decoded as UTF-8, the same object each time for short strings."""
    global _text_count
    cdef Py_ssize_t size = end - start
    cdef Py_ssize_t k
    for k in range(_text_count):
        if _text_size[k] == size and memcmp(_text_bytes[k], p + start, size) == 0:
            return _text_objects[k]
    text = (<const char*>p)[start:end].decode("utf-8")
    if size <= _TEXT_MAX and _text_count < _TEXT_SLOTS:
        memcpy(_text_bytes[_text_count], p + start, size)
        _text_size[_text_count] = size
        _text_objects.append(text)
        _text_count += 1
    return text


cdef inline bint _key(const unsigned char* p, Py_ssize_t start, Py_ssize_t end, bytes name) noexcept:
    """Is ``p[start:end]`` ``name``? Byte by byte: the keys are a few bytes long, shorter
    than a call of ``memcmp`` (which took 1-2 % of a replay for one-byte keys)."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(name)
    cdef const unsigned char* text = <const unsigned char*>PyBytes_AS_STRING(name)
    cdef Py_ssize_t k
    if end - start != size:
        return False
    for k in range(size):
        if p[start + k] != text[k]:
            return False
    return True


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


cdef struct _DepthOut:
    Py_ssize_t sym_start  # the symbol is p[sym_start:sym_end], undecoded
    Py_ssize_t sym_end
    long long first
    long long last
    long long event_ms
    bint has_event


cdef Py_ssize_t _depth_literal(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, _DepthOut* o, Levels bids, Levels asks) except -2:
    """The layout Binance always sends, its keys matched as literals; -1 (the levels as
    they were) sends the object to the key-by-key parser, which accepts everything this
    does: ``{"e":"depthUpdate","E":…,"s":"…","U":…,"u":…,"b":[…],"a":[…]}``."""
    cdef Py_ssize_t j, start, end
    cdef Py_ssize_t had_bids = bids.n, had_asks = asks.n
    cdef long long event = 0, first = 0, last = 0
    j = _lit(p, i, n, b'{"e":"depthUpdate","E":', 23)
    j = _int(p, j, n, &event) if j >= 0 else -1
    if j < 0 or event > _MAX_EVENT_MS:
        return -1
    j = _lit(p, j, n, b',"s":"', 6)
    if j < 0:
        return -1
    start = j
    end = j = xle_string_end(p, j, n)
    j = _then_int(p, j, n, b',"U":', &first) if j >= 0 else -1
    j = _then_int(p, j, n, b',"u":', &last)
    j = _lit(p, j, n, b',"b":', 5) if j >= 0 else -1
    j = _pairs(p, j, n, bids) if j >= 0 else -1
    j = _lit(p, j, n, b',"a":', 5) if j >= 0 else -1
    j = _pairs(p, j, n, asks) if j >= 0 else -1
    if j < 0 or j >= n or p[j] != 125:
        bids.n = had_bids
        asks.n = had_asks
        return -1
    o.sym_start = start
    o.sym_end = end - 1
    o.first = first
    o.last = last
    o.event_ms = event
    o.has_event = True
    return j + 1


cdef Py_ssize_t _depth_fields(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, _DepthOut* o, Levels bids, Levels asks) except -2:
    """A ``depthUpdate`` object into ``o`` (the symbol as a span of ``p``) and the levels
    into ``bids``/``asks``."""
    cdef Py_ssize_t start, end
    cdef long long value = 0
    cdef int seen = 0
    cdef long long first = 0, last = 0
    i = _ws(p, i, n)
    end = _depth_literal(p, i, n, o, bids, asks)
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
        if _key(p, start, end, b"e"):
            i = _string(p, i, n, &start)
        elif _key(p, start, end, b"E") and not seen & 32:
            seen |= 32
            i = _int(p, i, n, &value)
            if value > _MAX_EVENT_MS:
                return -1  # its ns would not fit int64: msgspec's path words it
        elif _key(p, start, end, b"s") and not seen & 1:
            seen |= 1
            end = _string(p, i, n, &start)
            if end < 0:
                return -1
            o.sym_start = start
            o.sym_end = end - 1
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
        if i < n and p[i] == 125 and (seen & 31) == 31:
            o.first = first
            o.last = last
            o.event_ms = value
            o.has_event = (seen & 32) != 0
            return i + 1
        return -1


cdef struct _TopTradeOut:
    Py_ssize_t sym_start  # the symbol is p[sym_start:sym_end], undecoded
    Py_ssize_t sym_end
    long long id  # bookTicker ``u``, trade ``t``
    double v[4]  # bookTicker b, B, a, A; trade p, q
    bint maker  # trade ``m``: the buyer is the maker
    long long trade_ms  # trade ``T``
    bint has_trade_ms


cdef enum:
    _FRAME_DEPTH = 0
    _FRAME_TICKER = 1
    _FRAME_TRADE = 2


cdef Py_ssize_t _bool(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, bint* out) noexcept:
    i = _ws(p, i, n)
    if _lit(p, i, n, b"true", 4) >= 0:
        out[0] = True
        return i + 4
    if _lit(p, i, n, b"false", 5) >= 0:
        out[0] = False
        return i + 5
    return -1


cdef inline Py_ssize_t _then_decimal(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, const char* key, double* out) except -2:
    """``key`` (5 bytes: ``,"b":``) then a decimal string, or -1."""
    i = _lit(p, i, n, key, 5) if i >= 0 else -1
    return _decimal(p, i, n, out) if i >= 0 else -1


cdef inline Py_ssize_t _then_int_key(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, const char* key, Py_ssize_t size, long long* out) noexcept:
    """``key`` (``size`` bytes) then a non-negative integer, or -1."""
    i = _lit(p, i, n, key, size) if i >= 0 else -1
    return _int(p, i, n, out) if i >= 0 else -1


cdef inline Py_ssize_t _then_int(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, const char* key, long long* out) noexcept:
    """``key`` (5 bytes) then a non-negative integer, or -1."""
    return _then_int_key(p, i, n, key, 5, out)


cdef Py_ssize_t _top_trade_literal(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, int frame, _TopTradeOut* o) except -2:
    """The layout Binance always sends, its keys matched as literals; -1 sends the object
    to the key-by-key parser (which accepts everything this does, in any key order)."""
    cdef Py_ssize_t start
    cdef long long ignored = 0
    cdef bint flag = False
    if frame == _FRAME_TICKER:
        i = _lit(p, i, n, b'{"u":', 5)
        i = _int(p, i, n, &o.id) if i >= 0 else -1
        i = _lit(p, i, n, b',"s":', 5) if i >= 0 else -1
    else:
        i = _lit(p, i, n, b'{"e":"trade","E":', 17)
        i = _int(p, i, n, &ignored) if i >= 0 else -1
        i = _lit(p, i, n, b',"s":', 5) if i >= 0 else -1
    if i < 0:
        return -1
    i = _string(p, i, n, &start)
    if i < 0:
        return -1
    o.sym_start = start
    o.sym_end = i - 1
    if frame == _FRAME_TICKER:
        i = _then_decimal(p, i, n, b',"b":', &o.v[0])
        i = _then_decimal(p, i, n, b',"B":', &o.v[1])
        i = _then_decimal(p, i, n, b',"a":', &o.v[2])
        i = _then_decimal(p, i, n, b',"A":', &o.v[3])
        o.has_trade_ms = False
    else:
        i = _then_int(p, i, n, b',"t":', &o.id)
        i = _then_decimal(p, i, n, b',"p":', &o.v[0])
        i = _then_decimal(p, i, n, b',"q":', &o.v[1])
        i = _then_int(p, i, n, b',"T":', &o.trade_ms)
        if i < 0 or o.trade_ms > _MAX_EVENT_MS:
            return -1
        i = _lit(p, i, n, b',"m":', 5)
        i = _bool(p, i, n, &o.maker) if i >= 0 else -1
        i = _lit(p, i, n, b',"M":', 5) if i >= 0 else -1
        i = _bool(p, i, n, &flag) if i >= 0 else -1
        o.has_trade_ms = True
    if i < 0 or i >= n or p[i] != 125:
        return -1
    return i + 1


cdef Py_ssize_t _top_trade_fields(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, int frame, _TopTradeOut* o) except -2:
    """A ``bookTicker`` or ``trade`` object into ``o``: the fields the decoder's
    ``BookTickerMsg`` / ``TradeMsg`` read, plus the ones Binance adds that they ignore
    (``e``, ``E``, ``M``; a futures ticker's ``T``). Any other key: -1."""
    cdef Py_ssize_t start, end
    cdef Py_ssize_t done = _top_trade_literal(p, i, n, frame, o)
    if done >= 0:
        return done
    cdef long long ignored = 0
    cdef bint flag = False
    cdef int seen = 0
    cdef int bit, need
    cdef unsigned char c
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
        if end - start != 1:
            return -1
        bit = 0
        c = p[start]
        if c == 115:  # s
            bit = 1
            end = _string(p, i, n, &start)
            if end < 0:
                return -1
            o.sym_start = start
            o.sym_end = end - 1
            i = end
        elif c == 101:  # e
            bit = 2
            i = _string(p, i, n, &start)
        elif c == 69:  # E
            bit = 4
            i = _int(p, i, n, &ignored)
        elif frame == _FRAME_TICKER:
            if c == 117:  # u
                bit = 8
                i = _int(p, i, n, &o.id)
            elif c == 98:  # b
                bit = 16
                i = _decimal(p, i, n, &o.v[0])
            elif c == 66:  # B
                bit = 32
                i = _decimal(p, i, n, &o.v[1])
            elif c == 97:  # a
                bit = 64
                i = _decimal(p, i, n, &o.v[2])
            elif c == 65:  # A
                bit = 128
                i = _decimal(p, i, n, &o.v[3])
            elif c == 84:  # T
                bit = 256
                i = _int(p, i, n, &ignored)
            else:
                return -1
        else:
            if c == 116:  # t
                bit = 8
                i = _int(p, i, n, &o.id)
            elif c == 112:  # p
                bit = 16
                i = _decimal(p, i, n, &o.v[0])
            elif c == 113:  # q
                bit = 32
                i = _decimal(p, i, n, &o.v[1])
            elif c == 109:  # m
                bit = 64
                i = _bool(p, i, n, &o.maker)
            elif c == 77:  # M
                bit = 128
                i = _bool(p, i, n, &flag)
            elif c == 84:  # T
                bit = 256
                i = _int(p, i, n, &o.trade_ms)
                if o.trade_ms > _MAX_EVENT_MS:
                    return -1  # its ns would not fit int64: msgspec's path words it
            else:
                return -1
        if i < 0 or seen & bit:
            return -1  # a bad value, or a key twice: the decoder decides
        seen |= bit
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        need = (1 | 8 | 16 | 32 | 64 | 128) if frame == _FRAME_TICKER else (1 | 8 | 16 | 32 | 64)
        if i < n and p[i] == 125 and (seen & need) == need:
            o.has_trade_ms = (seen & 256) != 0 and frame == _FRAME_TRADE
            return i + 1
        return -1


cdef Py_ssize_t _wrapped_literal(const unsigned char* p, Py_ssize_t n, int frame, _DepthOut* d,
                                 Levels bids, Levels asks, _TopTradeOut* t) except -2:
    """The combined-stream wrapper as Binance always sends it, ``{"stream":"…","data":…}``
    with nothing after, matched literally: ``n`` when it is, else -1 (the levels as they
    were) for ``_binance_frame``'s key-by-key parser."""
    cdef Py_ssize_t i
    cdef Py_ssize_t had_bids = bids.n if bids is not None else 0
    cdef Py_ssize_t had_asks = asks.n if asks is not None else 0
    if n <= 11 or memcmp(p, b'{"stream":"', 11) != 0:
        return -1
    i = xle_string_end(p, 11, n)
    i = _lit(p, i, n, b',"data":', 8) if i >= 0 else -1
    if i < 0:
        return -1
    if frame == _FRAME_DEPTH:
        i = _depth_fields(p, i, n, d, bids, asks)
    else:
        i = _top_trade_fields(p, i, n, frame, t)
    if i >= 0:
        i = _ws(p, i, n)
        if i < n and p[i] == 125 and _ws(p, i + 1, n) == n:
            return n
    if bids is not None:
        bids.n = had_bids
    if asks is not None:
        asks.n = had_asks
    return -1


cdef bint _binance_frame(const unsigned char* p, Py_ssize_t n, int frame, _DepthOut* d,
                         Levels bids, Levels asks, _TopTradeOut* t) except -1:
    """A bare or combined-stream frame of one kind (``_FRAME_*``: a ``depthUpdate`` into
    ``d`` and the levels, a ``bookTicker`` or ``trade`` into ``t``), whole; False for
    anything else."""
    cdef Py_ssize_t i, start, end
    cdef bint got_data = False
    i = _wrapped_literal(p, n, frame, d, bids, asks, t)
    if i > 0:
        return True
    i = 0
    if n > 9 and memcmp(p, b'{"stream"', 9) == 0:  # the wrapper, as ``_is_wrapped`` sees it
        i = 1
        while True:
            end = _string(p, i, n, &start)
            if end < 0:
                return False
            i = _expect(p, end, n, 58)
            if i < 0:
                return False
            end -= 1
            if _key(p, start, end, b"stream"):
                i = _string(p, i, n, &start)
            elif _key(p, start, end, b"data") and not got_data:
                got_data = True
                if frame == _FRAME_DEPTH:
                    i = _depth_fields(p, i, n, d, bids, asks)
                else:
                    i = _top_trade_fields(p, i, n, frame, t)
            else:
                return False
            if i < 0:
                return False
            i = _ws(p, i, n)
            if i < n and p[i] == 44:
                i += 1
                continue
            if i < n and p[i] == 125 and got_data:
                i += 1
                break
            return False
    elif frame == _FRAME_DEPTH:
        i = _depth_fields(p, i, n, d, bids, asks)
    else:
        i = _top_trade_fields(p, i, n, frame, t)
    if i < 0:
        return False
    return _ws(p, i, n) == n


cdef inline bint _binance_depth(const unsigned char* p, Py_ssize_t n, _DepthOut* o, Levels bids, Levels asks) except -1:
    """A bare or combined-stream ``depthUpdate`` frame, whole; False for anything else."""
    return _binance_frame(p, n, _FRAME_DEPTH, o, bids, asks, NULL)


def parse_binance_top_trade(bytes payload, str kind):
    """What the lane reads of a ``bookTicker`` (``kind="bookTicker"``: ``(s, u, b, B, a,
    A)``) or ``trade`` frame (``(s, t, p, q, m, T_ns)``, ``T_ns`` None without one), or
    None when the lane would leave the frame to the decoder. For tests."""
    cdef _TopTradeOut o
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef int frame = _FRAME_TICKER if kind == "bookTicker" else _FRAME_TRADE
    if not _binance_frame(p, PyBytes_GET_SIZE(payload), frame, NULL, None, None, &o):
        return None
    symbol = _text(p, o.sym_start, o.sym_end)
    if frame == _FRAME_TICKER:
        return symbol, o.id, o.v[0], o.v[1], o.v[2], o.v[3]
    return symbol, o.id, o.v[0], o.v[1], o.maker, o.trade_ms * 1000000 if o.has_trade_ms else None


def parse_binance_depth(bytes payload):
    """``(s, U, u, bids, asks, E_ns)`` of a bare or combined-stream ``depthUpdate`` (``E_ns``
    is the event time ``E`` in ns, None without one), or None."""
    cdef _DepthOut o
    cdef Levels bids = Levels()
    cdef Levels asks = Levels()
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    if not _binance_depth(p, PyBytes_GET_SIZE(payload), &o, bids, asks):
        return None
    symbol = _text(p, o.sym_start, o.sym_end)
    return symbol, o.first, o.last, bids, asks, o.event_ms * 1000000 if o.has_event else None


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


cdef Py_ssize_t _l2_updates(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Levels bids, Levels asks) except -2:
    """An ``updates`` array into ``bids``/``asks``."""
    i = _expect(p, i, n, 91)
    if i < 0:
        return -1
    i = _ws(p, i, n)
    if i < n and p[i] == 93:
        return i + 1
    while True:
        i = _l2_update(p, i, n, bids, asks)
        if i < 0:
            return -1
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 93:
            return i + 1
        return -1


cdef Py_ssize_t _l2_event_literal(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Levels bids, Levels asks, Py_ssize_t* spans) except -2:
    """The layout Coinbase always sends, matched literally; -1 (the levels as they were)
    sends the element to the key-by-key parser, which accepts everything this does:
    ``{"type":"…","product_id":"…","updates":[…]}``."""
    cdef Py_ssize_t had_bids = bids.n, had_asks = asks.n
    cdef Py_ssize_t j = _lit(p, i, n, b'{"type":"', 9)
    if j < 0:
        return -1
    spans[0] = j
    j = xle_string_end(p, j, n)
    if j < 0:
        return -1
    spans[1] = j - 1
    j = _lit(p, j, n, b',"product_id":"', 15)
    if j < 0:
        return -1
    spans[2] = j
    j = xle_string_end(p, j, n)
    if j < 0:
        return -1
    spans[3] = j - 1
    j = _lit(p, j, n, b',"updates":', 11)
    j = _l2_updates(p, j, n, bids, asks) if j >= 0 else -1
    if j < 0 or j >= n or p[j] != 125:
        bids.n = had_bids
        asks.n = had_asks
        return -1
    return j + 1


cdef Py_ssize_t _l2_event_fields(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Levels bids, Levels asks, Py_ssize_t* spans) except -2:
    """One ``events`` element: its levels into ``bids``/``asks``, its ``type`` and
    ``product_id`` as spans of ``p`` (``spans[0:2]`` and ``spans[2:4]``)."""
    cdef Py_ssize_t start, end
    cdef int seen = 0
    i = _ws(p, i, n)
    end = _l2_event_literal(p, i, n, bids, asks, spans)
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
        if _key(p, start, end, b"type") and not seen & 1:
            seen |= 1
            end = _string(p, i, n, &start)
            if end < 0:
                return -1
            spans[0] = start
            spans[1] = end - 1
            i = end
        elif _key(p, start, end, b"product_id") and not seen & 2:
            seen |= 2
            end = _string(p, i, n, &start)
            if end < 0:
                return -1
            spans[2] = start
            spans[3] = end - 1
            i = end
        elif _key(p, start, end, b"updates") and not seen & 4:
            seen |= 4
            i = _l2_updates(p, i, n, bids, asks)
        else:
            return -1
        if i < 0:
            return -1
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 125 and seen == 7:
            return i + 1
        return -1


cdef Py_ssize_t _l2_event(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, list out) except -2:
    """One ``events`` element -> ``(type, product_id, bids, asks)`` appended to ``out``."""
    cdef Py_ssize_t spans[4]
    cdef Levels bids = Levels()
    cdef Levels asks = Levels()
    i = _l2_event_fields(p, i, n, bids, asks, spans)
    if i < 0:
        return -1
    out.append((_text(p, spans[0], spans[1]), _text(p, spans[2], spans[3]), bids, asks))
    return i


cdef inline int _two(const unsigned char* p) noexcept:
    """Two ASCII digits as a number, -1 if either is not a digit."""
    if not (48 <= p[0] <= 57 and 48 <= p[1] <= 57):
        return -1
    return (p[0] - 48) * 10 + (p[1] - 48)


cdef bint _rfc3339(const unsigned char* p, Py_ssize_t start, Py_ssize_t end, long long* out) noexcept:
    """``YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`` -> epoch ns, exactly as ``_common.rfc3339_ns``."""
    cdef Py_ssize_t size = end - start
    cdef const unsigned char* q = p + start
    cdef int hi, lo, month, day, hour, minute, second, k
    cdef long long year, era, yoe, doy, doe, days, frac = 0, scale = 100000000
    if size < 20 or q[size - 1] != 90:  # 'Z'
        return False
    if q[4] != 45 or q[7] != 45 or q[10] != 84 or q[13] != 58 or q[16] != 58:
        return False
    hi = _two(q)
    lo = _two(q + 2)
    month = _two(q + 5)
    day = _two(q + 8)
    hour = _two(q + 11)
    minute = _two(q + 14)
    second = _two(q + 17)
    if hi < 0 or lo < 0 or month < 0 or day < 0 or hour < 0 or minute < 0 or second < 0:
        return False
    if size > 20:  # a fraction: ".", 1 to 9 digits, then the "Z"
        if q[19] != 46 or size - 21 < 1 or size - 21 > 9:
            return False
        for k in range(20, size - 1):
            if not 48 <= q[k] <= 57:
                return False
            frac += (q[k] - 48) * scale
            scale //= 10
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return False
    year = hi * 100 + lo
    if year < 1970 or year > 2261:  # epoch ns that fit int64
        return False
    if month <= 2:
        year -= 1
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    out[0] = (days * 86400 + hour * 3600 + minute * 60 + second) * 1000000000 + frac
    return True


def rfc3339_ns(bytes text):
    """The compiled timestamp parser on its own (for the parity tests)."""
    cdef long long ns
    if _rfc3339(<const unsigned char*>PyBytes_AS_STRING(text), 0, PyBytes_GET_SIZE(text), &ns):
        return ns
    return None


cdef struct _L2Out:
    long long seq
    long long stamp
    bint stamped
    Py_ssize_t events  # how many ``events`` elements
    Py_ssize_t spans[4]  # the one event's type and product_id (single-event mode)


cdef Py_ssize_t _l2_events(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, _L2Out* o, list events, Levels bids, Levels asks) except -2:
    """An ``events`` array: each element into ``events``, or with ``events`` None the one
    element into ``bids``/``asks`` and ``o.spans`` (-1 for a second one)."""
    i = _expect(p, i, n, 91)
    if i < 0:
        return -1
    i = _ws(p, i, n)
    if i < n and p[i] == 93:
        return i + 1
    while True:
        if events is not None:
            i = _l2_event(p, i, n, events)
        elif o.events == 0:
            i = _l2_event_fields(p, i, n, bids, asks, o.spans)
        else:
            return -1
        if i < 0:
            return -1
        o.events += 1
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 93:
            return i + 1
        return -1


cdef bint _l2_frame_literal(const unsigned char* p, Py_ssize_t n, _L2Out* o, list events, Levels bids, Levels asks) except -1:
    """The layout Coinbase always sends, matched literally; False (``o``, ``events`` and
    the levels as they were) sends the frame to the key-by-key parser, which accepts
    everything this does: ``{"channel":"l2_data","client_id":"…","timestamp":"…",
    "sequence_num":…,"events":[…]}``."""
    cdef Py_ssize_t start
    cdef Py_ssize_t had_events = len(events) if events is not None else 0
    cdef Py_ssize_t had_bids = bids.n if bids is not None else 0
    cdef Py_ssize_t had_asks = asks.n if asks is not None else 0
    cdef Py_ssize_t j = _lit(p, 0, n, b'{"channel":"l2_data","client_id":"', 34)
    j = xle_string_end(p, j, n) if j >= 0 else -1
    j = _lit(p, j, n, b',"timestamp":"', 14) if j >= 0 else -1
    if j < 0:
        return False
    start = j
    j = xle_string_end(p, j, n)
    if j < 0:
        return False
    o.stamped = _rfc3339(p, start, j - 1, &o.stamp)
    j = _then_int_key(p, j, n, b',"sequence_num":', 16, &o.seq)
    j = _lit(p, j, n, b',"events":', 10) if j >= 0 else -1
    j = _l2_events(p, j, n, o, events, bids, asks) if j >= 0 else -1
    if j >= 0:
        j = _ws(p, j, n)
        if j < n and p[j] == 125 and _ws(p, j + 1, n) == n:
            return True
    if events is not None:
        del events[had_events:]
    if bids is not None:
        bids.n = had_bids
    if asks is not None:
        asks.n = had_asks
    o.events = 0
    return False


cdef bint _l2_frame(const unsigned char* p, Py_ssize_t n, _L2Out* o, list events, Levels bids, Levels asks) except -1:
    """An ``l2_data`` frame whose every update is a bid or an offer; False for anything
    else. Each event goes to ``events`` as a tuple, or with ``events`` None (the columnar
    lane) the one event into ``bids``/``asks`` and ``o.spans``: a frame of several events
    is then refused (False), and its caller takes the general path."""
    cdef Py_ssize_t i, start, end
    cdef int seen = 0
    cdef long long seq = 0, stamp = 0
    cdef bint stamped = False
    o.events = 0
    if _l2_frame_literal(p, n, o, events, bids, asks):
        return True
    i = _expect(p, 0, n, 123)
    if i < 0:
        return False
    while True:
        end = _string(p, i, n, &start)
        if end < 0:
            return False
        i = _expect(p, end, n, 58)
        if i < 0:
            return False
        end -= 1
        if _key(p, start, end, b"channel") and not seen & 1:
            seen |= 1
            end = _string(p, i, n, &start)
            if end < 0 or not _key(p, start, end - 1, b"l2_data"):
                return False
            i = end
        elif _key(p, start, end, b"client_id"):
            i = _string(p, i, n, &start)
        elif _key(p, start, end, b"timestamp") and not seen & 8:
            seen |= 8
            end = _string(p, i, n, &start)
            if end < 0:
                return False
            stamped = _rfc3339(p, start, end - 1, &stamp)
            i = end
        elif _key(p, start, end, b"sequence_num") and not seen & 2:
            seen |= 2
            i = _int(p, i, n, &seq)
        elif _key(p, start, end, b"events") and not seen & 4:
            seen |= 4
            i = _l2_events(p, i, n, o, events, bids, asks)
        else:
            return False
        if i < 0:
            return False
        i = _ws(p, i, n)
        if i < n and p[i] == 44:
            i += 1
            continue
        if i < n and p[i] == 125 and (seen & 7) == 7:
            i += 1
            break
        return False
    if _ws(p, i, n) != n:
        return False
    o.seq = seq
    o.stamp = stamp
    o.stamped = stamped
    return True


def parse_coinbase_l2(bytes payload):
    """``(sequence_num, [(type, product_id, bids, asks), ...], timestamp_ns)`` of an
    ``l2_data`` frame whose every update is a bid or an offer, else None;
    ``timestamp_ns`` is the frame's ``timestamp`` in epoch ns, None when it has none that
    parses."""
    cdef _L2Out o
    cdef list events = []
    if not _l2_frame(<const unsigned char*>PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload), &o, events, None, None):
        return None
    return o.seq, events, o.stamp if o.stamped else None
