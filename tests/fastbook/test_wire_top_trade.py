"""The compiled ``bookTicker`` and ``trade`` parsers (the lane's) agree with the Binance
decoder's msgspec path, or step aside so that the decoder decides."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.wire import raw_frame
from xle._native import book as book_module
from xle.exchanges.binance import BinanceDecoder
from xle.records import TopOfBook, Trade

pytestmark = pytest.mark.skipif(not book_module.COMPILED, reason="compiled book not built")

if book_module.COMPILED:
    from xle._native._fastbook import parse_binance_top_trade

_int_part = st.one_of(st.just("0"), st.from_regex(r"[1-9][0-9]{0,11}", fullmatch=True))
_frac = st.from_regex(r"[0-9]{0,14}", fullmatch=True)
_decimal = st.builds(lambda i, f: f"{i}.{f}" if f else i, _int_part, _frac)
_ids = st.integers(0, 10**18 - 1)


def _significant(number: str) -> int:
    return len(number.replace(".", "").strip("0"))


def _frame(data: dict, stream: str, wrapped: bool, spaced: bool) -> bytes:
    body = {"stream": stream, "data": data} if wrapped else data
    return json.dumps(body, separators=(", ", ": ") if spaced else (",", ":")).encode()


def _decoded(payload: bytes, stream: str) -> list[object]:
    return BinanceDecoder().feed(raw_frame(payload, stream=stream))


@settings(max_examples=200, deadline=None)
@given(st.lists(_decimal, min_size=4, max_size=4), _ids, st.booleans(), st.booleans())
def test_a_book_ticker_parses_to_the_decoders_values(numbers, u, wrapped, spaced):
    data = {"u": u, "s": "BTCUSDT", "b": numbers[0], "B": numbers[1], "a": numbers[2]}
    data["A"] = numbers[3]
    payload = _frame(data, "btcusdt@bookTicker", wrapped, spaced)
    parsed = parse_binance_top_trade(payload, "bookTicker")
    if parsed is None:  # only a number a double may not hold makes it step aside
        assert max(_significant(n) for n in numbers) > 15
        return
    [event] = _decoded(payload, "btcusdt@bookTicker")
    assert type(event) is TopOfBook
    expected = (event.symbol, event.update_id, event.bid, event.bid_size, event.ask)
    assert parsed == (*expected, event.ask_size)


@settings(max_examples=200, deadline=None)
@given(
    _decimal,
    _decimal,
    _ids,
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 9223372036854)),
    st.booleans(),
    st.booleans(),
)
def test_a_trade_parses_to_the_decoders_values(price, qty, trade_id, maker, t_ms, wrapped, spaced):
    data = {"e": "trade", "E": 1, "s": "ETHUSDT", "t": trade_id, "p": price, "q": qty}
    data |= ({} if t_ms is None else {"T": t_ms}) | {"m": maker, "M": True}  # Binance's order
    payload = _frame(data, "ethusdt@trade", wrapped, spaced)
    parsed = parse_binance_top_trade(payload, "trade")
    if parsed is None:
        assert max(_significant(price), _significant(qty)) > 15
        return
    [event] = _decoded(payload, "ethusdt@trade")
    assert type(event) is Trade
    symbol, t, p, q, m, t_ns = parsed
    assert (symbol, str(t), p, q, "sell" if m else "buy", t_ns) == (
        event.symbol,
        event.trade_id,
        event.price,
        event.qty,
        event.side,
        event.exch_ns,
    )


_TICKER = b'{"u":5,"s":"BTCUSDT","b":"1.5","B":"2","a":"1.6","A":"3"}'
_TRADE = b'{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"1.5","q":"2","T":3,"m":true,"M":true}'


@pytest.mark.parametrize(
    "payload",
    [
        _TICKER.replace(b'"u":5', b'"u":"5"'),  # a quoted id: msgspec's lax mode decides
        _TICKER.replace(b'"A":"3"', b'"A":"3","x":1'),  # an unknown key
        _TICKER.replace(b',"A":"3"', b""),  # a missing field
        _TICKER.replace(b'"b":"1.5"', b'"b":"1.5","b":"1.4"'),  # a key twice
        _TICKER.replace(b'"b":"1.5"', b'"b":1.5'),  # an unquoted number
        _TICKER.replace(b"BTCUSDT", b"BTC\\u0055SDT"),  # an escape in the symbol
        _TICKER.replace(b'"b":"1.5"', b'"b":"1e5"'),  # an exponent
        _TICKER + b"x",  # trailing bytes
        _TICKER[:-1],  # truncated
    ],
)
def test_the_ticker_parser_steps_aside_for_unusual_frames(payload):
    assert parse_binance_top_trade(payload, "bookTicker") is None


@pytest.mark.parametrize(
    "payload",
    [
        _TRADE.replace(b'"T":3', b'"T":9223372036855'),  # its ns would not fit int64
        _TRADE.replace(b'"t":7', b'"t":-7'),
        _TRADE.replace(b'"m":true', b'"m":1'),
        _TRADE.replace(b',"m":true', b""),  # the taker side is unknown
        _TRADE.replace(b'"q":"2"', b'"q":"2.00000000000000001"'),  # not a double's
        _TRADE.replace(b'"M":true', b'"M":true,"b":88'),  # an unknown key
        b'{"stream":"btcusdt@trade","data":' + _TRADE + b',"x":1}',  # a wrapper's extra key
    ],
)
def test_the_trade_parser_steps_aside_for_unusual_frames(payload):
    assert parse_binance_top_trade(payload, "trade") is None


def test_a_trade_without_a_trade_time_has_none():
    parsed = parse_binance_top_trade(_TRADE.replace(b',"T":3', b""), "trade")
    assert parsed == ("BTCUSDT", 7, 1.5, 2.0, True, None)


@pytest.mark.parametrize("kind, payload", [("bookTicker", _TICKER), ("trade", _TRADE)])
def test_keys_in_another_order_parse_the_same(kind, payload):
    """Binance's own key order is matched literally; any other goes key by key."""
    body = json.loads(payload)
    shuffled = json.dumps(dict(reversed(body.items())), separators=(",", ":")).encode()
    assert parse_binance_top_trade(shuffled, kind) == parse_binance_top_trade(payload, kind)
    assert parse_binance_top_trade(payload, kind) is not None


def test_a_frame_of_the_other_kind_steps_aside():
    assert parse_binance_top_trade(_TRADE, "bookTicker") is None
    assert parse_binance_top_trade(_TICKER, "trade") is None
