"""Cross-venue taker arbitrage: buy on one venue and sell on the other, both IOC, when the
net edge after taker fees clears a threshold, sized by what both books can take.

The rule is the engine's own episode rule, so a backtest of this strategy measures what
the engine's arbitrage episodes would have paid: an episode (per direction) opens when
the touch edge ``bid_sell*(1-fee_sell) - ask_buy*(1+fee_buy)``, relative to the cash
spent, exceeds ``threshold_bps`` while both books are synced, and closes when it falls
back or a book stops being synced. At each opening the strategy walks both books with
exact decimals (lift the asks, hit the bids, while the marginal unit still profits after
both fees) and sends the two IOC orders with the walk's size and its worst prices as
limits. It trades once per episode.

    xle backtest examples/taker_arbitrage.py:TakerArbitrage --from … --to … \\
        --param a=binance:BTCUSDT --param b=coinbase:BTC-USD
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from xle import Strategy, load_config


@dataclass
class Episode:
    """One opening the strategy traded (``pnl`` in quote currency, fees included)."""

    start_ns: int
    buy: str  # "exchange:SYMBOL"
    sell: str
    size: Decimal
    expected: Decimal  # the walk's profit when the orders were sent
    orders: tuple[int, int]
    pnl: Decimal = Decimal(0)
    filled: dict[str, Decimal] = field(
        default_factory=lambda: {"buy": Decimal(0), "sell": Decimal(0)}
    )


def _split(label: str) -> tuple[str, str]:
    exchange, sep, symbol = label.partition(":")
    if not sep:
        raise ValueError(f"a venue is exchange:SYMBOL, not {label!r}")
    return exchange, symbol


class TakerArbitrage(Strategy):
    """Parameters: ``a``, ``b`` the two books (``exchange:SYMBOL``, same canonical market);
    ``threshold_bps`` the net edge to clear (default: the config's ``arb_threshold_bps``);
    ``max_size`` a cap on the base quantity per episode; ``depth`` the levels walked;
    ``config`` an engine config TOML for the fees (default: the built-in one)."""

    def __init__(
        self,
        a: str = "binance:BTCUSDT",
        b: str = "coinbase:BTC-USD",
        threshold_bps: float | None = None,
        max_size: str | float | None = None,
        depth: int = 100,
        config: str | None = None,
    ) -> None:
        cfg = load_config(config)
        self.venues = (_split(a), _split(b))
        markets = [cfg.market_of(exchange, symbol) for exchange, symbol in self.venues]
        if markets[0] != markets[1]:
            raise ValueError(
                f"{a} is {markets[0]} but {b} is {markets[1]}: both books must trade one market"
            )
        self.threshold_bps = cfg.arb_threshold_bps if threshold_bps is None else threshold_bps
        self.max_size = None if max_size is None else Decimal(str(max_size))
        self.depth = depth
        self.fee = {ex: cfg.fee(ex) for ex, _ in self.venues}
        self.fee_dec = {ex: Decimal(repr(fee)) for ex, fee in self.fee.items()}
        # Enough of both assets on both venues that no opening is refused for balance.
        self.balances = {}
        for exchange, symbol in self.venues:
            base, quote = cfg.assets_of(exchange, symbol) or ("", "")
            self.balances.setdefault(exchange, {}).update({base: "5", quote: "10000000"})
        self.open: set[tuple[str, str]] = set()  # directions (buy label, sell label) in an episode
        self.episodes: list[Episode] = []
        self._episode_of: dict[int, Episode] = {}

    def on_start(self, ctx) -> None:
        for exchange, symbol in self.venues:
            ctx.subscribe(exchange, symbol, events=("book",))

    def on_book(self, ctx, book) -> None:
        (ea, sa), (eb, sb) = self.venues
        first, second = ctx.book(ea, sa), ctx.book(eb, sb)
        if first is None or second is None:
            return
        self._direction(ctx, first, second)
        self._direction(ctx, second, first)

    def _direction(self, ctx, buy, sell) -> None:
        key = (f"{buy.exchange}:{buy.symbol}", f"{sell.exchange}:{sell.symbol}")
        ask, bid = buy.best_ask, sell.best_bid
        if not (buy.synced and sell.synced) or ask is None or bid is None:
            self.open.discard(key)
            return
        fee_buy, fee_sell = self.fee[buy.exchange], self.fee[sell.exchange]
        cost = ask * (1.0 + fee_buy)
        edge = (bid * (1.0 - fee_sell) - cost) / cost * 1e4
        if edge <= self.threshold_bps:
            self.open.discard(key)
            return
        if key in self.open:
            return
        self.open.add(key)
        size, profit, worst_ask, worst_bid = self._walk(buy, sell)
        if size <= 0:
            return
        buy_id = ctx.buy(buy.exchange, buy.symbol, size, limit=worst_ask, tif="IOC")
        sell_id = ctx.sell(sell.exchange, sell.symbol, size, limit=worst_bid, tif="IOC")
        episode = Episode(ctx.now_ns, key[0], key[1], size, profit, (buy_id, sell_id))
        self.episodes.append(episode)
        self._episode_of[buy_id] = self._episode_of[sell_id] = episode

    def _walk(self, buy, sell) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(size, profit, worst ask, worst bid) of lifting ``buy``'s asks and hitting
        ``sell``'s bids while the marginal unit profits after both taker fees."""
        up = 1 + self.fee_dec[buy.exchange]
        down = 1 - self.fee_dec[sell.exchange]
        asks = [(Decimal(p), Decimal(q)) for p, q in buy.levels("ask", self.depth)]
        bids = [(Decimal(p), Decimal(q)) for p, q in sell.levels("bid", self.depth)]
        size = profit = Decimal(0)
        worst_ask = worst_bid = Decimal(0)
        i = j = 0
        ask_left = asks[0][1] if asks else Decimal(0)
        bid_left = bids[0][1] if bids else Decimal(0)
        cap = self.max_size
        while i < len(asks) and j < len(bids):
            ask, bid = asks[i][0], bids[j][0]
            unit = bid * down - ask * up
            if unit <= 0:
                break
            qty = min(ask_left, bid_left)
            if cap is not None:
                qty = min(qty, cap - size)
                if qty <= 0:
                    break
            size += qty
            profit += qty * unit
            worst_ask, worst_bid = ask, bid
            ask_left -= qty
            bid_left -= qty
            if ask_left <= 0:
                i += 1
                ask_left = asks[i][1] if i < len(asks) else Decimal(0)
            if bid_left <= 0:
                j += 1
                bid_left = bids[j][1] if j < len(bids) else Decimal(0)
        return size, profit, worst_ask, worst_bid

    def on_fill(self, ctx, fill) -> None:
        episode = self._episode_of.get(fill.order_id)
        if episode is None:
            return
        notional = fill.price * fill.qty
        if fill.side == "buy":
            episode.pnl -= notional + fill.fee
        else:
            episode.pnl += notional - fill.fee
        episode.filled[fill.side] += fill.qty
