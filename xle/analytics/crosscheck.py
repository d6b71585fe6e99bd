"""The venue's own top of book against the book xle rebuilt from diffs.

Binance ``bookTicker`` and Coinbase ``ticker`` publish each venue's best bid and ask
with their sizes. They are never applied to a book: they are an independent witness of
it. A rebuilt book that agrees with them at the matching point is right at the touch; one
that keeps disagreeing has silently gone wrong (a lost update no sequence number caught,
a decoding bug) even though every continuity rule held.

The matching point:

* Binance names it: ``u`` is the update id of the book the ticker reflects. The ticker
  waits until the book's last applied id reaches ``u`` and is compared then. A depth
  event covers a range of ids, so the book often jumps past ``u`` without stopping on
  it: such a ticker is *unmatched*, never counted as agreeing or not.
* Coinbase names none: the ticker's best prices are compared with the book as it stands
  on arrival, and with its last ``UNLABELLED_HISTORY`` states before that (on the real
  capture a ticker lags or leads its ``l2_data`` channel by messages either way).

A ticker that disagrees at its matching point gets ``TOLERANCE`` more updates of its book
to agree (the two streams are separate, and may be a few messages apart); it is then
*nearby*, and counted as agreeing, like a Coinbase ticker matching a recent state. One
that still disagrees is a *disagreement*, reported as a ``top_of_book_mismatch``
integrity event. Tickers that arrive while the book is unsynced, or that are pending
when it resets or the data ends, are unmatched.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from xle._native.book import Book, format_decimal
from xle.records import TopOfBook

__all__ = ["MAX_PENDING", "TOLERANCE", "CrossCheck", "Verdict"]

#: Book updates a disagreeing ticker waits for the book to agree with it, and a Binance
#: ticker waits for the book to reach its ``u``.
TOLERANCE = 3

#: Book states a ticker without an update id (Coinbase) may match before its arrival. Such
#: a ticker is compared by best prices only: on the real capture its sizes often match no
#: state of the ``l2_data`` book at all (the ticker is sent with each trade, the level
#: sizes in batches), and it lags the book by up to a few dozen messages.
UNLABELLED_HISTORY = 32

#: Tickers waiting for their book at most, per book; older ones are dropped unmatched.
MAX_PENDING = 4096


@dataclass(slots=True)
class _Waiting:
    ticker: TopOfBook
    left: int  # book updates still allowed before it is judged


@dataclass(slots=True)
class Verdict:
    """A ticker the book did not come to agree with: what the venue said, what the book
    showed when the tolerance ran out."""

    ticker: TopOfBook
    book: _Top

    def detail(self) -> str:
        t = self.ticker
        venue = _top(t.bid, t.bid_size, t.ask, t.ask_size)
        where = f" (u={t.update_id})" if t.update_id is not None else ""
        return (
            f"venue top of book {venue}{where} vs rebuilt book {_top(*self.book)} "
            f"after {TOLERANCE} more updates"
        )


def _number(value: float | None) -> str:
    return "-" if value is None else format_decimal(value)


def _top(
    bid: float | None, bid_size: float | None, ask: float | None, ask_size: float | None
) -> str:
    return f"{_number(bid_size)} @ {_number(bid)} / {_number(ask_size)} @ {_number(ask)}"


_Top = tuple[float | None, float | None, float | None, float | None]


def _book_top(book: Book) -> _Top:
    return book.best_bid(), book.best_bid_size(), book.best_ask(), book.best_ask_size()


def _ticker_top(ticker: TopOfBook) -> _Top:
    return ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size


def _prices(top: _Top) -> _Top:
    return top[0], None, top[2], None


def _agrees(ticker: TopOfBook, book: Book, prices_only: bool = False) -> bool:
    """Same best prices and sizes: both are the doubles of the venue's decimal strings."""
    if prices_only:
        return _prices(_ticker_top(ticker)) == _prices(_book_top(book))
    return _ticker_top(ticker) == _book_top(book)


