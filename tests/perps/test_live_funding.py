"""Live funding read back from the venue's income history: each payment once, in the ledger."""

from __future__ import annotations

from typing import Any

from ccxt_canned import API_KEY, API_SECRET, SERVER_MS, CannedBinance, canned_client

from execution.clock import ReplayClock
from execution.venues.ccxt_venue import CcxtExchange

HOUR_MS = 3_600_000


def _income(symbol: str, ms: int, amount: str, tran_id: int) -> dict[str, Any]:
    return {"symbol": symbol, "incomeType": "FUNDING_FEE", "income": amount, "asset": "USDT",
            "time": ms, "info": "FUNDING_FEE", "tranId": tran_id, "tradeId": ""}  # fmt: skip


def _venue(fake: CannedBinance, clock: ReplayClock) -> CcxtExchange:
    client, fake = canned_client(fake)
    return CcxtExchange(api_key=API_KEY, secret=API_SECRET, clock=clock, ccxt_client=client,
                        sleep=lambda s: None)  # fmt: skip


def test_each_funding_payment_the_venue_booked_is_read_once_with_our_symbol() -> None:
    fake = CannedBinance()
    clock = ReplayClock(SERVER_MS / 1000)
    fake.income = [
        _income("BTCUSDT", SERVER_MS - 8 * HOUR_MS, "-9.99", 1),  # before the engine started
        _income("BTCUSDT", SERVER_MS + HOUR_MS, "-1.25", 2),
        {**_income("ETHUSDT", SERVER_MS + HOUR_MS, "0.40", 3)},
        {**_income("BTCUSDT", SERVER_MS + HOUR_MS, "5", 4), "incomeType": "REALIZED_PNL"},
    ]
    venue = _venue(fake, clock)
    clock.set(SERVER_MS / 1000 + 2 * 3600)
    first = venue.poll_funding()
    assert [(p.symbol, p.payment, p.ts) for p in first] == [
        ("BTCUSDT", -1.25, (SERVER_MS + HOUR_MS) / 1000),
        ("ETHUSDT", 0.40, (SERVER_MS + HOUR_MS) / 1000),
    ]
    clock.set(clock.now() + 60)
    assert venue.poll_funding() == []  # not asked again within five minutes
    fake.income.append(_income("BTCUSDT", SERVER_MS + 9 * HOUR_MS, "-0.50", 5))
    clock.set(clock.now() + 8 * 3600)
    again = venue.poll_funding()  # the query includes its start: the 01:00 rows come back
    assert [(p.symbol, p.payment) for p in again] == [("BTCUSDT", -0.50)]


def test_a_failed_funding_read_is_tried_again_at_the_next_loop() -> None:
    fake = CannedBinance()
    clock = ReplayClock(SERVER_MS / 1000)
    fake.income = [_income("BTCUSDT", SERVER_MS + HOUR_MS, "-1.25", 2)]
    venue = _venue(fake, clock)
    clock.set(SERVER_MS / 1000 + 2 * 3600)
    fake.fail("GET", "/fapi/v1/income", *["503"] * 4)  # more than the retries
    assert venue.poll_funding() == []
    assert [p.payment for p in venue.poll_funding()] == [-1.25]
