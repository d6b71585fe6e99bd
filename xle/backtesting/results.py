"""What a backtest leaves behind: orders, fills, positions and equity as Arrow tables, a
summary, and a digest that proves two runs did the same thing.

``digest`` is the sha256 of the canonical orders-and-fills stream: one JSON line (sorted
keys, decimals as plain strings) per order sent, order update and fill, in the order the
strategy heard them. Same log, strategy, parameters and seed -> same digest, in one
process or many.

Money columns are ``decimal128(38, 18)``: exact, and DuckDB and pandas read them as
decimals. Equity is marked to mid (USD and USD stablecoins at 1) at an interval of
record time, in USD.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from xle.backtesting.types import Fill, OrderStatus, OrderUpdate
from xle.numfmt import trimmed

if TYPE_CHECKING:
    from xle.analytics.engine import Engine
    from xle.backtesting.execution import ExecutionSimulator, Ledger, Order
    from xle.config import EngineConfig

__all__ = [
    "BacktestResult",
    "Recorder",
    "canonical_line",
    "digest_of",
    "plain",
    "summary_row",
    "write_result",
]

DECIMAL = pa.decimal128(38, 18)
_QUANTUM = Decimal(1).scaleb(-18)

#: Decimals kept of the USD figures marked to float mids (equity, PnL, drawdown): a sum of
#: balance x mid near a million carries float noise around 1e-10, which would otherwise
#: print as a PnL of 0.017749999999068677 instead of 0.01775.
MONEY_PLACES = 8


def plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: ``Decimal("1.50E+2")`` -> "150"."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def canonical_line(item: Order | OrderUpdate | Fill) -> str:
    """One line of the digest's stream."""
    if isinstance(item, Fill):
        doc: dict[str, Any] = {
            "type": "fill",
            "id": item.fill_id,
            "order": item.order_id,
            "t": item.t_ns,
            "venue_t": item.venue_ns,
            "price": plain(item.price),
            "qty": plain(item.qty),
            "fee": plain(item.fee),
            "liquidity": item.liquidity,
        }
    elif isinstance(item, OrderUpdate):
        doc = {
            "type": "update",
            "order": item.order_id,
            "t": item.t_ns,
            "venue_t": item.venue_ns,
            "status": str(item.status),
            "reason": None if item.reason is None else str(item.reason),
            "filled": plain(item.filled),
        }
    else:
        doc = {
            "type": "order",
            "id": item.order_id,
            "t": item.sent_ns,
            "venue": f"{item.exchange}:{item.symbol}",
            "side": item.side,
            "qty": plain(item.qty),
            "limit": None if item.limit is None else plain(item.limit),
            "tif": item.tif,
        }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def digest_of(lines: Iterable[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


def _dec(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(_QUANTUM)


@dataclass
class BacktestResult:
    orders: pa.Table
    fills: pa.Table
    positions: pa.Table
    equity: pa.Table
    summary: dict[str, Any]
    digest: str
    params: dict[str, Any] = field(default_factory=dict)
    #: Mid of every book the strategy traded or subscribed, at each equity sample.
    mids: pa.Table | None = None
    #: Set when the result was written: its folder is ``derived/backtests/run=<run_id>``.
    run_id: str | None = None

    def summary_lines(self) -> list[str]:
        """The summary as a person reads it (``xle backtest`` prints these)."""
        s = self.summary
        lines = [
            f"orders {s['orders']:,} ({s['rejected']:,} rejected), fills {s['fills']:,}, "
            f"fill ratio {s['fill_ratio']:.2%}",
            f"pnl {trimmed(s['pnl'], 2)} USD  (equity {trimmed(s['initial_equity'], 2)} -> "
            f"{trimmed(s['final_equity'], 2)}), fees {trimmed(s['fees'], 2)}, "
            f"turnover {trimmed(s['turnover'], 2)}, max drawdown {trimmed(s['max_drawdown'], 2)}",
            f"digest {self.digest}",
        ]
        if self.params:
            lines.insert(0, "params " + ", ".join(f"{k}={v}" for k, v in self.params.items()))
        return lines


class Recorder:
    """Collects the run as it happens; ``result`` turns it into tables."""

    def __init__(self, config: EngineConfig, ledger: Ledger, interval_ns: int) -> None:
        self._config = config
        self._ledger = ledger
        self._interval = max(1, interval_ns)
        #: Record time of the next equity sample (None before the first): the runner
        #: checks it inline rather than calling ``sample`` for every record.
        self.next_sample_ns: int | None = None
        self._tracked: list[tuple[str, str]] = []
        self._lines: list[str] = []
        self._fills: list[Fill] = []
        self._updates: list[OrderUpdate] = []
        self._positions: dict[tuple[str, str], Decimal] = {}
        self._equity_rows: list[tuple[int, float | None]] = []
        self._balance_rows: list[tuple[int, str, str, Decimal]] = []
        self._mid_rows: list[tuple[int, str, str, float]] = []
        self._mids: dict[tuple[str, str], float] = {}
        self._initial_balances = dict(ledger.balances)
        self._initial_equity: float | None = None

    def track(self, exchange: str, symbol: str) -> None:
        if (exchange, symbol) not in self._tracked:
            self._tracked.append((exchange, symbol))

    def sent(self, order: Order) -> None:
        self._lines.append(canonical_line(order))

    def notice(self, notice: OrderUpdate | Fill) -> None:
        self._lines.append(canonical_line(notice))
        if type(notice) is Fill:
            self._fills.append(notice)
            key = (notice.exchange, notice.symbol)
            signed = notice.qty if notice.side == "buy" else -notice.qty
            self._positions[key] = self._positions.get(key, Decimal(0)) + signed
        else:
            self._updates.append(notice)

    def position(self, exchange: str, symbol: str) -> Decimal:
        return self._positions.get((exchange, symbol), Decimal(0))

    # ------------------------------------------------------------------ marking

    def sample(self, t_ns: int, engine: Engine, *, force: bool = False) -> None:
        if not force and self.next_sample_ns is not None and t_ns < self.next_sample_ns:
            return
        self.next_sample_ns = (t_ns // self._interval + 1) * self._interval
        for exchange, symbol in self._tracked:
            book = engine.book(exchange, symbol)
            if book is None or not engine.is_synced(exchange, symbol):
                continue
            bid, ask = book.top()
            if bid is not None and ask is not None:
                mid = (bid + ask) / 2.0
                self._mids[(exchange, symbol)] = mid
                self._mid_rows.append((t_ns, exchange, symbol, mid))
        self._equity_rows.append((t_ns, self._equity(self._ledger.balances)))
        if self._initial_equity is None:
            # The starting balances at the first prices known: a run that trades before
            # every book has a mid still measures its PnL from where it started.
            self._initial_equity = self._equity(self._initial_balances)
        for (exchange, asset), balance in sorted(self._ledger.balances.items()):
            self._balance_rows.append((t_ns, exchange, asset, balance))

    def _mark(self, exchange: str, asset: str) -> float | None:
        """USD value of one unit of ``asset``: 1 for USD-like, else the last mid of a
        tracked book with that base (on the same venue first)."""
        config = self._config
        if config.is_usd(asset):
            return 1.0
        fallback = None
        for (ex, symbol), mid in self._mids.items():
            assets = config.assets_of(ex, symbol)
            if assets is None or assets[0] != asset or not config.is_usd(assets[1]):
                continue
            if ex == exchange:
                return mid
            fallback = fallback if fallback is not None else mid
        return fallback

    def _equity(self, balances: dict[tuple[str, str], Decimal]) -> float | None:
        total = 0.0
        for (exchange, asset), balance in balances.items():
            if not balance:
                continue
            mark = self._mark(exchange, asset)
            if mark is None:
                return None
            total += float(balance) * mark
        return round(total, MONEY_PLACES)

    # ------------------------------------------------------------------ result

    def result(
        self, sim: ExecutionSimulator, orders: Iterable[Order], end_ns: int
    ) -> BacktestResult:
        orders = sorted(orders, key=lambda o: o.order_id)
        order_table = pa.table(
            {
                "order_id": pa.array([o.order_id for o in orders], pa.int64()),
                "sent_ns": pa.array([o.sent_ns for o in orders], pa.int64()),
                "done_ns": pa.array([o.done_ns for o in orders], pa.int64()),
                "exchange": [o.exchange for o in orders],
                "symbol": [o.symbol for o in orders],
                "side": [o.side for o in orders],
                "tif": [o.tif for o in orders],
                "qty": pa.array([_dec(o.qty) for o in orders], DECIMAL),
                "limit": pa.array([_dec(o.limit) for o in orders], DECIMAL),
                "status": [
                    "open" if o.status == OrderStatus.ACCEPTED else str(o.status) for o in orders
                ],
                "reason": [None if o.reason is None else str(o.reason) for o in orders],
                "filled": pa.array([_dec(o.filled) for o in orders], DECIMAL),
                "avg_price": pa.array(
                    [_dec(o.notional / o.filled) if o.filled else None for o in orders], DECIMAL
                ),
                "fees": pa.array([_dec(o.fees) for o in orders], DECIMAL),
            }
        )
        fills = self._fills
        fill_table = pa.table(
            {
                "fill_id": pa.array([f.fill_id for f in fills], pa.int64()),
                "order_id": pa.array([f.order_id for f in fills], pa.int64()),
                "t_ns": pa.array([f.t_ns for f in fills], pa.int64()),
                "venue_ns": pa.array([f.venue_ns for f in fills], pa.int64()),
                "exchange": pa.array([f.exchange for f in fills], pa.string()),
                "symbol": pa.array([f.symbol for f in fills], pa.string()),
                "side": pa.array([f.side for f in fills], pa.string()),
                "price": pa.array([_dec(f.price) for f in fills], DECIMAL),
                "qty": pa.array([_dec(f.qty) for f in fills], DECIMAL),
                "fee": pa.array([_dec(f.fee) for f in fills], DECIMAL),
                "fee_asset": pa.array([f.fee_asset for f in fills], pa.string()),
                "liquidity": pa.array([f.liquidity for f in fills], pa.string()),
            }
        )
        rows = self._balance_rows
        positions = pa.table(
            {
                "t_ns": pa.array([r[0] for r in rows], pa.int64()),
                "exchange": pa.array([r[1] for r in rows], pa.string()),
                "asset": pa.array([r[2] for r in rows], pa.string()),
                "balance": pa.array([_dec(r[3]) for r in rows], DECIMAL),
            }
        )
        equity = pa.table(
            {
                "t_ns": pa.array([r[0] for r in self._equity_rows], pa.int64()),
                "equity": pa.array([r[1] for r in self._equity_rows], pa.float64()),
            }
        )
        mids = pa.table(
            {
                "t_ns": pa.array([r[0] for r in self._mid_rows], pa.int64()),
                "exchange": pa.array([r[1] for r in self._mid_rows], pa.string()),
                "symbol": pa.array([r[2] for r in self._mid_rows], pa.string()),
                "mid": pa.array([r[3] for r in self._mid_rows], pa.float64()),
            }
        )
        return BacktestResult(
            order_table,
            fill_table,
            positions,
            equity,
            self._summary(orders, end_ns),
            digest_of(self._lines),
            mids=mids,
        )

    def _summary(self, orders: list[Order], end_ns: int) -> dict[str, Any]:
        values = [v for _, v in self._equity_rows if v is not None]
        initial = self._initial_equity if self._initial_equity is not None else 0.0
        final = values[-1] if values else initial
        peak, drawdown = initial, 0.0
        for value in values:
            peak = max(peak, value)
            drawdown = max(drawdown, round(peak - value, MONEY_PLACES))
        usd = self._config.is_usd
        fees = sum((f.fee for f in self._fills if usd(f.fee_asset)), Decimal(0))
        turnover = sum((f.price * f.qty for f in self._fills if usd(f.fee_asset)), Decimal(0))
        ordered = sum((o.qty for o in orders), Decimal(0))
        filled = sum((o.filled for o in orders), Decimal(0))
        return {
            "end_ns": end_ns,
            "orders": len(orders),
            "rejected": sum(1 for o in orders if o.status == OrderStatus.REJECTED),
            "fills": len(self._fills),
            "fill_ratio": float(filled / ordered) if ordered else 0.0,
            "initial_equity": initial,
            "final_equity": final,
            "pnl": round(final - initial, MONEY_PLACES),
            "fees": float(fees),
            "turnover": float(turnover),
            "max_drawdown": drawdown,
            "unmarked": any(v is None for _, v in self._equity_rows),
        }


def write_result(result: BacktestResult, directory: Path) -> None:
    """Parquet files (``BACKTEST_SCHEMAS``) and ``summary.json`` of one run under
    ``directory``; a folder already there (the same run id) is replaced whole."""
    import shutil

    import pyarrow.parquet as pq

    from xle.store.backtests import BACKTEST_SCHEMAS
    from xle.store.fs import arrow_source, is_remote

    if is_remote(directory):
        # Object storage: no folder to remove, only the keys under the run's prefix; each
        # file below is one upload that appears whole.
        for stale in directory.walk_files():  # type: ignore[attr-defined]
            stale.unlink(missing_ok=True)
    elif directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)

    def write(table: pa.Table, name: str, **options: Any) -> None:
        where, filesystem = arrow_source(directory / name)
        pq.write_table(table, where, filesystem=filesystem, **options)

    for name in ("orders", "fills", "positions", "equity", "mids"):
        table = getattr(result, name)
        if table is not None:
            table = table.select(BACKTEST_SCHEMAS[name].names).cast(BACKTEST_SCHEMAS[name])
            write(table, f"{name}.parquet", compression="zstd")
    summary = summary_row(result)
    write(pa.Table.from_pylist([summary], schema=BACKTEST_SCHEMAS["summary"]), "summary.parquet")
    doc = dict(result.summary, digest=result.digest, params=result.params)
    text = json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"
    (directory / "summary.json").write_bytes(text.encode())


def summary_row(result: BacktestResult) -> dict[str, Any]:
    """The run as one row of the ``backtests`` view."""
    from xle.store.backtests import BACKTEST_SCHEMAS

    row = {name: result.summary.get(name) for name in BACKTEST_SCHEMAS["summary"].names}
    row["params"] = json.dumps(result.params, sort_keys=True, default=str)
    row["digest"] = result.digest
    return row
