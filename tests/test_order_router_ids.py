"""Client order ids and quantity rounding: the exact values the journal and the venue see.

The journal's rows carry these ids and the venue fills these quantities, so a cheaper way of
computing them must give the same strings and floats (issue 21).
"""

from __future__ import annotations

import hashlib
import math
import string

from hypothesis import given
from hypothesis import strategies as st

from execution.order_router import client_order_id
from execution.rounding import round_qty
from execution.types import OrderKind


def _base36_oracle(n: int) -> str:
    """Base 36 by the textbook rule: repeated division, most significant digit first."""
    digits = string.digits + string.ascii_lowercase
    out = []
    while True:
        n, r = divmod(n, 36)
        out.append(digits[r])
        if n == 0:
            return "".join(reversed(out))


def _id_oracle(intent_id: str, kind: OrderKind, group: str, ts: float | None) -> str:
    """The documented id: v7 + e/x + (seven base-36 digits of the second) + 20 hex of sha1."""
    letter = "e" if kind is OrderKind.ENTRY else "x"
    digest = hashlib.sha1(f"{intent_id}|{kind.value}|{group}".encode()).hexdigest()[:20]
    if ts is None:
        return f"v7{letter}{digest}"
    return f"v7{letter}{_base36_oracle(max(int(ts), 0)).rjust(7, '0')}{digest}"


seconds = st.one_of(
    st.floats(-1e3, 4e12, allow_nan=False),  # past year 9999 the time digits grow beyond seven
    st.sampled_from([0.0, 35.0, 36.0, 1295.0, 1296.0, 1296.5, 36.0**7 - 1, 36.0**7]),
    st.none(),
)


@given(st.text(max_size=60), st.sampled_from(list(OrderKind)), st.text(max_size=12), seconds)
def test_client_order_id_is_the_documented_sha1_and_base36_time(
    intent_id: str, kind: OrderKind, group: str, ts: float | None
) -> None:
    assert client_order_id(intent_id, kind, group, ts) == _id_oracle(intent_id, kind, group, ts)


def test_a_replay_era_second_leads_the_id_as_seven_base36_digits() -> None:
    cid = client_order_id("BTCUSDT:1640995200000:long", OrderKind.ENTRY, ts=1640995200.0)
    assert cid.startswith("v7e")
    assert int(cid[3:10], 36) == 1640995200
    assert len(cid) == 30


@given(
    st.floats(-1e9, 1e9, allow_nan=False),
    st.sampled_from([1e-8, 1e-7, 1e-5, 0.001, 0.01, 0.1, 1.0, 5.0, 100.0]),
)
def test_round_qty_floors_with_a_tolerance_of_1e9_steps_or_1e12_of_the_ratio(
    qty: float, step: float
) -> None:
    ratio = abs(qty) / step
    steps = math.floor(ratio + max(1e-9, ratio * 1e-12))
    decimals = max(0, -int(f"{step:e}".split("e")[1])) if step < 1 else 0
    expected = math.copysign(round(steps * step, decimals), qty) if steps else 0.0
    assert round_qty(qty, step) == expected
    assert math.copysign(1.0, round_qty(qty, step)) == math.copysign(1.0, expected)
