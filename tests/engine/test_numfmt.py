"""Computed figures print rounded to what they measure, never with float noise."""

from __future__ import annotations

import pytest

from xle.numfmt import bps, decimals, fixed, max_decimals, trimmed


@pytest.mark.parametrize(
    ("text", "places"), [("43000.10000000", 1), ("100", 0), ("0.3527", 4), ("5.", 0)]
)
def test_decimals_ignore_trailing_zeros(text: str, places: int) -> None:
    assert decimals(text) == places


def test_max_decimals_is_the_finest_precision_of_a_book() -> None:
    assert max_decimals(["60028.6", "60028.32", "60003"]) == 2
    assert max_decimals([], default=8) == 8


def test_fixed_pads_to_the_tick_so_columns_line_up() -> None:
    assert [fixed(p, 2) for p in (60028.6, 60028.32, 60003.0)] == [
        "60028.60",
        "60028.32",
        "60003.00",
    ]


def test_trimmed_drops_float_noise_and_trailing_zeros() -> None:
    assert trimmed(60096.664851600006, 2) == "60096.66"
    assert trimmed(430.5401295100004, 8) == "430.54012951"
    assert trimmed(100.0, 8) == "100"


def test_tiny_negatives_never_print_as_minus_zero() -> None:
    assert bps(-0.001) == "0.00"
    assert trimmed(-0.0001, 2) == "0"


def test_bps_has_two_decimals() -> None:
    assert bps(8.883600000000001) == "8.88"
