"""Funding payments: what a position pays or receives at a settlement."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One settlement on one position. ``qty`` is signed (long > 0); ``payment`` is the cash
    to the account (negative: paid), as an exchange's income history reports it."""

    ts: float
    symbol: str
    rate: float
    mark: float
    qty: float
    payment: float


def funding_payment(signed_qty: float, mark: float, rate: float) -> float:
    """Return the cash a position receives: ``-qty * mark * rate`` (longs pay a positive rate)."""
    return -signed_qty * mark * rate
