"""Defensive accessors and human formatting."""

from __future__ import annotations

import math

import pytest

from dashboard.coerce import (
    as_count,
    as_dict,
    as_float,
    as_int,
    as_list,
    count_map,
    nested_count_map,
    parse_ts,
    redact,
)
from dashboard.formatting import format_age, format_count, format_money, format_pct, format_price


def test_wrong_types_become_empty_containers() -> None:
    assert as_dict("x") == {} and as_dict([1]) == {} and as_dict({"a": 1}) == {"a": 1}
    assert as_list("x") == [] and as_list({"a": 1}) == [] and as_list([1]) == [1]


@pytest.mark.parametrize("value", [True, "1.5", None, math.nan, math.inf, [1]])
def test_non_numbers_and_non_finite_numbers_are_not_floats(value: object) -> None:
    assert as_float(value) is None


def test_counts_reject_fractions_negatives_and_strings() -> None:
    assert as_int(3.0) == 3 and as_int(3.5) is None
    assert as_count(-1) == 0 and as_count("7") == 0 and as_count(7) == 7


def test_count_maps_keep_only_valid_counts() -> None:
    assert count_map({"a": 2, "b": "x", "c": -1, "d": 1.5, "e": 0}) == {"a": 2, "e": 0}
    assert nested_count_map({"r": {"s": 1, "t": None}, "bad": "x"}) == {"r": {"s": 1}, "bad": {}}


def test_timestamps_parse_with_z_and_garbage_gives_none() -> None:
    assert parse_ts("2024-01-01T00:00:00Z") == 1704067200.0
    assert parse_ts("yesterday") is None and parse_ts(12) is None


def test_redact_masks_query_secrets_and_long_tokens() -> None:
    text = redact(
        "GET /x?apiKey=abc123&signature=deadbeef failed; token A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7"
    )
    assert "abc123" not in text and "deadbeef" not in text and "A1b2C3" not in text
    assert "apiKey=***" in text and redact("timeout after 3 retries") == "timeout after 3 retries"


def test_ages_pick_a_readable_unit() -> None:
    assert format_age(None) == "—"
    assert format_age(42) == "42 s"
    assert format_age(450) == "7.5 min"
    assert format_age(3 * 3600) == "3.0 h"
    assert format_age(3 * 86400) == "3.0 d"


def test_numbers_format_as_percent_money_price_and_count() -> None:
    assert format_pct(0.0123) == "1.23 %" and format_pct(None) == "—"
    assert format_money(10123.4) == "10,123.40 USDT"
    assert format_price(60500.0) == "60,500.00" and format_price(0.0000123) == "1.23e-05"
    assert format_count(12000) == "12,000"