@dataclass(slots=True)
class CrossCheck:
    """One book's tally of the venue's tops of book, and the tickers still pending."""

    tickers: int = 0  # every ticker seen for the book
    agreed: int = 0  # matched by the book at their point or within the tolerance
    nearby: int = 0  # of those, matched a few book updates away from their point
    disagreed: int = 0  # not matched within the tolerance: one integrity event each
    unmatched: int = 0  # never compared: no matching point, unsynced book, end of data
    updates: int = 0  # book updates seen while watching: the clock of the tolerances
    #: Binance tickers whose ``u`` the book has not reached: (ticker, last update allowed)
    _waiting: deque[tuple[TopOfBook, int]] = field(default_factory=deque)
    _doubts: list[_Waiting] = field(default_factory=list)  # disagreed once, being retried
    #: The book's last tops, kept for a venue whose tickers name no update id.
    history: deque[_Top] | None = None

    @property
    def compared(self) -> int:
        return self.agreed + self.disagreed

    @property
    def pending(self) -> bool:
        return bool(self._waiting or self._doubts)

    def on_ticker(self, ticker: TopOfBook, book: Book, book_id: int, synced: bool) -> None:
        """A ticker arrived; ``book_id`` is the book's last applied update id."""
        self.tickers += 1
        if not synced:
            self.unmatched += 1
            return
        u = ticker.update_id
        if u is None:
            history = self.history
            if history is None:
                history = self.history = deque(maxlen=UNLABELLED_HISTORY)
            top = _prices(_ticker_top(ticker))
            if top == _prices(_book_top(book)):
                self.agreed += 1
            elif top in history:
                self.agreed += 1
                self.nearby += 1
            else:
                self._doubts.append(_Waiting(ticker, TOLERANCE))
        elif u == book_id:
            self._compare(ticker, book)
        elif u < book_id:
            self.unmatched += 1  # the book is already past the ticker's point
        else:
            waiting = self._waiting
            if len(waiting) >= MAX_PENDING:
                waiting.popleft()
                self.unmatched += 1
            waiting.append((ticker, self.updates + TOLERANCE))

    def on_update(self, book: Book, book_id: int) -> list[Verdict]:
        """The book took an update: judge the tickers waiting for it. Returns the ones
        that disagreed for good."""
        verdicts: list[Verdict] = []
        self.updates += 1
        history = self.history
        if history is not None:
            history.append(_prices(_book_top(book)))
        doubts = self._doubts
        if doubts:
            kept: list[_Waiting] = []
            for doubt in doubts:
                if _agrees(doubt.ticker, book, doubt.ticker.update_id is None):
                    self.agreed += 1
                    self.nearby += 1
                    continue
                doubt.left -= 1
                if doubt.left > 0:
                    kept.append(doubt)
                else:
                    self.disagreed += 1
                    verdicts.append(Verdict(doubt.ticker, _book_top(book)))
            self._doubts = kept
        # Tickers arrive in ``u`` order, and each waits ``TOLERANCE`` updates at most:
        # only the oldest ones can be due.
        waiting = self._waiting
        updates = self.updates
        while waiting:
            ticker, last = waiting[0]
            u = ticker.update_id
            if u == book_id:
                waiting.popleft()
                self._compare(ticker, book)
            elif u < book_id or last <= updates:
                waiting.popleft()
                self.unmatched += 1  # the book jumped past ``u``, or never got there
            else:
                break
        return verdicts

    @property
    def watching(self) -> bool:
        """Does the book's every update matter: tickers wait, or its tops are kept."""
        return bool(self._waiting or self._doubts) or self.history is not None

    def drop_pending(self) -> None:
        """The book reset or the data ended: what still waits can never be judged."""
        self.unmatched += len(self._waiting) + len(self._doubts)
        self._waiting.clear()
        self._doubts.clear()
        if self.history is not None:
            self.history.clear()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tickers": self.tickers,
            "compared": self.compared,
            "agreed": self.agreed,
            "nearby": self.nearby,
            "disagreed": self.disagreed,
            "unmatched": self.unmatched,
        }

    def _compare(self, ticker: TopOfBook, book: Book) -> None:
        if _agrees(ticker, book):
            self.agreed += 1
        else:
            self._doubts.append(_Waiting(ticker, TOLERANCE))
