"""A CcxtExchange wired to the canned Binance API (tests/ccxt_canned.py), and the orders and
router the venue tests send through it."""

from __future__ import annotations

from typing import Any

import pytest
from ccxt_canned import API_KEY, API_SECRET, SERVER_MS, CannedBinance, canned_client

import execution.order_router as order_router
from execution.clock import ReplayClock
from execution.order_router import OrderRouter, client_order_id
from execution.types import ExitKind, OrderKind, OrderRequest
from execution.venues.ccxt_venue import CcxtExchange

ORDER = ("POST", "/fapi/v1/order")
QUERY = ("GET", "/fapi/v1/order")


def quiet_order_diagnostics(monkeypatch: pytest.MonkeyPatch) -> None:
    """The router's diagnostics calls do nothing (these tests count orders on the fake)."""
    monkeypatch.setattr(order_router, "record_order_placed", lambda *a, **k: None)
    monkeypatch.setattr(order_router, "record_order_failed", lambda *a, **k: None)


def make(
    fake: CannedBinance | None = None, **kwargs: Any
) -> tuple[CcxtExchange, CannedBinance, list[float]]:
    client, fake = canned_client(fake, **kwargs)
    sleeps: list[float] = []
    ex = CcxtExchange(
        api_key=API_KEY if kwargs.get("keys", True) else "",
        secret=API_SECRET if kwargs.get("keys", True) else "",
        clock=ReplayClock(SERVER_MS / 1000),
        ccxt_client=client,
        sleep=sleeps.append,
    )
    return ex, fake, sleeps


def entry(qty: float = 0.01, symbol: str = "BTCUSDT", intent: str = "i-1") -> OrderRequest:
    cid = client_order_id(intent, OrderKind.ENTRY)
    return OrderRequest(cid, symbol, "buy", qty, OrderKind.ENTRY, intent_id=intent)


def exit_order(qty: float = 0.01, intent: str = "i-1") -> OrderRequest:
    cid = client_order_id(intent, OrderKind.EXIT)
    return OrderRequest(
        cid, "BTCUSDT", "sell", qty, OrderKind.EXIT, True, intent_id=intent, exit_kind=ExitKind.TP
    )


def router(ex: CcxtExchange) -> tuple[OrderRouter, list[float]]:
    sleeps: list[float] = []
    return OrderRouter(ex, max_retries=3, backoff_seconds=0.2, sleep=sleeps.append), sleeps
