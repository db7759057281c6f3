"""The ccxt venue says whether a fill completes its order, from what the order reported filled.

Against the canned Binance USD-M API (tests/ccxt_canned.py), never the network.
"""

from __future__ import annotations

import pytest
from ccxt_venue_kit import entry, make, quiet_order_diagnostics


@pytest.fixture(autouse=True)
def quiet_diagnostics(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_order_diagnostics(monkeypatch)


def test_a_market_order_filled_in_one_trade_reports_a_fill_that_completes_it() -> None:
    ex, _, _ = make()
    ex.place_order(entry(0.01))
    [fill] = ex.poll_fills()
    assert fill.qty == 0.01 and fill.order_done is True


def test_trades_seen_over_two_polls_complete_the_order_only_with_the_last_one() -> None:
    ex, fake, _ = make()
    ex.place_order(entry(0.01))
    first = fake.trades[0]
    first["qty"] = "0.004"  # the venue shows the order's first trade only
    [part] = ex.poll_fills()
    assert part.qty == 0.004 and part.order_done is False
    fake.trades.append({**first, "id": first["id"] + 1, "qty": "0.006"})
    [rest] = ex.poll_fills()
    assert rest.qty == 0.006 and rest.order_done is True
    assert ex.stats()["orders_tracked"] == 0


def test_a_fill_built_from_the_order_without_trades_completes_it() -> None:
    ex, fake, _ = make()
    ex.place_order(entry(0.01))
    fake.trades.clear()
    assert ex.poll_fills() == [] and ex.poll_fills() == []
    [fill] = ex.poll_fills()
    assert fill.qty == 0.01 and fill.order_done is True
