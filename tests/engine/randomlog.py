"""Random logs mixing every case the decoders handle: both venues, ids and sequence
numbers mostly contiguous, with every kind of trouble (gaps, stale frames, bad ids,
snapshots, tickers at and off the book's id, disconnects, malformed frames, new
connections). Tests feed them two ways and compare the whole outcome."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from tests.engine.wire import cb_frame, control, depth, heartbeat, l2, raw_frame, snapshot

SECOND = 1_000_000_000
T0 = 1_700_000_000_000_000_000

prices = st.integers(min_value=380, max_value=420).map(lambda i: i / 4)
quantities = st.one_of(st.just(0), st.integers(1, 9), st.just(0.12345678901234567))
levels = st.lists(st.tuples(prices, quantities), max_size=6)

#: One step of a random log: what happens, and the small numbers it needs.
steps = st.tuples(
    st.sampled_from(
        [
            "depth", "depth", "depth", "depth", "depth_bare", "depth_gap", "depth_stale",
            "depth_bad_ids", "snapshot", "trade", "trade_other", "ticker", "ticker",
            "ticker_ahead", "ticker_jumped", "ticker_behind", "l2", "l2", "l2", "l2_jump",
            "l2_snapshot", "l2_two_events", "heartbeat", "disconnect", "malformed",
            "new_conn",
        ]
    ),
    levels,
    levels,
    st.sampled_from([1_000_000, 30_000_000, 400_000_000, 1_300_000_000, 61 * SECOND]),
)  # fmt: skip


def random_log(plan):
    """RawRecords of a random plan: both venues, ids and sequence numbers mostly
    contiguous, with every kind of trouble mixed in."""
    records = []
    t = T0
    binance_id = 100
    cb_seq = 1
    conn = 0
    for what, bids, asks, dt in plan:
        t += dt
        kw = {"t": t, "conn": conn}
        if what in ("depth", "depth_bare"):
            records.append(
                depth(binance_id + 1, binance_id + 2, bids, asks, wrap=what == "depth", **kw)
            )
            binance_id += 2
        elif what == "depth_gap":
            records.append(depth(binance_id + 5, binance_id + 6, bids, asks, **kw))
            binance_id += 6
        elif what == "depth_stale":
            records.append(depth(binance_id - 3, binance_id - 1, bids, asks, **kw))
        elif what == "depth_bad_ids":
            records.append(depth(binance_id + 1, binance_id + 5_000_000, bids, asks, **kw))
        elif what == "snapshot":
            base = [(99.0, 1), (98.5, 2), *list(bids)]
            records.append(snapshot(binance_id, base, [(101.0, 1), (101.5, 2), *list(asks)], **kw))
        elif what in ("trade", "trade_other"):
            price = str(bids[0][0]) if bids else "100.0"
            body = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": len(records), "p": price, "q": "1"}
            body |= {"T": 1, "m": True} if what == "trade" else {"m": False}
            records.append(raw_frame(json.dumps(body).encode(), stream="btcusdt@trade", **kw))
        elif what.startswith("ticker"):
            # At the book's id (compared now), the next frame's last id (compared then),
            # its first id (jumped over: unmatched) or an older one (unmatched now); the
            # prices often the book's, sometimes not (a doubt, then maybe a mismatch).
            offset = {"ticker": 0, "ticker_ahead": 2, "ticker_jumped": 1}.get(what, -1)
            bid = bids[0] if bids else (99.0, 1)
            ask = asks[0] if asks else (101.0, 1)
            body = {"u": binance_id + offset, "s": "BTCUSDT", "b": str(bid[0]), "B": str(bid[1])}
            body |= {"a": str(ask[0]), "A": str(ask[1])}
            records.append(raw_frame(json.dumps(body).encode(), stream="btcusdt@bookTicker", **kw))
        elif what == "l2":
            records.append(l2(cb_seq, "update", bids, asks, **kw))
            cb_seq += 1
        elif what == "l2_jump":
            cb_seq += 3
            records.append(l2(cb_seq, "update", bids, asks, **kw))
            cb_seq += 1
        elif what == "l2_snapshot":
            base = [(99.25, 1), *list(bids)]
            records.append(l2(cb_seq, "snapshot", base, [(100.75, 1), *list(asks)], **kw))
            cb_seq += 1
        elif what == "l2_two_events":
            body = json.loads(l2(cb_seq, "update", bids, asks).payload)
            body["events"] = body["events"] * 2
            records.append(cb_frame(body, **kw))
            cb_seq += 1
        elif what == "heartbeat":
            records.append(heartbeat(cb_seq, **kw))
            cb_seq += 1
        elif what == "disconnect":
            records.append(control("disconnected", exchange="coinbase", **kw))
            records.append(control("disconnected", **kw))
        elif what == "malformed":
            payload = depth(binance_id + 1, binance_id + 2, bids, asks).payload[:-7]
            records.append(raw_frame(payload, stream="btcusdt@depth@100ms", **kw))
        elif what == "new_conn":
            conn += 1
            cb_seq = 1
    return records
