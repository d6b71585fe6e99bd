"""Backtest results on disk: ``derived/backtests/run=<id>/<table>.parquet``.

One folder per run, one file per table, written whole by ``xle.backtest`` (a run with
the same id replaces its folder). The schemas are fixed here so that the DuckDB views
(``orders``, ``fills``, ``positions``, ``equity``, ``backtests``) have the same columns
whether any run exists or not. Money columns are ``decimal128(38, 18)``: exact.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

__all__ = ["BACKTEST_SCHEMAS", "BACKTEST_VIEWS", "DECIMAL", "backtests_dir", "run_dir"]

DECIMAL = pa.decimal128(38, 18)

#: Table name (also the view name) -> schema of its file in each run folder. The view
#: ``backtests`` reads ``summary.parquet``: one row per run.
BACKTEST_SCHEMAS: dict[str, pa.Schema] = {
    "orders": pa.schema(
        [
            ("order_id", pa.int64()),
            ("sent_ns", pa.int64()),
            ("done_ns", pa.int64()),
            ("exchange", pa.string()),
            ("symbol", pa.string()),
            ("side", pa.string()),
            ("tif", pa.string()),
            ("qty", DECIMAL),
            ("limit", DECIMAL),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("filled", DECIMAL),
            ("avg_price", DECIMAL),
            ("fees", DECIMAL),
        ]
    ),
    "fills": pa.schema(
        [
            ("fill_id", pa.int64()),
            ("order_id", pa.int64()),
            ("t_ns", pa.int64()),
            ("venue_ns", pa.int64()),
            ("exchange", pa.string()),
            ("symbol", pa.string()),
            ("side", pa.string()),
            ("price", DECIMAL),
            ("qty", DECIMAL),
            ("fee", DECIMAL),
            ("fee_asset", pa.string()),
            ("liquidity", pa.string()),
        ]
    ),
    "positions": pa.schema(
        [
            ("t_ns", pa.int64()),
            ("exchange", pa.string()),
            ("asset", pa.string()),
            ("balance", DECIMAL),
        ]
    ),
    "equity": pa.schema([("t_ns", pa.int64()), ("equity", pa.float64())]),
    "mids": pa.schema(
        [
            ("t_ns", pa.int64()),
            ("exchange", pa.string()),
            ("symbol", pa.string()),
            ("mid", pa.float64()),
        ]
    ),
    "summary": pa.schema(
        [
            ("strategy", pa.string()),
            ("params", pa.string()),  # JSON object
            ("start_ns", pa.int64()),
            ("end_ns", pa.int64()),
            ("seed", pa.int64()),
            ("orders", pa.int64()),
            ("rejected", pa.int64()),
            ("fills", pa.int64()),
            ("fill_ratio", pa.float64()),
            ("initial_equity", pa.float64()),
            ("final_equity", pa.float64()),
            ("pnl", pa.float64()),
            ("fees", pa.float64()),
            ("turnover", pa.float64()),
            ("max_drawdown", pa.float64()),
            ("unmarked", pa.bool_()),
            ("digest", pa.string()),
        ]
    ),
}

#: View name -> file name (without ``.parquet``) in each run folder.
BACKTEST_VIEWS: dict[str, str] = {
    "orders": "orders",
    "fills": "fills",
    "positions": "positions",
    "equity": "equity",
    "backtests": "summary",
}


def backtests_dir(root: Path) -> Path:
    return root / "derived" / "backtests"


def run_dir(root: Path, run: str) -> Path:
    return backtests_dir(root) / f"run={run}"
