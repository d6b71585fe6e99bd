# The columnar lane, part of the ``_fastbook`` extension (included by ``_fastbook.pyx``).
#
# Why: on the replay's hot path nearly every record is a depth frame of a synced book
# (Binance ``depthUpdate``, Coinbase ``l2_data``), and the Python path builds a RawRecord,
# a BookUpdate and two level lists per message before the compiled book sees it. The
# lane reads those rows straight from the Arrow columns (payload buffer + offsets,
# recv_ns, seq, conn and the dictionary indices of run/kind/stream), parses them with the
# wire parsers into two reused level arrays, runs the venue's sync rule for that common
# case, applies the levels to the very ``Book`` the engine holds and prices the market's
# arbitrage pairs when the top of book moved. Python sees only what changes the outputs.
#
# Binance ``bookTicker`` and ``trade`` frames of a live book are taken whole too (on busy
# captures they are most of the rows): a trade becomes the book's ``last_trade`` at the
# next write-back, and a ticker goes to the book's cross-check, whose queue of tickers
# waiting for their update id the lane mirrors in C (``_LaneSlot.ring_*``) for as long as
# no ticker is in doubt; a ticker that disagrees is Python's again.
#
# Everything else goes through the engine's own Python code, row by row, so the two
# paths cannot diverge: a row the lane does not take whole (a snapshot, a gap, a stale
# or inexact or malformed frame, a control event, a crossed book, a quote tick, an open
# arbitrage episode, a ticker in doubt, ...) is handed to ``Engine.on_records`` as a
# RawRecord, or to the engine method that handles that step. Before any Python code
# runs, the lane writes back what it changed (``_flush``) and forgets what it knew
# (``_disarm``), so Python always sees, and the lane always starts from, the one true
# state.
#
# The lane reads and writes the engine's and decoders' attributes by name (duck typed:
# ``_native`` imports nothing above ``records``); ``xle.analytics.columnar`` is the one
# caller and names the contract.

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_GetPointer
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.string cimport strcmp

from sys import intern

# Arrow's C data interface (https://arrow.apache.org/docs/format/CDataInterface.html, a
# stable ABI): ``Lane.prepare`` reads a batch's buffers from one export instead of a
# pyarrow object per column, buffer and dictionary (a third of its time per batch).
cdef extern from *:
    """
    #ifndef ARROW_C_DATA_INTERFACE
    #define ARROW_C_DATA_INTERFACE
    #define ARROW_FLAG_DICTIONARY_ORDERED 1
    #define ARROW_FLAG_NULLABLE 2
    #define ARROW_FLAG_MAP_KEYS_SORTED 4
    struct ArrowSchema {
        const char* format;
        const char* name;
        const char* metadata;
        int64_t flags;
        int64_t n_children;
        struct ArrowSchema** children;
        struct ArrowSchema* dictionary;
        void (*release)(struct ArrowSchema*);
        void* private_data;
    };
    struct ArrowArray {
        int64_t length;
        int64_t null_count;
        int64_t offset;
        int64_t n_buffers;
        int64_t n_children;
        const void** buffers;
        struct ArrowArray** children;
        struct ArrowArray* dictionary;
        void (*release)(struct ArrowArray*);
        void* private_data;
    };
    #endif
    """
    struct ArrowSchema:
        const char* format
        const char* name
        int64_t n_children
        ArrowSchema** children
        ArrowSchema* dictionary

    struct ArrowArray:
        int64_t length
        int64_t null_count
        int64_t offset
        int64_t n_buffers
        int64_t n_children
        const void** buffers
        ArrowArray** children
        ArrowArray* dictionary


cdef class _Batch  # defined below: a record batch read for the lane


@cython.final
cdef class _LaneEdge:
    """The latest edge the lane priced for one pair key, shared by the slots of both
    books of the pair, so the later pricing wins whichever book made it."""

    cdef object key
    cdef double edge
    cdef bint priced  # ``edge`` set since the last flush


@cython.final
cdef class _LanePair:
    """One direction of arbitrage of a book's market, as the engine's ``Pair``."""

    cdef Book buy
    cdef Book sell
    cdef double fee_buy
    cdef double fee_sell
    cdef bint ok  # both books synced, and the tracker already knows the key
    cdef object key
    cdef _LaneEdge latest


cdef struct _Pending:
    long long u  # the ticker's update id
    long long last  # the check's update count by which it must have been judged
    double v[4]  # b, B, a, A


@cython.final
cdef class _LaneSlot:
    """One book the lane may update: the engine's state and the decoder's sync of it."""

    cdef int exchange  # index into the lane's exchanges
    cdef bytes symbol_bytes
    cdef object symbol
    cdef Book book
    cdef object state  # engine ``_BookState``
    cdef object sync  # decoder ``_SymbolSync`` / ``_ProductSync``
    cdef bint armed
    cdef bint touched
    cdef long long run_id
    cdef long long conn
    cdef long long update_id
    cdef long long max_span
    cdef long long exch_ns
    cdef bint has_exch
    cdef long long last_recv_ns
    cdef long long last_seq
    cdef bint synced
    cdef object check  # the engine's ``CrossCheck`` of this book, or None
    cdef bint watched  # the engine's observer must see this book's events: Python's rows
    cdef bint top  # a caller waits for this book's top-of-book changes (``until_notice``)
    cdef object changes_key  # (exchange, symbol) if a caller waits for its every update
    cdef list pairs
    cdef object decoder_exchange  # the decoder's name for the exchange, as its events carry
    # The cross-check's Binance tickers waiting for their update id, mirrored in C while
    # ``check_fast`` (no ticker in doubt, no kept history): a ring of ``_Pending``, the
    # check's update clock, and its counters' growth since the last flush. Otherwise the
    # Python ``CrossCheck`` is the one state and runs as before.
    cdef bint check_fast
    cdef bint check_touched
    cdef _Pending* ring
    cdef Py_ssize_t ring_head
    cdef Py_ssize_t ring_len
    cdef Py_ssize_t ring_cap
    cdef long long check_updates
    # The check's deque holds ring entries as of the last export or import:
    # ``ring_synced`` of them from the head then, of which ``ring_popped`` were popped since.
    cdef Py_ssize_t ring_synced
    cdef Py_ssize_t ring_popped
    cdef long long d_tickers
    cdef long long d_agreed
    cdef long long d_unmatched
    # What a quote tick reads of the engine's state, mirrored while armed so that the
    # lane's tick (``Lane._fast_tick``) needs no write-back: read at arming, kept by
    # ``_applied``, written back by ``_flush``.
    cdef bint dirty  # ``state.dirty``: updated since its last quote
    cdef bint quoted  # quoted by the lane since the last flush
    cdef bint stale_reported
    cdef bint has_last  # ``state.last_recv_ns`` is not None
    cdef bint tick_ok  # its state fits the mirror (a venue time within int64)
    cdef tuple sizes
    cdef int32_t quote_key
    # the last trade taken on the lane since the last flush (the engine's ``last_trade``)
    cdef bint has_trade
    cdef long long trade_id
    cdef double trade_price
    cdef double trade_qty
    cdef bint trade_maker
    cdef long long trade_ms
    cdef bint trade_has_ms

    def __dealloc__(self):
        free(self.ring)

    cdef inline _Pending* ring_at(self, Py_ssize_t k) noexcept:
        """The ``k``-th waiting ticker from the oldest."""
        return &self.ring[(self.ring_head + k) % self.ring_cap]

    cdef int ring_push(self, long long u, const double* v, long long last) except -1:
        cdef Py_ssize_t cap, k
        cdef _Pending* grown
        cdef _Pending* entry
        if self.ring_len == self.ring_cap:
            cap = self.ring_cap * 2 if self.ring_cap else 16
            grown = <_Pending*>malloc(cap * sizeof(_Pending))
            if grown == NULL:
                raise MemoryError()
            for k in range(self.ring_len):
                grown[k] = self.ring_at(k)[0]
            free(self.ring)
            self.ring = grown
            self.ring_cap = cap
            self.ring_head = 0
        entry = self.ring_at(self.ring_len)
        entry.u = u
        entry.last = last
        memcpy(entry.v, v, 4 * sizeof(double))
        self.ring_len += 1
        return 0

    cdef inline void ring_pop(self) noexcept:
        self.ring_head = (self.ring_head + 1) % self.ring_cap
        self.ring_len -= 1
        self.ring_popped += 1


@cython.final
cdef class _LaneConn:
    """A Coinbase connection's last ``sequence_num`` (the decoder's ``_last_seq``)."""

    cdef int exchange
    cdef long long run_id
    cdef long long conn
    cdef object key  # (run, conn)
    cdef bint armed
    cdef bint touched
    cdef long long last


