"""The public facades are pinned: changing them is a deliberate, visible act."""

from __future__ import annotations

import xle.exchanges
import xle.records


def test_exchanges_facade_exports():
    assert sorted(xle.exchanges.__all__) == [
        "BinanceDecoder",
        "CoinbaseDecoder",
        "Decoder",
        "Event",
        "SyncState",
        "make_decoder",
        "snapshot_symbols",
    ]


def test_records_vocabulary_exports():
    assert set(xle.records.__all__) == {
        "EXCHANGES",
        "ArbitrageEpisode",
        "BookReset",
        "BookUpdate",
        "IntegrityEvent",
        "IntegrityKind",
        "Level",
        "Problem",
        "Quote",
        "RawRecord",
        "RecordKind",
        "ResyncRequest",
        "Trade",
        "VwapResult",
    }


def test_raw_record_fields_follow_the_log_layout():
    assert xle.records.RawRecord.__struct_fields__ == (
        "recv_ns",
        "exchange",
        "run",
        "conn",
        "seq",
        "kind",
        "stream",
        "symbol",
        "payload",
    )
