"""Book metrics (docs/design.md, "Metrics"), pure functions of one or two books.

- VWAP(side, q) = sum(p_i * q_i) / filled, walking levels from the best; buying walks the
  asks, selling walks the bids. If the side holds less than q, the filled quantity is
  reported and ``insufficient`` is set: never a price for a size the book cannot fill.
- Slippage is the VWAP's distance from the best price of the walked side, in bps,
  positive meaning worse for the trader.
- Imbalance top-N = (B - A) / (B + A) in [-1, 1], with B, A the summed sizes of the best N
  levels; the plain ratio B / A is reported too (the seed's definition).
"""

from __future__ import annotations

from collections.abc import Callable

from xle._native.book import COMPILED, Book, PyBook
from xle.records import VwapResult

__all__ = ["book_edge_bps", "executable_arbitrage", "imbalance", "net_edge_bps", "vwap"]

if COMPILED:
    from xle._native._fastbook import book_edge_bps as _compiled_edge
    from xle._native._fastbook import executable_arbitrage as _compiled_arbitrage
    from xle._native._fastbook import vwap as _compiled_vwap
else:
    _compiled_arbitrage = _compiled_edge = _compiled_vwap = None


def vwap(book: Book, side: str, size: float) -> VwapResult:
    """Walk-the-book price to buy (``side="buy"``) or sell ``size`` base units."""
    if _compiled_vwap is not None and type(book) is Book:
        return _compiled_vwap(book, side, size)
    return _vwap(book, side, size)


def vwap_function() -> Callable[[Book, str, float], VwapResult]:
    """``vwap`` without its dispatch, for a caller whose books are all ``Book`` (the
    engine walks every book four times a quote)."""
    return _compiled_vwap if _compiled_vwap is not None else _vwap


def _vwap(book: PyBook, side: str, size: float) -> VwapResult:
    """The pure-Python walk (the compiled one performs the same operations in order)."""
    if side == "buy":
        notional, remaining, best = book.walk(True, size)
    elif side == "sell":
        notional, remaining, best = book.walk(False, size)
    else:
        raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
    filled = size - remaining
    if best is None or filled <= 0.0:
        return VwapResult(side, size, None, 0.0, None, size > 0.0)
    price = notional / filled
    slippage = (price - best) / best if side == "buy" else (best - price) / best
    return VwapResult(side, size, price, filled, slippage * 1e4, remaining > 0.0)


def imbalance(book: Book, depth: int) -> tuple[float | None, float | None]:
    """((B - A) / (B + A), B / A) over the best ``depth`` levels; None when undefined."""
    bid_total, ask_total = book.depth_sums(depth)
    total = bid_total + ask_total
    if total <= 0.0:
        return None, None
    ratio = bid_total / ask_total if ask_total > 0.0 else None
    return (bid_total - ask_total) / total, ratio


def net_edge_bps(ask: float, fee_buy: float, bid: float, fee_sell: float) -> float:
    """Net edge of buying at ``ask`` and selling at ``bid`` after taker fees, in bps.

    ``bid*(1-fee_sell) - ask*(1+fee_buy)`` relative to the cash spent, ``ask*(1+fee_buy)``.
    """
    cost = ask * (1.0 + fee_buy)
    return (bid * (1.0 - fee_sell) - cost) / cost * 1e4


def book_edge_bps(buy_book: Book, fee_buy: float, sell_book: Book, fee_sell: float) -> float | None:
    """``net_edge_bps`` at the touch: lift ``buy_book``'s best ask, hit ``sell_book``'s
    best bid; None when either side is empty."""
    if _compiled_edge is not None and type(buy_book) is Book and type(sell_book) is Book:
        return _compiled_edge(buy_book, fee_buy, sell_book, fee_sell)
    return _book_edge_bps(buy_book, fee_buy, sell_book, fee_sell)


def _book_edge_bps(
    buy_book: PyBook, fee_buy: float, sell_book: PyBook, fee_sell: float
) -> float | None:
    """The pure-Python touch edge (the compiled one performs the same operations)."""
    ask = buy_book.best_ask()
    bid = sell_book.best_bid()
    if ask is None or bid is None:
        return None
    return net_edge_bps(ask, fee_buy, bid, fee_sell)


def edge_function() -> Callable[[Book, float, Book, float], float | None]:
    """``book_edge_bps`` without its dispatch, for a caller whose books are all ``Book``
    (the engine prices pairs on every top-of-book move; the check costs a Python call)."""
    return _compiled_edge if _compiled_edge is not None else _book_edge_bps


def executable_arbitrage(
    buy_book: Book, fee_buy: float, sell_book: Book, fee_sell: float
) -> tuple[float, float]:
    """(size, profit): lift ``buy_book``'s asks and hit ``sell_book``'s bids together while
    the marginal unit still profits after both taker fees. Profit is in quote currency."""
    if _compiled_arbitrage is not None and type(buy_book) is Book and type(sell_book) is Book:
        return _compiled_arbitrage(buy_book, fee_buy, sell_book, fee_sell)
    return _executable_arbitrage(buy_book, fee_buy, sell_book, fee_sell)


def _executable_arbitrage(
    buy_book: PyBook, fee_buy: float, sell_book: PyBook, fee_sell: float
) -> tuple[float, float]:
    """The pure-Python walk (the compiled one performs the same operations in order)."""
    asks = buy_book.ask_prices()
    bids = sell_book.bid_prices()
    ask_levels = buy_book.asks
    bid_levels = sell_book.bids
    ask = next(asks, None)
    bid = next(bids, None)
    if ask is None or bid is None:
        return 0.0, 0.0
    ask_left = ask_levels[ask]
    bid_left = bid_levels[bid]
    size = 0.0
    profit = 0.0
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
            ask = next(asks, None)
            if ask is None:
                break
            ask_left = ask_levels[ask]
        if bid_left <= 0.0:
            bid = next(bids, None)
            if bid is None:
                break
            bid_left = bid_levels[bid]
    return size, profit