cdef enum:
    _MAX_PAIRS = 64  # pairs of one book priced on the lane; more go to Python
    _VENUE_OTHER = 0
    _VENUE_BINANCE = 1
    _VENUE_COINBASE = 2
    # what a Binance stream carries (``_Batch.stream_route``)
    _ROUTE_OTHER = 0
    _ROUTE_DEPTH = 1
    _ROUTE_TICKER = 2
    _ROUTE_TRADE = 3


cdef inline bint _agrees(const double* v, Book book) noexcept:
    """``crosscheck._agrees``: the ticker's best prices and sizes are the book's."""
    cdef _Side b = book._bids
    cdef _Side a = book._asks
    return (
        b.n != 0 and a.n != 0
        and b.sign * b.K[b.n - 1] == v[0] and b.Q[b.n - 1] == v[1]
        and a.sign * a.K[a.n - 1] == v[2] and a.Q[a.n - 1] == v[3]
    )


cdef inline const int64_t* _i64(object buf, Py_ssize_t offset) except NULL:
    cdef const signed char[::1] view = buf
    return (<const int64_t*>&view[0]) + offset


cdef inline const int32_t* _i32(object buf, Py_ssize_t offset) except NULL:
    cdef const signed char[::1] view = buf
    return (<const int32_t*>&view[0]) + offset


cdef inline void _part_head(list part, Py_ssize_t k, Py_ssize_t* at, Py_ssize_t* row,
                            Py_ssize_t* size, long long* head) noexcept:
    """``Lane.feed_parts``: part ``k``'s next row past any batch with no row left, and
    that row's ``recv_ns`` in ``head[k]``."""
    cdef _Batch b
    while at[k] < size[k]:
        b = <_Batch>part[at[k]]
        if row[k] < b.rows:
            head[k] = b.recv[b.row(row[k])] if b.recv != NULL else 0
            return
        at[k] += 1
        row[k] = 0


# The columns ``_Batch`` reads, by role (``_column_role``).
cdef enum:
    _COLUMN_RECV = 0
    _COLUMN_SEQ = 1
    _COLUMN_CONN = 2
    _COLUMN_PAYLOAD = 3
    _COLUMN_RUN = 4
    _COLUMN_KIND = 5
    _COLUMN_STREAM = 6
    _COLUMN_SYMBOL = 7
    _COLUMN_EXCHANGE = 8
    _COLUMNS = 9
    _DICTIONARY_CACHE = 256  # string dictionaries remembered, beyond which it starts over


cdef const char* _COLUMN_NAMES[_COLUMNS]
_COLUMN_NAMES[:] = [b"recv_ns", b"seq", b"conn", b"payload", b"run", b"kind", b"stream",
                    b"symbol", b"exchange"]


cdef int _column_role(const char* name) noexcept:
    """The ``_COLUMN_*`` of a column name, -1 for a column the lane does not read."""
    cdef int role
    if name == NULL:
        return -1
    for role in range(_COLUMNS):
        if strcmp(name, _COLUMN_NAMES[role]) == 0:
            return role
    return -1


cdef bint _string_dictionary(ArrowSchema* field, ArrowArray* column) noexcept:
    """Is the column int32 indices into a string dictionary without nulls?"""
    return (
        strcmp(field.format, "i") == 0
        and field.dictionary != NULL
        and strcmp(field.dictionary.format, "u") == 0
        and column.dictionary != NULL
        and column.dictionary.null_count == 0
        and column.n_buffers == 2
    )


cdef bytes _dictionary_key(ArrowArray* values):
    """A string dictionary's exact contents as bytes: its size, its end offsets from its
    first value and its characters."""
    cdef Py_ssize_t n = values.length
    cdef const int32_t* ends = (<const int32_t*>values.buffers[1]) + values.offset
    cdef Py_ssize_t size = ends[n] - ends[0]
    cdef bytes key = PyBytes_FromStringAndSize(NULL, (n + 1) * sizeof(int32_t) + size)
    cdef int32_t* head = <int32_t*>PyBytes_AS_STRING(key)
    cdef Py_ssize_t k
    head[0] = <int32_t>n
    for k in range(n):
        head[k + 1] = ends[k + 1] - ends[0]
    if size:
        memcpy(head + n + 1, (<const char*>values.buffers[2]) + ends[0], size)
    return key


# String dictionaries met in exported batches, by ``_dictionary_key``: a log's batches
# repeat the same few, and decoding them again took a fifth of ``Lane.prepare``. Shared
# by every lane (the values are plain interned strings), outside any engine's objects.
cdef dict _DICTIONARY_STRINGS = {}


cdef list _dictionary_strings(ArrowArray* values):
    """A string dictionary's values, interned, as the reader's RawRecords have them."""
    cdef const int32_t* ends
    cdef const char* chars
    key = _dictionary_key(values)
    found = _DICTIONARY_STRINGS.get(key)
    if found is not None:
        return <list>found
    ends = (<const int32_t*>values.buffers[1]) + values.offset
    chars = <const char*>values.buffers[2]
    found = [
        intern(PyUnicode_DecodeUTF8(chars + ends[k], ends[k + 1] - ends[k], NULL))
        for k in range(values.length)
    ]
    if len(_DICTIONARY_STRINGS) >= _DICTIONARY_CACHE:
        _DICTIONARY_STRINGS.clear()
    _DICTIONARY_STRINGS[key] = found
    return <list>found


