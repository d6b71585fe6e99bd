"""Cross-venue arbitrage episodes per canonical market and ordered venue pair.

An episode for (buy on A, sell on B) opens when the net edge after taker fees,
``bid_B*(1-fee_B) - ask_A*(1+fee_A)`` relative to ``ask_A*(1+fee_A)``, exceeds the
threshold, and closes when it falls back to it or below, or when either book stops being
synced. While open, the tracker walks both books on every update of either (a change of
a touch size or of a deeper level changes what can be executed even when no best price
moves) and keeps the most profitable executable size it saw: the size a taker could have
bought on A and sold on B while the marginal unit still profited after both fees.
"""

from __future__ import annotations

from dataclasses import dataclass

from xle._native.book import Book
from xle.analytics.metrics import edge_function, executable_arbitrage
from xle.records import ArbitrageEpisode

__all__ = ["ArbitrageTracker", "Pair", "Venue", "pairs_between"]

_edge_bps = edge_function()


@dataclass(slots=True)
class Venue:
    """One book taking part in a canonical market."""

    label: str  # "exchange:SYMBOL"
    exchange: str
    book: Book
    fee: float
    synced: bool = False  # only a synced book is priced against the others


@dataclass(frozen=True, slots=True)
class Pair:
    """One direction of arbitrage between two venues of a market: buy on ``buy``, sell
    on ``sell``. Built once per pair so pricing it allocates nothing."""

    key: tuple[str, str, str]  # (market, buy label, sell label)
    buy: Venue
    sell: Venue


def pairs_between(market: str, venue: Venue, other: Venue) -> tuple[Pair, Pair]:
    """Both directions between two venues, ``venue`` buying first."""
    return (
        Pair((market, venue.label, other.label), venue, other),
        Pair((market, other.label, venue.label), other, venue),
    )


@dataclass(slots=True)
class _Open:
    start_ns: int
    edge_bps: float
    peak_edge_bps: float
    size: float
    profit: float


class ArbitrageTracker:
    def __init__(self, threshold_bps: float) -> None:
        self.threshold_bps = threshold_bps
        #: Open episodes by pair key; the engine re-prices on every update while any is.
        self.opened: dict[tuple[str, str, str], _Open] = {}
        self.last_edge: dict[tuple[str, str, str], float] = {}

    def open_episodes(self) -> list[tuple[str, str, str]]:
        return list(self.opened)

    def evaluate(
        self, pairs: list[Pair], recv_ns: int, seq: int, out: list[ArbitrageEpisode]
    ) -> None:
        """Re-price ``pairs`` (those of a book whose top of book moved, or of any updated
        book while an episode is open) whose two books are synced, appending episode
        changes to ``out``."""
        last_edge = self.last_edge
        opened = self.opened
        threshold = self.threshold_bps
        edge_bps = _edge_bps
        for pair in pairs:
            buy = pair.buy
            sell = pair.sell
            if not (buy.synced and sell.synced):
                continue
            edge = edge_bps(buy.book, buy.fee, sell.book, sell.fee)
            if edge is None:
                continue
            key = pair.key
            last_edge[key] = edge
            if edge > threshold or key in opened:
                self._reprice(key, buy, sell, edge, recv_ns, seq, out)

    def close_venue(
        self, market: str, label: str, recv_ns: int, seq: int, reason: str
    ) -> list[ArbitrageEpisode]:
        """``label``'s book stopped being trustworthy: close its open episodes."""
        out: list[ArbitrageEpisode] = []
        for key in [k for k in self.opened if k[0] == market and label in (k[1], k[2])]:
            out.append(self._close(key, recv_ns, seq, reason))
        for key in [k for k in self.last_edge if k[0] == market and label in (k[1], k[2])]:
            del self.last_edge[key]
        return out

    def finish(self, recv_ns: int, seq: int) -> list[ArbitrageEpisode]:
        return [self._close(key, recv_ns, seq, "end_of_data") for key in list(self.opened)]

    # ------------------------------------------------------------------ internals

    def _reprice(
        self,
        key: tuple[str, str, str],
        buy: Venue,
        sell: Venue,
        edge: float,
        recv_ns: int,
        seq: int,
        out: list[ArbitrageEpisode],
    ) -> None:
        """The edge of an open episode or above the threshold: open, update or close."""
        episode = self.opened.get(key)
        if edge > self.threshold_bps:
            size, profit = executable_arbitrage(buy.book, buy.fee, sell.book, sell.fee)
            if episode is None:
                self.opened[key] = _Open(recv_ns, edge, edge, size, profit)
                out.append(self._episode(key, self.opened[key], recv_ns, seq, None))
                return
            episode.edge_bps = edge
            if edge > episode.peak_edge_bps:
                episode.peak_edge_bps = edge
            if profit > episode.profit:
                episode.size = size
                episode.profit = profit
        elif episode is not None:
            episode.edge_bps = edge
            out.append(self._close(key, recv_ns, seq, "edge"))

    def _close(
        self, key: tuple[str, str, str], recv_ns: int, seq: int, reason: str
    ) -> ArbitrageEpisode:
        return self._episode(key, self.opened.pop(key), recv_ns, seq, reason)

    @staticmethod
    def _episode(
        key: tuple[str, str, str], episode: _Open, recv_ns: int, seq: int, close_reason: str | None
    ) -> ArbitrageEpisode:
        market, buy, sell = key
        closed = close_reason is not None
        return ArbitrageEpisode(
            recv_ns=recv_ns,
            seq=seq,
            market=market,
            buy_venue=buy,
            sell_venue=sell,
            status="closed" if closed else "open",
            start_ns=episode.start_ns,
            end_ns=recv_ns if closed else None,
            duration_ns=recv_ns - episode.start_ns if closed else None,
            edge_bps=episode.edge_bps,
            peak_edge_bps=episode.peak_edge_bps,
            executable_size=episode.size,
            profit=episode.profit,
            close_reason=close_reason,
        )
