"""xle -- the cross-exchange liquidity engine.

Record raw Binance / Binance.US / Coinbase Advanced Trade market data verbatim, replay it
deterministically through one L2 book and metrics engine, and look at walk-the-book VWAP,
imbalance and cross-exchange arbitrage in a Dash dashboard or DuckDB.
"""

__version__ = "0.1.0"
