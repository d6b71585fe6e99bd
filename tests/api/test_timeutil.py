"""Times are exact to the nanosecond whatever form they come in (issue 12.1)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xle.timeutil import INT64_MAX, INT64_MIN, format_ns, parse_time, to_ns

NS = 1_796_366_343_980_529_915  # 2026-12-04T06:39:03.980529915Z


def test_iso_fraction_keeps_all_nine_digits():
    assert parse_time("2026-12-04T06:39:03.980529915Z") == NS


def test_short_fractions_are_padded_not_scaled():
    assert parse_time("2026-12-04T06:39:03.9Z") == NS - 80_529_915
    assert parse_time("2026-12-04T06:39:03,98052Z") == NS - 9_915


def test_offset_is_applied_exactly():
    assert parse_time("2026-12-04T08:39:03.980529915+02:00") == NS
    assert parse_time("2026-12-04T06:39:03.980529915-00:00") == NS


def test_date_only_is_midnight_utc():
    assert parse_time("2026-12-04") == NS - NS % (86_400 * 10**9)


def test_space_separator_and_no_zone_mean_utc():
    assert parse_time("2026-12-04 06:39:03.980529915") == NS
    assert parse_time("2021-10-12 00:30") == parse_time("2021-10-12T00:30:00Z")


def test_epoch_ns_integer_text():
    assert parse_time(str(NS)) == NS
    assert parse_time(" -5 ") == -5


def test_extra_zero_digits_beyond_nanoseconds_are_accepted():
    assert parse_time("2026-12-04T06:39:03.980529915000Z") == NS


def test_digits_beyond_nanoseconds_are_refused():
    with pytest.raises(ValueError, match="10 fractional digits; nanoseconds are the finest"):
        parse_time("2026-12-04T06:39:03.9805299151Z")


def test_epoch_ns_beyond_int64_is_refused():
    with pytest.raises(ValueError, match="outside the range of epoch ns"):
        parse_time(str(INT64_MAX + 1))


def test_iso_time_beyond_int64_is_refused():
    with pytest.raises(ValueError, match="outside the range of epoch ns"):
        parse_time("2300-01-01T00:00:00Z")


def test_garbage_names_the_expected_forms():
    with pytest.raises(ValueError, match=r"not a time: 'yesterday' \(use ISO 8601"):
        parse_time("yesterday")


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_format_then_parse_round_trips_every_int64(ns):
    assert parse_time(format_ns(ns)) == ns


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))  # 1970 .. 2100
def test_format_parse_format_is_stable(ns):
    text = format_ns(ns)
    assert format_ns(parse_time(text)) == text


def test_to_ns_takes_strings_and_ints():
    assert to_ns("2026-12-04T06:39:03.980529915Z") == NS
    assert to_ns(NS) == NS


def test_to_ns_naive_datetime_is_utc():
    assert to_ns(datetime(2026, 12, 4, 6, 39, 3, 980529)) == NS - 915


def test_to_ns_aware_datetime_is_converted():
    cet = timezone(timedelta(hours=1))
    assert to_ns(datetime(2026, 12, 4, 7, 39, 3, 980529, tzinfo=cet)) == NS - 915
    assert to_ns(datetime(2026, 12, 4, 6, 39, 3, 980529, tzinfo=UTC)) == NS - 915


def test_to_ns_date_is_midnight_utc():
    assert to_ns(date(2026, 12, 4)) == parse_time("2026-12-04")


def test_to_ns_keeps_a_pandas_timestamps_nanoseconds():
    pd = pytest.importorskip("pandas")
    assert to_ns(pd.Timestamp("2026-12-04T06:39:03.980529915")) == NS
    assert to_ns(pd.Timestamp("2026-12-04T07:39:03.980529915", tz="Europe/Paris")) == NS


def test_to_ns_keeps_a_numpy_datetime64s_nanoseconds():
    np = pytest.importorskip("numpy")
    assert to_ns(np.datetime64("2026-12-04T06:39:03.980529915")) == NS
    assert to_ns(np.datetime64("2026-12-04T06:39:03", "s")) == NS - 980_529_915
    assert to_ns(np.datetime64("2026-12", "M")) == parse_time("2026-12-01")


@pytest.mark.parametrize("value", [1.5, True, None, object()])
def test_to_ns_refuses_what_is_not_a_time(value):
    with pytest.raises(ValueError, match="not a time"):
        to_ns(value)


def test_to_ns_refuses_not_a_time_values_of_pandas_and_numpy():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    with pytest.raises(ValueError, match="NaT"):
        to_ns(pd.NaT)
    with pytest.raises(ValueError, match="NaT"):
        to_ns(np.datetime64("NaT"))


def test_to_ns_imports_neither_pandas_nor_numpy():
    code = (
        "import sys, datetime, xle\n"
        "xle.to_ns('2026-12-04T06:39:03.980529915Z'); xle.to_ns(5)\n"
        "xle.to_ns(datetime.datetime(2026, 1, 1))\n"
        "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