@cython.final
cdef class Lane:
    """Feeds Arrow record batches of the raw log to an ``Engine``; see the module notes.

    ``exchanges``: name -> venue kind (``"binance"`` or ``"coinbase"``, else None) of the
    exchanges whose decoders the lane may drive, and only while the engine's decoder of
    that exchange is exactly ``binance_type`` / ``coinbase_type``; ``live`` is the
    decoders' ``SyncState.LIVE``; ``record`` the ``RawRecord`` type; ``depth_channels``
    the stream channels Binance routes to its depth handler. ``ticker_channels`` and
    ``trade_channels``, with the ``TopOfBook`` and ``Trade`` types, let the lane take
    Binance ``bookTicker`` and ``trade`` frames of a live book too; ``check_tolerance``
    and ``check_limit`` are ``crosscheck.TOLERANCE`` and ``MAX_PENDING``.
    """

    cdef object engine
    cdef object live
    cdef object record
    cdef object binance_type
    cdef object coinbase_type
    cdef frozenset depth_channels
    cdef frozenset ticker_channels
    cdef frozenset trade_channels
    cdef object top_of_book  # the ``TopOfBook`` type, None: tickers stay Python's
    cdef object trade  # the ``Trade`` type, None: trades stay Python's
    cdef long long check_tolerance
    cdef Py_ssize_t check_limit
    cdef dict venue_kind  # exchange name -> _VENUE_*
    cdef list exchange_names  # index -> name
    cdef dict exchange_index
    cdef list exchange_venue  # index -> _VENUE_*
    cdef dict run_ids  # run str -> id
    cdef list slots
    cdef list conns
    cdef dict edges  # pair key -> _LaneEdge
    cdef Levels bids
    cdef Levels asks
    # state read from the engine (``_arm_engine``), valid until the next Python call
    cdef bint engine_armed
    cdef bint has_tick
    cdef long long next_tick
    cdef long long interval
    cdef bint episodes_open
    cdef double threshold
    cdef bint observed  # an observer that sees every book: every row is Python's
    cdef object observed_books  # else the books it sees (a set), or None
    cdef object top_books
    cdef object changed_books
    cdef bint noticed  # a Python row, an update a caller waits for, since the last check
    cdef public bint top_moved  # the last feed stopped at a moved top of a ``top`` book
    # The book of ``engine.changed_books`` whose update the last feed stopped at, or None
    cdef public object changed
    cdef object generation  # ``engine._generation`` when the lane last wrote back: if it
    # differs at the next feed, someone fed the engine meanwhile and the slots are stale
    # what the lane did since the last flush
    cdef long long pending_records
    cdef long long pending_updates
    cdef long long pending_trades
    cdef long long last_recv_ns
    cdef long long last_seq
    # counters for the benchmark's notes: rows taken whole, rows handed to Python
    cdef public long long fast_rows
    cdef public long long python_rows
    cdef public long long ticks
    cdef public long long fast_ticks  # of which ``_fast_tick`` did
    cdef bint quote_rows  # ``engine.quote_rows``: quotes of compiled books as ``QuoteRows``
    cdef Py_ssize_t depth  # the engine's ``imbalance_levels``
    cdef QuoteKeys quote_keys
    cdef QuoteRows quote_block  # the rows the last quote went to
    cdef list tick_plan  # the engine's books' slots in its order, all armed; None: not known
    cdef long long arms  # slots armed so far, to try a plan again only after one was
    cdef long long plan_arms
    cdef bint has_stale_after
    cdef long long stale_after  # ``engine.config.stale_after_ns``

    def __cinit__(self, engine, dict exchanges, live, record, depth_channels, binance_type,
                  coinbase_type, ticker_channels=(), trade_channels=(), top_of_book=None,
                  trade=None, long long check_tolerance=3, Py_ssize_t check_limit=4096):
        self.engine = engine
        self.ticker_channels = frozenset(ticker_channels if top_of_book is not None else ())
        self.trade_channels = frozenset(trade_channels if trade is not None else ())
        self.top_of_book = top_of_book
        self.trade = trade
        self.check_tolerance = check_tolerance
        self.check_limit = check_limit
        self.binance_type = binance_type
        self.coinbase_type = coinbase_type
        self.live = live
        self.record = record
        self.depth_channels = frozenset(depth_channels)
        self.venue_kind = {}
        for name, kind in exchanges.items():
            self.venue_kind[name] = (
                _VENUE_BINANCE if kind == "binance" else _VENUE_COINBASE if kind == "coinbase" else _VENUE_OTHER
            )
        self.exchange_names = []
        self.exchange_index = {}
        self.exchange_venue = []
        self.run_ids = {}
        self.slots = []
        self.conns = []
        self.edges = {}
        self.bids = Levels()
        self.asks = Levels()
        self.engine_armed = False
        self.quote_keys = QuoteKeys()

    # ------------------------------------------------------------------ the batch

    def prepare(self, exchange, batch, symbols=None):
        """Read ``batch`` (RAW_SCHEMA columns in replay order, a ``RecordBatch``;
        ``exchange`` the name of every row's exchange, or None to read its ``exchange``
        column) for ``feed``: its columns' buffers, and per dictionary entry what the
        lane needs to know of it, decided once. ``symbols`` (a set): only the rows of
        those symbols and those without one are fed, numbered ``0..num_rows - 1``; the
        reader's symbol filter without copying the batch."""
        return _Batch(self, exchange, batch, symbols)

    cdef object _decision(self, int role, list values):
        """What the lane makes of a dictionary's values, per index: for ``exchange`` the
        lane's exchange index, for ``run`` its run id, for ``kind`` whether it is
        ``ws``, for ``stream`` its ``_ROUTE_*``; None for ``symbol``."""
        cdef Py_ssize_t k
        cdef bytearray flags
        if role == _COLUMN_EXCHANGE:
            return [self._exchange(name) for name in values]
        if role == _COLUMN_RUN:
            return [self._run_id(name) for name in values]
        if role == _COLUMN_KIND:
            flags = bytearray(1 + len(values))
            for k, name in enumerate(values):
                flags[k] = name == "ws"
            return flags
        if role == _COLUMN_STREAM:
            flags = bytearray(1 + len(values))
            for k, name in enumerate(values):
                channel = name.partition("@")[2] if name else None
                if channel in self.depth_channels:
                    flags[k] = _ROUTE_DEPTH
                elif channel in self.ticker_channels:
                    flags[k] = _ROUTE_TICKER
                elif channel in self.trade_channels:
                    flags[k] = _ROUTE_TRADE
            return flags
        return None

    cdef tuple _dictionary_values(self, int role, ArrowArray* column):
        """``(values, _decision)`` of an exported dictionary column."""
        values = _dictionary_strings(column.dictionary)
        return values, self._decision(role, values)

    def feed(self, _Batch b, list out, Py_ssize_t start=0, bint until_output=False,
             stop_ns=None, bint until_notice=False):
        """Rows ``start`` on of a prepared batch through the engine, their outputs
        appended to ``out`` in the order ``Engine.on_records`` gives them. With
        ``until_output`` it returns after the first row that made ``out`` non-empty, so
        a caller can look at the engine right after the record behind an output; with
        ``until_notice`` after a row the engine's observer may have seen (any row taken
        by Python), one that moved the top of a book in ``engine.top_books`` or one that
        updated a book in ``engine.changed_books`` (then ``changed`` names it); with
        ``stop_ns`` before any row but the first with ``recv_ns >= stop_ns``.
        Returns the index of the next row to feed (``num_rows`` once done)."""
        cdef Py_ssize_t r = start
        cdef Py_ssize_t rows = b.rows
        cdef Py_ssize_t before = len(out)
        cdef bint has_stop = stop_ns is not None and not b.python_only
        cdef long long stop = stop_ns if has_stop else 0
        self.noticed = False
        self.top_moved = False
        self.changed = None
        self._resume()
        self._mark_watched(b)
        try:
            while r < rows:
                if has_stop and r > start and b.recv[b.row(r)] >= stop:
                    break
                self._row(b, r, out)
                r += 1
                if until_output and len(out) > before:
                    break
                if until_notice and self.noticed:
                    break
        finally:
            self._pause()
        return r

    def row_record(self, _Batch b, Py_ssize_t r):
        """Row ``r`` of a prepared batch as the RawRecord the reader would make."""
        return b.record(self, b.row(r))

    def feed_parts(self, list parts, list out):
        """The rows of several prepared batch sequences, one per exchange, each in replay
        order and given in exchange-name order, merged in replay order as they are fed:
        by ``recv_ns``, a tie going to the earlier part (the exchange that sorts first),
        which is the replay order ``(recv_ns, exchange, run, seq)`` when no two parts
        share an exchange. No table is concatenated or sorted for it."""
        cdef Py_ssize_t count = len(parts)
        cdef Py_ssize_t k, best
        cdef long long best_ns = 0
        cdef list batches = [list(part) for part in parts]
        cdef list part
        cdef _Batch b
        for k in range(count):
            for b in batches[k]:
                if b.python_only:
                    raise ValueError("feed_parts needs batches without null keys")
        # Per part, in C (per row, where Python ints cost a conversion each): its batch,
        # its next (selected) row there, that row's recv_ns, its number of batches.
        cdef Py_ssize_t* at = NULL
        cdef long long* head = NULL
        cdef Py_ssize_t* row
        cdef Py_ssize_t* size
        self._resume()
        for k in range(count):
            for b in batches[k]:
                self._mark_watched(b)
        at = <Py_ssize_t*>malloc((3 * count + 1) * sizeof(Py_ssize_t))
        head = <long long*>malloc((count + 1) * sizeof(long long))
        try:
            if at == NULL or head == NULL:
                raise MemoryError()
            row = at + count
            size = at + 2 * count
            for k in range(count):
                at[k] = 0
                row[k] = 0
                size[k] = len(<list>batches[k])
                _part_head(<list>batches[k], k, at, row, size, head)
            while True:
                best = -1
                for k in range(count):
                    if at[k] < size[k] and (best < 0 or head[k] < best_ns):
                        best = k
                        best_ns = head[k]
                if best < 0:
                    break
                part = <list>batches[best]
                b = <_Batch>part[at[best]]
                self._row(b, row[best], out)
                row[best] += 1
                if row[best] >= b.rows:
                    at[best] += 1
                    row[best] = 0
                _part_head(part, best, at, row, size, head)
        finally:
            free(at)
            free(head)
            self._pause()

    cdef int _row(self, _Batch b, Py_ssize_t r, list out) except -1:
        """One row (``r`` counts the selected rows; below it is the batch's own index):
        taken whole when it is the common case, else Python's."""
        cdef int ex, venue, kidx, sidx, route
        cdef bint taken
        cdef long long recv_ns
        r = b.row(r)
        recv_ns = b.recv[r] if b.recv != NULL else 0
        if not self.engine_armed:
            self._arm_engine()
        if b.python_only or self.observed or not self.has_tick:
            return self._python_row(b, r, out)
        if recv_ns >= self.next_tick:
            self._tick(b, r, recv_ns, out)
        ex = b.exchanges[r] if b.exchanges != NULL else 0
        if ex < 0 or b.runs[r] < 0 or b.kinds[r] < 0:
            return self._python_row(b, r, out)
        if b.symbols[r] >= 0 and b.watched[b.symbols[r]]:
            return self._python_row(b, r, out)  # a watched book's: no need to parse it
        ex = b.ex_map[ex]
        venue = self.exchange_venue[ex]
        kidx = b.kinds[r]
        sidx = b.streams[r]
        if (
            venue == _VENUE_OTHER
            or not b.kind_ws[kidx]
            or not b.has_payload(r)
        ):
            return self._python_row(b, r, out)
        if venue == _VENUE_BINANCE:
            route = b.stream_route[sidx] if sidx >= 0 else _ROUTE_OTHER
            if route == _ROUTE_DEPTH:
                taken = self._binance(
                    ex, b.data + b.offsets[r], b.offsets[r + 1] - b.offsets[r],
                    b.run_map[b.runs[r]], b.conn[r], recv_ns, b.seq[r], b, r, out
                )
            elif route == _ROUTE_TICKER:
                taken = self._binance_ticker(
                    ex, b.data + b.offsets[r], b.offsets[r + 1] - b.offsets[r], recv_ns, b.seq[r]
                )
            elif route == _ROUTE_TRADE:
                taken = self._binance_trade(
                    ex, b.data + b.offsets[r], b.offsets[r + 1] - b.offsets[r], recv_ns, b.seq[r]
                )
            else:
                taken = False
            if taken:
                self.fast_rows += 1
                return 0
        elif self._coinbase(
            ex, b.data + b.offsets[r], b.offsets[r + 1] - b.offsets[r],
            b.run_map[b.runs[r]], b.conn[r], recv_ns, b.seq[r], b, r, out
        ):
            self.fast_rows += 1
            return 0
        return self._python_row(b, r, out)

    # ------------------------------------------------------------------ one venue's row

    cdef bint _binance(self, int ex, const unsigned char* p, Py_ssize_t n, long long run_id,
                       long long conn, long long recv_ns, long long seq, _Batch row, Py_ssize_t r,
                       list out) except -1:
        """A depth frame of a live book, contiguous, of the book's connection: applied.
        False (nothing changed) for anything else: the decoder then decides."""
        cdef _DepthOut o
        cdef _LaneSlot slot
        self.bids.n = 0
        self.asks.n = 0
        if n <= 0 or not _binance_depth(p, n, &o, self.bids, self.asks):
            return False
        slot = self._slot(ex, p + o.sym_start, o.sym_end - o.sym_start)
        if slot is None or slot.watched:
            return False
        if not (
            o.first <= slot.update_id + 1
            and slot.run_id == run_id
            and slot.conn == conn
            and o.first <= o.last
            and o.last <= o.first + slot.max_span
            and o.last > slot.update_id
        ):
            return False  # stale (the guard counts it), gap, other connection, bad ids
        slot.update_id = o.last
        self._applied(slot, o.event_ms * 1000000, o.has_event, recv_ns, seq, row, r, out)
        return True

    cdef bint _binance_ticker(self, int ex, const unsigned char* p, Py_ssize_t n,
                              long long recv_ns, long long seq) except -1:
        """A ``bookTicker`` of a live book whose cross-check runs in C: the engine's
        ``CrossCheck.on_ticker``. False for anything else, and for a ticker that disagrees
        at its own update id (Python words the doubt)."""
        cdef _TopTradeOut t
        cdef _LaneSlot slot
        if n <= 0 or not _binance_frame(p, n, _FRAME_TICKER, NULL, None, None, &t):
            return False
        slot = self._slot(ex, p + t.sym_start, t.sym_end - t.sym_start)
        if slot is None or slot.watched or not slot.check_fast:
            return False
        if not slot.synced:
            slot.d_unmatched += 1
        elif t.id == slot.update_id:
            if not _agrees(t.v, slot.book):
                return False
            slot.d_agreed += 1
        elif t.id < slot.update_id:
            slot.d_unmatched += 1  # the book is already past the ticker's point
        else:
            if slot.ring_len >= self.check_limit:
                slot.ring_pop()
                slot.d_unmatched += 1
            slot.ring_push(t.id, t.v, slot.check_updates + self.check_tolerance)
        slot.d_tickers += 1
        slot.check_touched = True
        self._counted(recv_ns, seq)
        return True

    cdef bint _binance_trade(self, int ex, const unsigned char* p, Py_ssize_t n,
                             long long recv_ns, long long seq) except -1:
        """A ``trade`` of a live book: the engine's ``last_trade`` and trade count."""
        cdef _TopTradeOut t
        cdef _LaneSlot slot
        if n <= 0 or not _binance_frame(p, n, _FRAME_TRADE, NULL, None, None, &t):
            return False
        slot = self._slot(ex, p + t.sym_start, t.sym_end - t.sym_start)
        if slot is None or slot.watched:
            return False
        slot.has_trade = True
        slot.trade_id = t.id
        slot.trade_price = t.v[0]
        slot.trade_qty = t.v[1]
        slot.trade_maker = t.maker
        slot.trade_ms = t.trade_ms
        slot.trade_has_ms = t.has_trade_ms
        self.pending_trades += 1
        self._counted(recv_ns, seq)
        return True

    cdef inline void _counted(self, long long recv_ns, long long seq) noexcept:
        """A row taken whole that changed no book: ``Engine.on_records`` counts it."""
        self.pending_records += 1
        self.last_recv_ns = recv_ns
        self.last_seq = seq

    cdef bint _check_update(self, _LaneSlot slot) except -1:
        """``CrossCheck.on_update`` on the C mirror; False, with nothing changed, when a
        ticker due now disagrees (it would become a doubt: Python's)."""
        cdef long long book_id = slot.update_id
        cdef long long updates = slot.check_updates + 1
        cdef Py_ssize_t k = 0
        cdef _Pending* entry
        while k < slot.ring_len:
            entry = slot.ring_at(k)
            if entry.u == book_id:
                if not _agrees(entry.v, slot.book):
                    return False
            elif not (entry.u < book_id or entry.last <= updates):
                break
            k += 1
        slot.check_updates = updates
        while k > 0:
            if slot.ring_at(0).u == book_id:
                slot.d_agreed += 1
            else:
                slot.d_unmatched += 1  # the book jumped past ``u``, or never got there
            slot.ring_pop()
            k -= 1
        slot.check_touched = True
        return True

    cdef int _import_check(self, _LaneSlot slot) except -1:
        """Mirror the slot's ``CrossCheck`` in C when it holds only tickers waiting for
        their update id; else leave it to Python (``check_fast`` False)."""
        cdef double v[4]
        slot.check_fast = False
        slot.check_touched = False
        slot.ring_len = 0
        slot.ring_head = 0
        slot.d_tickers = slot.d_agreed = slot.d_unmatched = 0
        check = slot.check
        if check is None or self.top_of_book is None:
            return 0
        if check._doubts or check.history is not None:
            return 0
        for ticker, last in check._waiting:
            if ticker.update_id is None or None in (
                ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size
            ):
                slot.ring_len = 0
                return 0
            v[0] = ticker.bid
            v[1] = ticker.bid_size
            v[2] = ticker.ask
            v[3] = ticker.ask_size
            slot.ring_push(ticker.update_id, v, last)
        slot.check_updates = check.updates
        slot.ring_synced = slot.ring_len
        slot.ring_popped = 0
        slot.check_fast = True
        return 0

    cdef int _export_check(self, _LaneSlot slot) except -1:
        """Write the C mirror back into the ``CrossCheck``: the counters, and the queue
        by what changed since the last export (only the lane changes it meanwhile)."""
        cdef Py_ssize_t k, start
        cdef _Pending* entry
        check = slot.check
        check.tickers += slot.d_tickers
        check.agreed += slot.d_agreed
        check.unmatched += slot.d_unmatched
        check.updates = slot.check_updates
        slot.d_tickers = slot.d_agreed = slot.d_unmatched = 0
        waiting = check._waiting
        if slot.ring_popped >= slot.ring_synced:
            waiting.clear()
            start = 0
        else:
            for k in range(slot.ring_popped):
                waiting.popleft()
            start = slot.ring_synced - slot.ring_popped
        for k in range(start, slot.ring_len):
            entry = slot.ring_at(k)
            ticker = self.top_of_book(
                slot.decoder_exchange, slot.symbol, entry.v[0], entry.v[1], entry.v[2],
                entry.v[3], entry.u,
            )
            waiting.append((ticker, entry.last))
        slot.ring_synced = slot.ring_len
        slot.ring_popped = 0
        slot.check_touched = False
        return 0

    cdef bint _coinbase(self, int ex, const unsigned char* p, Py_ssize_t n, long long run_id,
                        long long conn, long long recv_ns, long long seq, _Batch row, Py_ssize_t r,
                        list out) except -1:
        """A one-event ``l2_data`` update of a live book, next in its connection's count."""
        cdef _L2Out o
        cdef _LaneSlot slot
        cdef _LaneConn c
        self.bids.n = 0
        self.asks.n = 0
        if n <= 0 or not _l2_frame(p, n, &o, None, self.bids, self.asks) or o.events != 1:
            return False
        if o.spans[1] - o.spans[0] != 6 or memcmp(p + o.spans[0], b"update", 6) != 0:
            return False  # a snapshot (or a type only the decoder's words fit)
        c = self._conn(ex, run_id, conn)
        if c is None or o.seq != c.last + 1:
            return False
        slot = self._slot(ex, p + o.spans[2], o.spans[3] - o.spans[2])
        if slot is None or slot.watched or slot.run_id != run_id or slot.conn != conn:
            return False
        c.last = o.seq
        c.touched = True
        slot.update_id = 0
        self._applied(slot, o.stamp, o.stamped, recv_ns, seq, row, r, out)
        return True

    cdef int _applied(self, _LaneSlot slot, long long exch_ns, bint has_exch, long long recv_ns,
                      long long seq, _Batch row, Py_ssize_t r, list out) except -1:
        """The engine's steps for an applied update (``Engine.on_records``), in order."""
        cdef Book book = slot.book
        cdef _Side b = book._bids
        cdef _Side a = book._asks
        cdef Py_ssize_t bn = b.n
        cdef Py_ssize_t an = a.n
        cdef double bk = b.K[bn - 1] if bn else 0.0
        cdef double ak = a.K[an - 1] if an else 0.0
        cdef Py_ssize_t i
        cdef bint moved
        cdef Levels levels = self.bids
        for i in range(levels.n):
            b.set(levels.data[2 * i], levels.data[2 * i + 1])
        levels = self.asks
        for i in range(levels.n):
            a.set(levels.data[2 * i], levels.data[2 * i + 1])
        if (bn == 0) != (b.n == 0) or (an == 0) != (a.n == 0):
            moved = True
        else:
            moved = (b.n != 0 and b.K[b.n - 1] != bk) or (a.n != 0 and a.K[a.n - 1] != ak)
        slot.touched = True
        slot.dirty = True
        slot.stale_reported = False
        slot.has_last = True
        slot.exch_ns = exch_ns
        slot.has_exch = has_exch
        slot.last_recv_ns = recv_ns
        slot.last_seq = seq
        self.pending_records += 1
        self.pending_updates += 1
        self.last_recv_ns = recv_ns
        self.last_seq = seq
        check = slot.check
        if check is not None:
            # The venue's tickers wait for this book: judge them (``Engine._cross_check``).
            if slot.check_fast:
                if slot.ring_len and not self._check_update(slot):
                    # A ticker due now disagrees: from here on the Python check decides.
                    self._flush()
                    slot.check_fast = False
                    check.on_update(book, slot.update_id)  # no verdict: nothing was in doubt
            elif check.watching:
                verdicts = check.on_update(book, slot.update_id)
                if verdicts:
                    self._flush()
                    self._disarm()
                    self.engine._mismatches(row.record(self, r), slot.state, verdicts, out)
                    self._arm_engine()
                    if not self._arm(slot):
                        return 0  # (cannot happen: a verdict changes no sync state)
                elif not check._doubts and check.history is None:
                    self._import_check(slot)  # nothing in doubt any more: back to C
        if slot.changes_key is not None:
            self.noticed = True
            self.changed = slot.changes_key
        if moved and slot.top:
            self.noticed = True
            self.top_moved = True
        if not moved:
            if self.episodes_open and slot.pairs and slot.synced:
                self._python_evaluate(slot, recv_ns, seq, out)
            return 0
        if b.n != 0 and a.n != 0 and b.K[b.n - 1] >= -a.K[a.n - 1]:
            self._python_crossed(slot, row, r, out)
        elif slot.pairs:
            self._evaluate(slot, recv_ns, seq, out)
        return 0

    cdef int _evaluate(self, _LaneSlot slot, long long recv_ns, long long seq, list out) except -1:
        """``ArbitrageTracker.evaluate`` while no episode is open and none opens."""
        cdef _LanePair pair
        cdef _Side asks
        cdef _Side bids
        cdef double cost
        cdef double edges[_MAX_PAIRS]
        cdef Py_ssize_t k = 0
        if self.episodes_open or len(slot.pairs) > _MAX_PAIRS:
            return self._python_evaluate(slot, recv_ns, seq, out)
        for pair in slot.pairs:
            if not pair.ok:
                if pair.key is None:
                    continue  # a book of the pair is not synced: the tracker skips it
                return self._python_evaluate(slot, recv_ns, seq, out)
            asks = pair.buy._asks
            bids = pair.sell._bids
            if asks.n == 0 or bids.n == 0:
                continue
            cost = -asks.K[asks.n - 1] * (1.0 + pair.fee_buy)
            edges[k] = (bids.K[bids.n - 1] * (1.0 - pair.fee_sell) - cost) / cost * 1e4
            if edges[k] > self.threshold:
                return self._python_evaluate(slot, recv_ns, seq, out)
            k += 1
        k = 0
        for pair in slot.pairs:
            if not pair.ok:
                continue
            if pair.buy._asks.n == 0 or pair.sell._bids.n == 0:
                continue
            pair.latest.edge = edges[k]
            pair.latest.priced = True
            k += 1
        return 0

    # ------------------------------------------------------------------ Python's turns

    cdef int _python_row(self, _Batch row, Py_ssize_t r, list out) except -1:
        """The whole row through ``Engine.on_records``."""
        self._flush()
        self._disarm()
        self.python_rows += 1
        self.noticed = True
        out.extend(self.engine.on_records((row.record(self, r),)))
        return 0

    cdef int _tick(self, _Batch row, Py_ssize_t r, long long recv_ns, list out) except -1:
        """A quote interval ended before row ``r``: the engine's ``_tick``. It quotes
        dirty books and flags stale ones, and changes nothing the lane keeps (ids,
        connections, sync states, pairs), so the slots stay armed; in C when it can
        (``_fast_tick``)."""
        cdef _LaneSlot slot
        self.ticks += 1
        engine = self.engine
        if not (self.quote_rows and self._fast_tick(recv_ns, out)):
            self._flush()
            if self.quote_rows:
                self._quote_tick(row, r, recv_ns, out)
            else:
                engine._tick(row.record(self, r), out)
            for slot in self.slots:  # what that tick changed of the armed books' states
                if slot.armed:
                    slot.dirty = slot.state.dirty
                    slot.stale_reported = slot.state.stale_reported
        # Python's floor division, as ``Engine.on_records`` computes it
        engine._next_tick = (<object>recv_ns // engine._interval + 1) * engine._interval
        self.next_tick = engine._next_tick
        return 0

    cdef int _quote_tick(self, _Batch row, Py_ssize_t r, long long recv_ns, list out) except -1:
        """``Engine._tick`` with ``engine.quote_rows``: the same books in the same order,
        each quote a row of the ``QuoteRows`` at the end of ``out`` (one is added when
        ``out`` ends with anything else) unless ``QuoteRows.add`` cannot hold it, when
        it is the engine's ``Quote``; staleness is the engine's own check."""
        engine = self.engine
        stale_before = recv_ns - engine.config.stale_after_ns
        rec = None
        for state in engine._books.values():
            if state.dirty and not self._quote_row(state, out):
                out.append(engine._quote(state))
            last = state.last_recv_ns
            if (
                last is not None
                and last < stale_before
                and not state.stale_reported
                and state.synced
            ):
                if rec is None:
                    rec = row.record(self, r)
                engine._report_stale(rec, state, out)
        return 0

    cdef bint _quote_row(self, state, list out) except -1:
        """``state``'s quote as a row (see ``_quote_tick``); False when it is not one."""
        book = state.book
        if type(book) is not Book:
            return False
        venue = state.venue
        last = state.last_recv_ns
        exch = state.exch_ns
        if not _fits_int64(exch):
            return False
        key = self.quote_keys.of(venue.label, venue.exchange, state.symbol, state.market)
        if not self._add_quote_row(
            <Book>book, state.sizes, last if last is not None else 0, state.last_seq, key,
            exch is not None, exch if exch is not None else 0, out,
        ):
            return False
        state.dirty = False
        return True

    cdef bint _add_quote_row(self, Book book, tuple sizes, long long last, long long seq,
                             int32_t key, bint has_exch, long long exch, list out) except -1:
        """A quote row in the ``QuoteRows`` at the end of ``out`` (a new one when ``out``
        ends with anything else); False when the row cannot hold that quote."""
        cdef QuoteRows block = self.quote_block
        cdef bint fresh = block is None or not out or out[len(out) - 1] is not block
        if fresh:
            block = QuoteRows(self.quote_keys)
        if not block.add_row(book, sizes, self.depth, last, seq, key, has_exch, exch):
            return False
        if fresh:
            self.quote_block = block
            out.append(block)
        return True

    cdef bint _fast_tick(self, long long recv_ns, list out) except -1:
        """``_quote_tick`` from the slots' mirrors, with no write-back before it, when
        every book of the engine is an armed slot and none turns stale now (Python words
        that); False otherwise, when the caller writes back and runs ``_quote_tick``,
        which then quotes what this did not (the books it quoted are no longer dirty)."""
        cdef _LaneSlot slot
        cdef long long stale_before
        if not self.has_stale_after or not self._tick_plan_ready():
            return False
        if len(self.tick_plan) != len(self.engine._books):
            self.tick_plan = None
            return False
        if __builtin_ssubll_overflow(recv_ns, self.stale_after, &stale_before):
            return False
        for slot in self.tick_plan:
            if (
                slot.has_last
                and slot.last_recv_ns < stale_before
                and not slot.stale_reported
                and slot.synced
            ):
                return False
        for slot in self.tick_plan:
            if not slot.dirty:
                continue
            if not self._add_quote_row(
                slot.book, slot.sizes, slot.last_recv_ns if slot.has_last else 0,
                slot.last_seq, slot.quote_key, slot.has_exch, slot.exch_ns, out,
            ):
                return False
            slot.dirty = False
            slot.quoted = True
        self.fast_ticks += 1
        return True

    cdef bint _tick_plan_ready(self) except -1:
        """Is ``tick_plan`` known? Found again when a slot was armed since it was lost."""
        cdef _LaneSlot slot
        cdef _LaneSlot found
        if self.tick_plan is not None:
            return True
        if self.plan_arms == self.arms:
            return False
        self.plan_arms = self.arms
        plan = []
        for state in self.engine._books.values():
            found = None
            for slot in self.slots:
                if slot.armed and slot.state is state:
                    found = slot
                    break
            if found is None or not found.tick_ok:
                return False
            plan.append(found)
        self.tick_plan = plan
        return True

    cdef int _python_evaluate(self, _LaneSlot slot, long long recv_ns, long long seq, list out) except -1:
        self._flush()
        self._disarm()
        self.engine.arbitrage.evaluate(slot.state.pairs, recv_ns, seq, out)
        self._arm_engine()
        return 0

    cdef int _python_crossed(self, _LaneSlot slot, _Batch row, Py_ssize_t r, list out) except -1:
        self._flush()
        self._disarm()
        engine = self.engine
        rec = row.record(self, r)
        engine._crossed(rec, engine._decoders[rec.exchange], slot.state, slot.symbol, out)
        self._arm_engine()
        return 0

    # ------------------------------------------------------------------ arming

    cdef int _exchange(self, name) except -1:
        index = self.exchange_index.get(name)
        if index is None:
            index = self.exchange_index[name] = len(self.exchange_names)
            self.exchange_names.append(name)
            self.exchange_venue.append(self.venue_kind.get(name, _VENUE_OTHER))
        return index

    cdef long long _run_id(self, name) except -2:
        if name is None:
            return -1
        run_id = self.run_ids.get(name)
        if run_id is None:
            run_id = self.run_ids[name] = len(self.run_ids)
        return run_id

    cdef int _arm_engine(self) except -1:
        engine = self.engine
        self.observed_books = engine.observed_books
        self.observed = engine.observer is not None and self.observed_books is None
        self.top_books = engine.top_books
        self.changed_books = engine.changed_books
        tick = engine._next_tick
        self.has_tick = tick is not None
        self.next_tick = tick if tick is not None else 0
        self.interval = engine._interval
        self.quote_rows = engine.quote_rows
        self.depth = engine.config.imbalance_levels
        stale_after = engine.config.stale_after_ns
        self.has_stale_after = 0 <= stale_after <= _INT64_MAX
        self.stale_after = stale_after if self.has_stale_after else 0
        self.episodes_open = bool(engine.arbitrage.opened)
        self.threshold = engine.arbitrage.threshold_bps
        self.engine_armed = True
        return 0

    cdef _LaneSlot _slot(self, int ex, const unsigned char* name, Py_ssize_t size):
        """The armed slot of book (exchange ``ex``, symbol ``name``), or None when that
        book is not one the lane may update now."""
        cdef _LaneSlot slot
        for slot in self.slots:
            if (
                slot.exchange == ex
                and PyBytes_GET_SIZE(slot.symbol_bytes) == size
                and memcmp(PyBytes_AS_STRING(slot.symbol_bytes), name, size) == 0
            ):
                if slot.armed or (not slot.watched and self._arm(slot)):
                    return slot
                return None  # (a watched book's rows are Python's: not worth arming)
        try:
            symbol = (<const char*>name)[:size].decode("utf-8")
        except UnicodeDecodeError:
            return None
        slot = _LaneSlot()
        slot.exchange = ex
        slot.symbol = symbol
        slot.symbol_bytes = symbol.encode("utf-8")
        self.slots.append(slot)
        if self._arm(slot):
            return slot
        return None

    cdef bint _arm(self, _LaneSlot slot) except -1:
        """Read the book's state from the engine and its decoder; False if the lane must
        leave this book to Python now (not live, watched by tickers, ...)."""
        cdef _LaneEdge latest
        engine = self.engine
        name = self.exchange_names[slot.exchange]
        decoder = engine._decoders.get(name)
        state = engine._books.get((name, slot.symbol))
        if decoder is None or state is None or type(state.book) is not Book:
            return False
        venue = self.exchange_venue[slot.exchange]
        if type(decoder) is not (self.binance_type if venue == _VENUE_BINANCE else self.coinbase_type):
            return False
        if venue == _VENUE_BINANCE:
            sync = decoder._syncs.get(slot.symbol)
            slot.max_span = decoder.max_update_span
        else:
            sync = decoder._products.get(slot.symbol)
        if sync is None or sync.state is not self.live or sync.conn is None:
            return False
        slot.check = state.check
        slot.decoder_exchange = decoder.exchange
        slot.has_trade = False
        self._import_check(slot)
        run, conn = sync.conn
        slot.run_id = self._run_id(run)
        slot.conn = conn
        slot.update_id = sync.update_id if venue == _VENUE_BINANCE else 0
        slot.book = state.book
        slot.state = state
        slot.sync = sync
        slot.synced = state.synced
        known = engine.arbitrage.last_edge
        slot.pairs = []
        for pair in state.pairs:
            lane_pair = _LanePair()
            lane_pair.buy = pair.buy.book
            lane_pair.sell = pair.sell.book
            lane_pair.fee_buy = pair.buy.fee
            lane_pair.fee_sell = pair.sell.fee
            lane_pair.ok = False
            lane_pair.key = None
            if pair.buy.synced and pair.sell.synced:
                lane_pair.key = pair.key
                latest = self.edges.get(pair.key)
                if latest is None:
                    latest = self.edges[pair.key] = _LaneEdge()
                    latest.key = pair.key
                lane_pair.latest = latest
                # A key the tracker has not priced yet goes to Python once, so its
                # ``last_edge`` keeps the tracker's insertion order.
                lane_pair.ok = (
                    pair.key in known
                    and type(lane_pair.buy) is Book
                    and type(lane_pair.sell) is Book
                )
            slot.pairs.append(lane_pair)
        self._watch(slot)
        slot.dirty = state.dirty
        slot.quoted = False
        slot.stale_reported = state.stale_reported
        last = state.last_recv_ns
        slot.has_last = last is not None
        slot.last_recv_ns = last if last is not None else 0
        slot.last_seq = state.last_seq
        exch = state.exch_ns
        slot.tick_ok = _fits_int64(exch)
        slot.has_exch = exch is not None and slot.tick_ok
        slot.exch_ns = exch if slot.has_exch else 0
        slot.sizes = state.sizes
        venue = state.venue
        slot.quote_key = self.quote_keys.of(venue.label, venue.exchange, state.symbol, state.market)
        slot.touched = False
        slot.armed = True
        self.arms += 1
        return True

    cdef _LaneConn _conn(self, int ex, long long run_id, long long conn):
        cdef _LaneConn c
        for c in self.conns:
            if c.exchange == ex and c.run_id == run_id and c.conn == conn:
                if not c.armed and not self._arm_conn(c):
                    return None
                return c
        run = None
        for name, value in self.run_ids.items():
            if value == run_id:
                run = name
                break
        c = _LaneConn()
        c.exchange = ex
        c.run_id = run_id
        c.conn = conn
        c.key = (run, conn)
        self.conns.append(c)
        if self._arm_conn(c):
            return c
        return None

    cdef bint _arm_conn(self, _LaneConn c) except -1:
        decoder = self.engine._decoders.get(self.exchange_names[c.exchange])
        if type(decoder) is not self.coinbase_type:
            return False
        last = decoder._last_seq.get(c.key)
        if last is None:
            return False
        c.last = last
        c.touched = False
        c.armed = True
        return True

    cdef int _flush(self) except -1:
        """Write back everything the lane changed since the last flush."""
        cdef _LaneSlot slot
        cdef _LaneConn c
        cdef _LaneEdge latest
        engine = self.engine
        if self.pending_records:
            engine._records += self.pending_records
            engine._book_updates += self.pending_updates
            engine._last_recv_ns = self.last_recv_ns
            engine._last_seq = self.last_seq
            self.pending_records = 0
            self.pending_updates = 0
        for slot in self.slots:
            if slot.quoted:
                slot.quoted = False
                slot.state.dirty = slot.dirty
            if not slot.touched:
                continue
            slot.touched = False
            sync = slot.sync
            state = slot.state
            if self.exchange_venue[slot.exchange] == _VENUE_BINANCE:
                sync.update_id = slot.update_id
                sync.stale.count = 0
            state.dirty = slot.dirty
            state.stale_reported = False
            state.last_recv_ns = slot.last_recv_ns
            state.last_seq = slot.last_seq
            state.update_id = slot.update_id
            state.exch_ns = slot.exch_ns if slot.has_exch else None
        if self.pending_trades:
            engine._stats["trades"] += self.pending_trades
            self.pending_trades = 0
        for slot in self.slots:
            if slot.check_fast and slot.check_touched:
                self._export_check(slot)
            if slot.has_trade:
                slot.has_trade = False
                slot.state.last_trade = self.trade(
                    slot.decoder_exchange,
                    slot.symbol,
                    slot.trade_price,
                    slot.trade_qty,
                    "sell" if slot.trade_maker else "buy",
                    str(slot.trade_id),
                    slot.trade_ms * 1000000 if slot.trade_has_ms else None,
                )
        last_edge = engine.arbitrage.last_edge
        for latest in self.edges.values():
            if latest.priced:
                latest.priced = False
                last_edge[latest.key] = latest.edge
        for c in self.conns:
            if c.touched:
                c.touched = False
                self.engine._decoders[self.exchange_names[c.exchange]]._last_seq[c.key] = c.last
        return 0

    cdef int _resume(self) except -1:
        """Start of a feed: keep the slots armed at the end of the last one unless the
        engine was fed since; read the engine's switches again (the caller may have
        changed which books it watches) and each slot's share of them."""
        cdef _LaneSlot slot
        engine = self.engine
        if engine._generation != self.generation:
            self._disarm()
        self._arm_engine()
        for slot in self.slots:
            self._watch(slot)
        return 0

    cdef int _mark_watched(self, _Batch b) except -1:
        """Which of the batch's symbols (by its ``symbol`` column) are books the observer
        watches, read at each feed (the caller may change them between feeds): their rows
        go to Python unparsed. Only a shortcut: a row whose column names another book is
        still parsed, and its slot is watched all the same."""
        cdef Py_ssize_t k
        flags = bytearray(len(b.symbol_values) + 1)
        if b.exchange is not None:
            for k, symbol in enumerate(b.symbol_values):
                flags[k] = self._observes(b.exchange, symbol)
        b.watched_flags = flags
        b.watched = flags
        return 0

    cdef int _watch(self, _LaneSlot slot) except -1:
        """The slot's share of the engine's switches (read by ``_arm_engine``): they
        change only between feeds, so this holds for armed and disarmed slots alike."""
        name = self.exchange_names[slot.exchange]
        key = (name, slot.symbol)
        slot.watched = self._observes(name, slot.symbol)
        slot.top = key in self.top_books
        slot.changes_key = key if key in self.changed_books else None
        return 0

    cdef bint _observes(self, exchange, symbol) except -1:
        """Must the engine's observer see every record of this book?"""
        return (
            self.engine.observer is not None
            and self.observed_books is not None
            and (exchange, symbol) in self.observed_books
        )

    cdef int _pause(self) except -1:
        """End of a feed: everything written back; the slots stay armed."""
        self._flush()
        self.generation = self.engine._generation
        return 0

    cdef void _disarm(self) noexcept:
        cdef _LaneSlot slot
        cdef _LaneConn c
        for slot in self.slots:
            slot.armed = False
        for c in self.conns:
            c.armed = False
        self.engine_armed = False
        self.tick_plan = None


@cython.final
cdef class _Batch:
    """A record batch as the lane reads it (``Lane.prepare``): pointers into its column
    buffers (kept alive by holding the batch and its arrays), and the RawRecord of a row
    on demand."""

    cdef object batch
    cdef object exchange
    cdef Py_ssize_t rows
    cdef bint python_only  # null keys: not a log the recorder writes, Python decides
    cdef readonly bint exported  # read from the C data interface export (``_read_export``)
    cdef list arrays  # everything the pointers point into
    cdef list exchange_values
    cdef list run_values
    cdef list kind_values
    cdef list stream_values
    cdef list symbol_values
    cdef const int64_t* recv
    cdef const int64_t* seq
    cdef const int32_t* conn
    cdef const int32_t* runs
    cdef const int32_t* kinds
    cdef const int32_t* streams
    cdef const int32_t* symbols
    cdef const int32_t* exchanges
    cdef const int32_t* offsets
    cdef const unsigned char* data
    cdef const unsigned char* valid_map  # the payload's validity bitmap, NULL: no null
    cdef Py_ssize_t valid_offset  # its first row's bit
    cdef int32_t* owned[5]  # index copies with -1 for nulls, freed with the batch
    cdef list ex_map  # exchange dictionary index -> lane exchange index
    cdef list run_map  # run dictionary index -> lane run id
    cdef bytearray kind_ws
    cdef bytearray stream_route  # stream dictionary index -> _ROUTE_*
    cdef int32_t* sel  # the selected rows' indices (a symbol filter), NULL: every row
    cdef bytearray watched_flags  # per symbol dictionary entry: a book the observer watches
    cdef unsigned char* watched  # = watched_flags, set by ``Lane._mark_watched`` per feed

    def __dealloc__(self):
        cdef int k
        free(self.sel)
        for k in range(5):
            free(self.owned[k])

    cdef inline Py_ssize_t row(self, Py_ssize_t r) noexcept:
        """The batch's own index of selected row ``r``."""
        return self.sel[r] if self.sel != NULL else r

    cdef inline bint has_payload(self, Py_ssize_t r) noexcept:
        """Is row ``r``'s payload not null?"""
        cdef Py_ssize_t bit
        if self.valid_map == NULL:
            return True
        bit = self.valid_offset + r
        return (self.valid_map[bit >> 3] >> (bit & 7)) & 1

    def __cinit__(self, Lane lane, exchange, batch, symbols=None):
        self.batch = batch
        self.exchange = exchange
        self.rows = batch.num_rows
        if not (self.rows and self._read_export(lane)):
            self._read_columns()
            if self.rows == 0:
                return
            self.ex_map = lane._decision(_COLUMN_EXCHANGE, self.exchange_values)
            self.run_map = lane._decision(_COLUMN_RUN, self.run_values)
            self.kind_ws = lane._decision(_COLUMN_KIND, self.kind_values)
            self.stream_route = lane._decision(_COLUMN_STREAM, self.stream_values)
        if symbols is not None:
            self._select(symbols)

    cdef bint _read_export(self, Lane lane) except -1:
        """The columns from the batch's C data interface export, when they have the
        shapes the recorder writes and the reader reads (int64/int32 keys without nulls,
        int32-indexed string dictionaries, a binary payload); False for anything else,
        which ``_read_columns`` reads through pyarrow. The dictionaries' strings come
        from ``_dictionary_strings`` (decoded once per distinct dictionary), what the
        lane makes of them from ``Lane._decision``, as on the pyarrow path."""
        cdef ArrowSchema* schema
        cdef ArrowArray* array
        cdef ArrowArray* column[_COLUMNS]
        cdef ArrowSchema* field[_COLUMNS]
        cdef Py_ssize_t k, c
        cdef int expect = _COLUMNS if self.exchange is None else _COLUMNS - 1
        exported = self.batch.__arrow_c_array__()
        schema = <ArrowSchema*>PyCapsule_GetPointer(exported[0], "arrow_schema")
        array = <ArrowArray*>PyCapsule_GetPointer(exported[1], "arrow_array")
        if strcmp(schema.format, "+s") != 0 or array.length != self.rows:
            return False
        for c in range(_COLUMNS):
            column[c] = NULL
            field[c] = NULL
        for k in range(schema.n_children):
            c = _column_role(schema.children[k].name)
            if c >= 0 and field[c] == NULL:
                field[c] = schema.children[k]
                column[c] = array.children[k]
                expect -= 1
        if expect != 0:
            return False
        for c in (_COLUMN_RECV, _COLUMN_SEQ, _COLUMN_CONN):
            if column[c].null_count != 0 and column[c].buffers[0] != NULL:
                return False  # null keys: ``_read_columns`` marks the batch Python's
        if not (
            strcmp(field[_COLUMN_RECV].format, "l") == 0
            and strcmp(field[_COLUMN_SEQ].format, "l") == 0
            and strcmp(field[_COLUMN_CONN].format, "i") == 0
            and strcmp(field[_COLUMN_PAYLOAD].format, "z") == 0
        ):
            return False
        for c in (_COLUMN_RUN, _COLUMN_KIND, _COLUMN_STREAM, _COLUMN_SYMBOL, _COLUMN_EXCHANGE):
            if field[c] != NULL and not _string_dictionary(field[c], column[c]):
                return False
        # The pointers stay valid while ``self.batch`` holds its buffers; the export is
        # released on return. Held with the batch, its bookkeeping (allocated from
        # Arrow's memory pool) pinned pool memory: 28 MB more peak RSS on the 1M log.
        self.arrays = []
        self.exported = True
        self.recv = (<const int64_t*>column[_COLUMN_RECV].buffers[1]) + column[_COLUMN_RECV].offset
        self.seq = (<const int64_t*>column[_COLUMN_SEQ].buffers[1]) + column[_COLUMN_SEQ].offset
        self.conn = (<const int32_t*>column[_COLUMN_CONN].buffers[1]) + column[_COLUMN_CONN].offset
        array = column[_COLUMN_PAYLOAD]
        self.offsets = (<const int32_t*>array.buffers[1]) + array.offset
        self.data = <const unsigned char*>array.buffers[2]
        if array.null_count != 0 and array.buffers[0] != NULL:
            self.valid_map = <const unsigned char*>array.buffers[0]
            self.valid_offset = array.offset
        self.runs = self._indices(column[_COLUMN_RUN], 0)
        self.kinds = self._indices(column[_COLUMN_KIND], 1)
        self.streams = self._indices(column[_COLUMN_STREAM], 2)
        self.symbols = self._indices(column[_COLUMN_SYMBOL], 3)
        self.run_values, self.run_map = lane._dictionary_values(_COLUMN_RUN, column[_COLUMN_RUN])
        self.kind_values, self.kind_ws = lane._dictionary_values(_COLUMN_KIND, column[_COLUMN_KIND])
        self.stream_values, self.stream_route = lane._dictionary_values(
            _COLUMN_STREAM, column[_COLUMN_STREAM]
        )
        self.symbol_values, _ = lane._dictionary_values(_COLUMN_SYMBOL, column[_COLUMN_SYMBOL])
        if self.exchange is None:
            self.exchanges = self._indices(column[_COLUMN_EXCHANGE], 4)
            self.exchange_values, self.ex_map = lane._dictionary_values(
                _COLUMN_EXCHANGE, column[_COLUMN_EXCHANGE]
            )
        else:
            self.exchange_values = [self.exchange]
            self.ex_map = lane._decision(_COLUMN_EXCHANGE, self.exchange_values)
        return True

    cdef const int32_t* _indices(self, ArrowArray* array, int slot) except NULL:
        """A dictionary column's int32 indices, -1 for null (in a copy when it has any)."""
        cdef const int32_t* indices = (<const int32_t*>array.buffers[1]) + array.offset
        cdef const unsigned char* valid = <const unsigned char*>array.buffers[0]
        cdef int32_t* copy
        cdef Py_ssize_t r, bit
        if array.null_count == 0 or valid == NULL:
            return indices
        copy = <int32_t*>malloc(self.rows * sizeof(int32_t))
        if copy == NULL:
            raise MemoryError()
        self.owned[slot] = copy
        for r in range(self.rows):
            bit = array.offset + r
            copy[r] = indices[r] if (valid[bit >> 3] >> (bit & 7)) & 1 else -1
        return copy

    cdef int _read_columns(self) except -1:
        """The columns through pyarrow: any shape ``_read_export`` declines."""
        cdef const signed char[::1] view
        batch = self.batch
        self.arrays = []
        recv_col = batch.column("recv_ns")
        seq_col = batch.column("seq")
        conn_col = batch.column("conn")
        payload_col = batch.column("payload")
        self.run_values, run_idx = _dictionary(batch.column("run"))
        self.kind_values, kind_idx = _dictionary(batch.column("kind"))
        self.stream_values, stream_idx = _dictionary(batch.column("stream"))
        self.symbol_values, symbol_idx = _dictionary(batch.column("symbol"))
        if self.exchange is None:
            self.exchange_values, exchange_idx = _dictionary(batch.column("exchange"))
        else:
            self.exchange_values, exchange_idx = [self.exchange], None
        self.arrays.extend((recv_col, seq_col, conn_col, payload_col, run_idx, kind_idx,
                            stream_idx, symbol_idx, exchange_idx))
        self.python_only = bool(
            recv_col.null_count or seq_col.null_count or conn_col.null_count or self.rows == 0
        )
        if self.rows == 0:
            return 0
        self.recv = _i64(recv_col.buffers()[1], recv_col.offset)
        self.seq = _i64(seq_col.buffers()[1], seq_col.offset)
        self.conn = _i32(conn_col.buffers()[1], conn_col.offset)
        self.runs = _i32(run_idx.buffers()[1], 0)
        self.kinds = _i32(kind_idx.buffers()[1], 0)
        self.streams = _i32(stream_idx.buffers()[1], 0)
        self.symbols = _i32(symbol_idx.buffers()[1], 0)
        if exchange_idx is not None:
            self.exchanges = _i32(exchange_idx.buffers()[1], 0)
        pbuffers = payload_col.buffers()
        self.offsets = _i32(pbuffers[1], payload_col.offset)
        if pbuffers[2] is not None and pbuffers[2].size:
            view = pbuffers[2]
            self.data = <const unsigned char*>&view[0]
            self.arrays.append(pbuffers[2])
        if payload_col.null_count:
            view = pbuffers[0]
            self.valid_map = <const unsigned char*>&view[0]
            self.valid_offset = payload_col.offset
            self.arrays.append(pbuffers[0])
        return 0

    cdef int _select(self, symbols) except -1:
        """Keep the rows of ``symbols`` and those without a symbol (``LogRead``'s
        filter): their indices in ``sel``, unless that is every row."""
        cdef bytearray flags = bytearray(len(self.symbol_values) + 1)
        cdef unsigned char* keep = flags  # per symbol dictionary entry
        cdef Py_ssize_t r, kept = 0
        cdef int32_t k
        for k, value in enumerate(self.symbol_values):
            keep[k] = value in symbols
        for r in range(self.rows):
            k = self.symbols[r]
            if k < 0 or keep[k]:
                kept += 1
        if kept == self.rows:
            return 0
        self.sel = <int32_t*>malloc((kept if kept else 1) * sizeof(int32_t))
        if self.sel == NULL:
            raise MemoryError()
        kept = 0
        for r in range(self.rows):
            k = self.symbols[r]
            if k < 0 or keep[k]:
                self.sel[kept] = <int32_t>r
                kept += 1
        self.rows = kept
        return 0

    @property
    def num_rows(self):
        """Rows to feed: the selected ones."""
        return self.rows

    cdef object record(self, Lane lane, Py_ssize_t r):
        batch = self.batch
        if self.python_only:
            return lane.record(
                batch.column("recv_ns")[r].as_py(),
                self.exchange if self.exchange is not None
                else _value(self.exchange_values, self.arrays[8], r),
                _value(self.run_values, self.arrays[4], r),
                batch.column("conn")[r].as_py(),
                batch.column("seq")[r].as_py(),
                _value(self.kind_values, self.arrays[5], r),
                _value(self.stream_values, self.arrays[6], r),
                _value(self.symbol_values, self.arrays[7], r),
                batch.column("payload")[r].as_py(),
            )
        exchange = self.exchange
        if exchange is None:
            exchange = _at(self.exchange_values, self.exchanges[r])
        if not self.has_payload(r):
            payload = None
        else:
            payload = PyBytes_FromStringAndSize(
                <const char*>self.data + self.offsets[r], self.offsets[r + 1] - self.offsets[r]
            )
        return lane.record(
            self.recv[r],
            exchange,
            _at(self.run_values, self.runs[r]),
            self.conn[r],
            self.seq[r],
            _at(self.kind_values, self.kinds[r]),
            _at(self.stream_values, self.streams[r]),
            _at(self.symbol_values, self.symbols[r]),
            payload,
        )

    def recv_ns(self, Py_ssize_t r):
        """``recv_ns`` of (selected) row ``r``."""
        if self.python_only:
            return self.batch.column("recv_ns")[self.row(r)].as_py()
        return self.recv[self.row(r)]


cdef inline object _at(list values, int32_t k):
    return values[k] if k >= 0 else None


cdef inline object _value(list values, indices, Py_ssize_t r):
    cdef const int32_t* index = _i32(indices.buffers()[1], 0)
    cdef int32_t k = index[r]
    return values[k] if k >= 0 else None


def _dictionary(column):
    """(values, int32 indices with -1 for null) of a string column, dictionary or not;
    the few distinct values interned, as the reader's RawRecords have them."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from sys import intern

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    values = [intern(v) if type(v) is str else v for v in column.dictionary.to_pylist()]
    indices = column.indices
    if indices.null_count:
        # -1 (all bits set, any signed width) as a scalar taken from an array made of
        # its bytes: ``pa.scalar`` would import pandas on its first call (0.35 s).
        width = indices.type.bit_width // 8
        minus_one = pa.Array.from_buffers(indices.type, 1, [None, pa.py_buffer(b"\xff" * width)])
        indices = pc.fill_null(indices, minus_one[0])
    if indices.type != pa.int32():
        indices = indices.cast(pa.int32())
    if indices.offset:
        indices = pa.concat_arrays([indices])  # a fresh buffer from index 0
    return values, indices
