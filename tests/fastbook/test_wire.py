"""The compiled frame parsers agree with the msgspec decoders, or step aside.

For every frame they accept they must produce exactly the doubles msgspec produces; for
anything unusual they return None so that the msgspec path (and its error wording)
decides.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xle._native import book as book_module
from xle.exchanges import binance, coinbase
from xle.exchanges._common import rfc3339_ns

pytestmark = pytest.mark.skipif(not book_module.COMPILED, reason="compiled book not built")

if book_module.COMPILED:
    from xle._native._fastbook import long_decimals, parse_binance_depth, parse_coinbase_l2
    from xle._native._fastbook import rfc3339_ns as fast_rfc3339_ns

_int_part = st.one_of(st.just("0"), st.from_regex(r"[1-9][0-9]{0,11}", fullmatch=True))
_frac = st.from_regex(r"[0-9]{0,14}", fullmatch=True)
_decimal = st.builds(lambda i, f: f"{i}.{f}" if f else i, _int_part, _frac)
_pairs = st.lists(st.tuples(_decimal, _decimal), max_size=30)


def _significant(number: str) -> int:
    return len(number.replace(".", "").strip("0"))


def _depth(bids, asks, wrapped=True, spaced=False):
    data = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 10, "u": 12, "b": bids, "a": asks}
    body = {"stream": "btcusdt@depth@100ms", "data": data} if wrapped else data
    return json.dumps(body, separators=(", ", ": ") if spaced else (",", ":")).encode()


def _l2(updates, kind="update"):
    body = {
        "channel": "l2_data",
        "client_id": "",
        "timestamp": "2023-02-09T20:32:50.714964855Z",
        "sequence_num": 7,
        "events": [{"type": kind, "product_id": "BTC-USD", "updates": updates}],
    }
    return json.dumps(body, separators=(",", ":")).encode()


@settings(max_examples=200, deadline=None)
@given(_pairs, _pairs, st.booleans(), st.booleans())
def test_binance_depth_parses_to_the_same_doubles_as_msgspec(bids, asks, wrapped, spaced):
    payload = _depth([list(p) for p in bids], [list(p) for p in asks], wrapped, spaced)
    reference = binance.BinanceDecoder._decode_depth(payload)
    parsed = parse_binance_depth(payload)
    if parsed is None:  # only a number a double may not hold makes it step aside here
        assert max(_significant(n) for level in bids + asks for n in level) > 15
        return
    symbol, first, last, fast_bids, fast_asks, exch_ns = parsed
    assert (symbol, first, last) == (reference.s, reference.U, reference.u)
    assert exch_ns == reference.exch_ns == 1_000_000
    assert list(fast_bids) == list(reference.b)
    assert list(fast_asks) == list(reference.a)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["bid", "offer"]), _decimal, _decimal), max_size=30))
def test_coinbase_l2_parses_to_the_same_doubles_as_msgspec(levels):
    updates = [
        {"side": s, "event_time": "2023-02-09T20:32:50Z", "price_level": p, "new_quantity": q}
        for s, p, q in levels
    ]
    payload = _l2(updates)
    reference = coinbase._decoder.decode(payload)
    parsed = parse_coinbase_l2(payload)
    if parsed is None:  # only a number a double may not hold makes it step aside here
        assert max(_significant(n) for _, p, q in levels for n in (p, q)) > 15
        return
    seq, events, exch_ns = parsed
    assert seq == reference.sequence_num
    assert exch_ns == rfc3339_ns(reference.timestamp) == 1675974770714964855
    (kind, product, bids, asks) = events[0]
    ref = reference.events[0]
    assert (kind, product) == (ref.type, ref.product_id)
    assert list(bids) == [(u.price_level, u.new_quantity) for u in ref.updates if u.side == "bid"]
    assert list(asks) == [(u.price_level, u.new_quantity) for u in ref.updates if u.side == "offer"]


@pytest.mark.parametrize(
    "level",
    [
        ["-1.5", "1"],  # negative: msgspec's constraint rejects it
        ["1e5", "1"],  # exponent
        ["01.5", "1"],  # leading zero
        ["1.", "1"],  # no fraction digits
        ["1.5", 1],  # a JSON number instead of a string
        ["1\\u0030", "1"],  # an escape
        ["1.5", "1", "extra"],
    ],
)
def test_binance_depth_steps_aside_for_unusual_levels(level):
    assert parse_binance_depth(_depth([level], [])) is None


def test_binance_depth_steps_aside_for_unknown_keys_and_trailing_bytes():
    body = json.loads(_depth([], [], wrapped=False))
    body["x"] = 1
    assert parse_binance_depth(json.dumps(body).encode()) is None
    assert parse_binance_depth(_depth([], []) + b"x") is None
    del body["x"], body["U"]
    assert parse_binance_depth(json.dumps(body).encode()) is None


def test_coinbase_l2_steps_aside_for_other_channels_and_unknown_sides():
    update = {"side": "ask", "event_time": "t", "price_level": "1", "new_quantity": "1"}
    assert parse_coinbase_l2(_l2([update])) is None
    heartbeat = b'{"channel":"heartbeats","sequence_num":1,"events":[]}'
    assert parse_coinbase_l2(heartbeat) is None


def test_long_decimals_take_the_correctly_rounded_slow_path():
    price = "0.0000000000000000000010000000000055"  # more digits than a uint64 holds
    qty = "123456789012345000000.0"
    _, _, _, bids, _, _ = parse_binance_depth(_depth([[price, qty]], []))
    assert list(bids) == [(float(price), float(qty))]


@pytest.mark.parametrize(
    "number", ["99.500000000000000000000000000001", "1234567890.1234567", "0.10000000000000001"]
)
def test_numbers_of_more_than_15_significant_digits_step_aside(number):
    assert parse_binance_depth(_depth([[number, "1"]], [])) is None
    update = {"side": "bid", "event_time": "", "price_level": "1", "new_quantity": number}
    assert parse_coinbase_l2(_l2([update])) is None


@pytest.mark.parametrize("number", ["12345678.00000000", "0.000000000000000012345", "1" * 15])
def test_long_numbers_of_at_most_15_significant_digits_stay_on_the_fast_path(number):
    _, _, _, bids, _, _ = parse_binance_depth(_depth([[number, "1"]], []))
    assert list(bids) == [(float(number), 1.0)]


def test_long_decimals_finds_a_quoted_number_of_more_than_15_significant_digits():
    assert long_decimals(b'{"p":"99.500000000000000000000000000001"}')
    assert not long_decimals(b'{"p":"12345678.00000000","E":12345678901234567890}')
    assert not long_decimals(b'{"t":"2023-02-09T20:32:50.714964855Z"}')


@pytest.mark.parametrize("at", [0, 3, 8, 15, 24, 29])
@pytest.mark.parametrize("odd", ["\\\\", "\\u0041", "\x01", "\x1f"])
def test_coinbase_l2_steps_aside_for_escapes_and_control_bytes_anywhere_in_a_string(at, odd):
    stamp = "2023-02-09T20:32:50.714964855Z"
    raw = b'{"side":"bid","event_time":"%s","price_level":"1.5","new_quantity":"2"}' % (
        (stamp[:at] + odd + stamp[at:]).encode()
    )
    frame = _l2([]).replace(b'"updates":[]', b'"updates":[' + raw + b"]")
    assert parse_coinbase_l2(frame) is None


@pytest.mark.parametrize("at", [0, 1, 7, 8, 9, 15, 16, 29])
@pytest.mark.parametrize("plain", ["é", "\x7f", "€"])
def test_coinbase_l2_accepts_bytes_above_ascii_anywhere_in_a_string(at, plain):
    """Only a quote, a backslash or a control byte ends the eight-byte scan of a string;
    UTF-8 and DEL are content."""
    stamp = "2023-02-09T20:32:50.714964855Z"
    raw = b'{"side":"bid","event_time":"%s","price_level":"1.5","new_quantity":"2"}' % (
        (stamp[:at] + plain + stamp[at:]).encode()
    )
    frame = _l2([]).replace(b'"updates":[]', b'"updates":[' + raw + b"]")
    _, events, _ = parse_coinbase_l2(frame)
    assert [list(bids) for _, _, bids, _ in events] == [[(1.5, 2.0)]]


@pytest.mark.parametrize("length", range(0, 34))
def test_coinbase_l2_accepts_plain_strings_of_any_length(length):
    update = {"side": "offer", "event_time": "7" * length, "price_level": "2", "new_quantity": "3"}
    _, events, _ = parse_coinbase_l2(_l2([update]))
    assert [list(asks) for _, _, _, asks in events] == [[(2.0, 3.0)]]


def test_symbols_beyond_the_parsers_string_cache_still_decode_exactly():
    symbols = [f"SYM{i}USDT" for i in range(150)] + ["A" * 40, "ÄÖÜUSDT"]
    for symbol in symbols * 2:
        data = {"e": "depthUpdate", "E": 1, "s": symbol, "U": 1, "u": 2, "b": [], "a": []}
        assert parse_binance_depth(json.dumps(data, ensure_ascii=False).encode())[0] == symbol


@pytest.mark.parametrize("pad", range(0, 34))
@pytest.mark.parametrize(
    ("number", "long"),
    [("99.500000000000000000000000000001", True), ("0.3000000000000000", False)],
)
def test_long_decimals_finds_a_long_number_at_any_offset(pad, number, long):
    for payload in (
        b'{"k":"%s","p":"%s"}' % (b"x" * pad, number.encode()),
        b'"%s"' % number.encode(),
        b'[%s,"%s",1]' % (b"1" * pad, number.encode()),
    ):
        assert long_decimals(payload) is long


def _levels_of(parsed):
    return None if parsed is None else (*parsed[:3], list(parsed[3]), list(parsed[4]), parsed[5])


@settings(max_examples=100, deadline=None)
@given(_pairs, _pairs, st.booleans())
def test_binance_depth_reads_the_same_frame_in_any_layout(bids, asks, wrapped):
    """Binance's own layout is matched literally and any other key by key: a frame that
    leaves the literal match late (a space before a closing brace, a repeated
    ``stream``) keeps no level of that first attempt."""
    compact = _depth([list(p) for p in bids], [list(p) for p in asks], wrapped)
    last = compact.rindex(b"]}") + 1
    late = [compact[:last] + b" " + compact[last:]]
    if wrapped:
        late.append(compact[:-1] + b',"stream":"again"}')
    expected = _levels_of(parse_binance_depth(compact))
    for payload in late:
        assert _levels_of(parse_binance_depth(payload)) == expected


def _events_of(parsed):
    if parsed is None:
        return None
    seq, events, stamp = parsed
    return seq, [(kind, product, list(b), list(a)) for kind, product, b, a in events], stamp


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["bid", "offer"]), _decimal, _decimal), max_size=20))
def test_coinbase_l2_reads_the_same_frame_in_any_layout(levels):
    """Coinbase's own layout is matched literally and any other key by key: a frame that
    leaves the literal match late (a space before an event's closing brace, a repeated
    ``client_id``) keeps no event or level of that first attempt."""
    updates = [
        {"side": s, "event_time": "2023-02-09T20:32:50Z", "price_level": p, "new_quantity": q}
        for s, p, q in levels
    ]
    compact = _l2(updates)
    body = json.loads(compact)
    reordered = {key: body[key] for key in reversed(body)}
    layouts = [
        compact.replace(b"]}]}", b"] }]}"),
        compact[:-1] + b',"client_id":"again"}',
        json.dumps(reordered, separators=(",", ":")).encode(),
    ]
    expected = _events_of(parse_coinbase_l2(compact))
    for payload in layouts:
        assert _events_of(parse_coinbase_l2(payload)) == expected


def test_binance_depth_without_an_event_time_has_none():
    body = {"e": "depthUpdate", "s": "BTCUSDT", "U": 10, "u": 12, "b": [], "a": []}
    parsed = parse_binance_depth(json.dumps(body).encode())
    assert parsed is not None and parsed[5] is None


@pytest.mark.parametrize("value", [9223372036855, -1, 1.5, "1"])
def test_binance_depth_steps_aside_for_an_event_time_without_int64_ns(value):
    body = {"e": "depthUpdate", "E": value, "s": "BTCUSDT", "U": 10, "u": 12, "b": [], "a": []}
    assert parse_binance_depth(json.dumps(body).encode()) is None


def test_binance_depth_steps_aside_for_a_repeated_event_time():
    payload = b'{"e":"depthUpdate","E":1,"E":2,"s":"BTCUSDT","U":10,"u":12,"b":[],"a":[]}'
    assert parse_binance_depth(payload) is None


_stamps = st.one_of(
    st.builds(
        lambda y, mo, d, h, mi, se, frac: (
            f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{se:02d}{frac}Z"
        ),
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 62),
        st.one_of(st.just(""), st.from_regex(r"\.[0-9]{0,10}", fullmatch=True)),
    ),
    st.text(alphabet="0123456789-T:.Z+ ", max_size=32),
)


@settings(max_examples=500, deadline=None)
@given(_stamps)
def test_the_compiled_timestamp_parser_agrees_with_the_python_one(text):
    assert fast_rfc3339_ns(text.encode()) == rfc3339_ns(text)


def test_coinbase_l2_timestamp_is_the_frame_time_in_ns():
    _, _, exch_ns = parse_coinbase_l2(_l2([]))
    assert exch_ns == 1675974770714964855  # 2023-02-09T20:32:50.714964855Z


def test_coinbase_l2_with_an_unreadable_timestamp_has_no_time():
    payload = _l2([]).replace(b"2023-02-09T20:32:50.714964855Z", b"yesterday")
    assert parse_coinbase_l2(payload)[2] is None
