"""CcxtExchange reports an order the venue closed without a fill saying so (expired, canceled),
against the canned Binance API: the journal then reads the venue's status for it."""

from __future__ import annotations

from typing import Any

import pytest
from ccxt_canned import SERVER_MS, CannedBinance
from ccxt_venue_kit import entry, exit_order, make, quiet_order_diagnostics

from execution.venues.base import OrderEnd, OrderEndsVenue

NOW = SERVER_MS / 1000


@pytest.fixture(autouse=True)
def quiet_diagnostics(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_order_diagnostics(monkeypatch)


class ExpiringBinance(CannedBinance):
    """Binance acknowledging a market order NEW and unfilled, then expiring it without a trade
    (what it does to a reduce-only or IOC order with nothing to match)."""

    def _new_order(self, p: dict[str, str]) -> tuple[int, Any]:
        status, order = super()._new_order(p)
        if status != 200:
            return status, order
        self.trades.pop()
        unfilled = {"executedQty": "0", "cumQty": "0", "cumQuote": "0", "avgPrice": "0.00000"}
        self.orders[-1] = {**order, **unfilled, "status": "EXPIRED"}
        return status, {**order, **unfilled, "status": "NEW"}


def test_an_order_the_venue_expires_unfilled_is_reported_canceled_once() -> None:
    ex, _, _ = make(ExpiringBinance())
    assert isinstance(ex, OrderEndsVenue)
    req = entry()
    assert ex.place_order(req).status == "open"
    assert ex.poll_fills() == []
    assert ex.poll_order_ends() == [OrderEnd(req.client_order_id, "canceled", NOW)]
    assert ex.poll_fills() == [] and ex.poll_order_ends() == []
    assert ex.stats()["orders_tracked"] == 0


def test_orders_whose_fills_said_they_completed_report_no_end() -> None:
    ex, _, _ = make()
    ex.place_order(entry())
    [fill] = ex.poll_fills()
    assert fill.order_done is True
    ex.place_order(exit_order())
    assert len(ex.poll_fills()) == 1
    assert ex.poll_order_ends() == [] and ex.stats()["orders_tracked"] == 0
