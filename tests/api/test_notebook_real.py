"""Done-when of the public facade: a notebook over each real recording, using only the
names of ``xle.__all__``, gets exactly what the command line prints for the same
questions (replay counts, books at several times, the quotes table)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import xle
from xle.cli.output import readable

from .conftest import REPO, copy_log

DATASETS = ["real", "real-binance-2024", "real-coinbase-2026"]
SHARED = REPO.parent / "shared" / "data"
QUOTE_COLUMNS = ["recv_ns", "exchange", "symbol", "market", "bid", "ask", "mid", "imbalance"]


@pytest.fixture(scope="module", params=DATASETS)
def recording(request, tmp_path_factory, cli) -> tuple[Path, str]:
    source = SHARED / request.param
    if not (source / "raw").is_dir():
        pytest.skip(f"real dataset {source} is absent (only the shared data folder has it)")
    root = copy_log(source, tmp_path_factory.mktemp(request.param))
    first, last = xle.open(root).bounds()
    result = cli(
        "replay", "--data", root, "--from", xle.format_ns(first), "--to", xle.format_ns(last)
    )
    assert result.exit_code == 0, result.stderr
    return root, result.stdout


def _summary_number(summary: str, label: str) -> int:
    found = re.search(rf"^{label}\s+([\d,]+)", summary, re.MULTILINE)
    assert found is not None, summary
    return int(found.group(1).replace(",", ""))


def test_replaying_in_python_counts_what_xle_replay_printed(recording):
    root, summary = recording
    log = xle.open(root)
    first, last = log.bounds()
    replay = log.replay(xle.format_ns(first), xle.format_ns(last))
    outputs = list(replay)
    quotes = [out for out in outputs if isinstance(out, xle.Quote)]
    assert len(quotes) == _summary_number(summary, "quotes")
    assert replay.records == _summary_number(summary, "records")


def test_books_at_several_times_are_what_xle_book_prints(recording, cli):
    root, _summary = recording
    log = xle.open(root)
    first, last = log.bounds()
    times = [first + (last - first) * k // 4 for k in (1, 2, 4)]
    compared = 0
    for exchange in log.exchanges:
        symbol = log.symbols(exchange)[0]
        for at in times:
            args = ["book", "--data", root, "-e", exchange, "-s", symbol]
            printed = cli(*args, "--at", xle.format_ns(at), "--depth", 10, "--json")
            try:
                snap = log.book_at(exchange, symbol, at, depth=10)
            except xle.DataError as exc:
                assert printed.stderr.strip() == f"error: {exc}"
                continue
            assert isinstance(snap, xle.BookSnapshot)
            assert snap.to_dict() == json.loads(printed.stdout)
            compared += 1
    assert compared >= 2


def test_quotes_in_pandas_and_polars_are_what_xle_query_prints(recording, cli):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    root, _summary = recording
    log = xle.open(root)
    quotes = log.quotes(columns=QUOTE_COLUMNS)
    assert quotes.num_rows > 0
    sql = f"SELECT {', '.join(QUOTE_COLUMNS)} FROM quotes ORDER BY recv_ns, exchange, seq"
    printed = cli("query", "--data", root, "--format", "json", sql)
    assert printed.exit_code == 0, printed.stderr
    expected = json.loads(printed.stdout)
    frame = quotes.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    # The command prints floats to 12 significant digits; the tables keep them exact.
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    assert readable(records) == expected
    assert readable(pl.from_arrow(quotes).to_dicts()) == expected


def test_sql_in_python_is_what_xle_query_prints(recording, cli):
    root, _summary = recording
    sql = "SELECT exchange, symbol, count(*) AS n FROM raw GROUP BY ALL ORDER BY ALL"
    printed = cli("query", "--data", root, "--format", "json", sql)
    assert xle.open(root).sql(sql).to_pylist() == json.loads(printed.stdout)


def test_audit_in_python_is_what_xle_audit_prints(recording, cli):
    root, _summary = recording
    printed = cli("audit", "--data", root, "--json")
    assert xle.open(root).audit().to_dict() == json.loads(printed.stdout)
