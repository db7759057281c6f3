"""A PaperExchange on a replay clock with two symbols' rules, and the bars and orders the paper
venue tests feed it."""

from __future__ import annotations

from execution.clock import ReplayClock
from execution.types import Bar, ExitKind, MarketRules, OrderKind, OrderRequest
from execution.venues.paper import FaultPlan, PaperExchange

SYM = "BTCUSDT"
FEE_BPS = 4.0
SLIP_BPS = 10.0
FEE = FEE_BPS / 1e4
SLIP = SLIP_BPS / 1e4


def make_exchange(
    faults: FaultPlan | None = None, balance: float = 10_000.0, leverage: float = 10.0
) -> PaperExchange:
    rules = {
        SYM: MarketRules(SYM, min_notional=5.0, qty_step=0.001, price_tick=0.1),
        "ETHUSDT": MarketRules("ETHUSDT", min_notional=5.0, qty_step=0.01, price_tick=0.01),
    }
    return PaperExchange(rules, balance, FEE_BPS, SLIP_BPS, ReplayClock(1_000.0), leverage, faults)


def bar(price: float, close: float | None = None, ts: float = 0.0, symbol: str = SYM) -> Bar:
    c = price if close is None else close
    return Bar(symbol, ts, price, max(price, c), min(price, c), c)


_seq = iter(range(1_000_000))


def order(
    side: str,
    qty: float,
    *,
    reduce_only: bool = False,
    trigger: float | None = None,
    cid: str | None = None,
    symbol: str = SYM,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid or f"c{next(_seq)}",
        symbol=symbol,
        side=side,
        qty=qty,
        kind=OrderKind.EXIT if reduce_only else OrderKind.ENTRY,
        reduce_only=reduce_only,
        trigger_price=trigger,
        intent_id="intent-1",
        exit_kind=ExitKind.TP if reduce_only else None,
    )
