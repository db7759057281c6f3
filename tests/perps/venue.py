"""A paper venue on one perpetual and a way to feed it bars, for the perps tests."""

from __future__ import annotations

from collections.abc import Iterable

from execution.clock import ReplayClock
from execution.types import MarketRules, OrderKind, OrderRequest
from execution.venues.paper import PaperExchange
from execution.venues.paper_perps import PerpSettings

SYM = "XRPUSDT"


def venue(
    symbol: str = SYM,
    leverage: float = 10.0,
    fee_bps: float = 0.0,
    liq_fee_bps: float = 50.0,
    balance: float = 10_000.0,
    default_rate: float | None = None,
) -> tuple[PaperExchange, ReplayClock]:
    """Return a fee-free, slippage-free paper venue trading ``symbol`` and its clock."""  # fmt: skip
    clock = ReplayClock(0.0)
    rules = {symbol: MarketRules(symbol, min_notional=1.0, qty_step=0.001, max_leverage=125.0)}
    settings = PerpSettings(leverage, None, "isolated", True, liq_fee_bps, default_rate)
    ex = PaperExchange(rules, balance, fee_bps, 0.0, clock, leverage, perps=settings)
    return ex, clock


def feed(
    ex: PaperExchange, clock: ReplayClock, bars: Iterable[tuple[float, ...]], symbol: str = SYM
) -> None:
    """Feed ``(ts, open, high, low, close)`` bars of ``symbol``, one loop each."""
    for ts, o, h, lo, c in bars:
        clock.set(ts)
        ex.on_bars([symbol], [(0, ts, o, h, lo, c, 1.0)])


def market(side: str, qty: float, symbol: str = SYM, sl: float | None = None) -> OrderRequest:
    """Return a market entry (fills at the next bar's open)."""
    return OrderRequest(f"{side}-{qty}-{sl}", symbol, side, qty, OrderKind.ENTRY, sl=sl)
