"""The executor's journal sink: what it did, as the store's journal rows, batched per commit.

A replay journals an order, a fill and half a closed trade per order it sends: each row is the
plain tuple its INSERT takes (``OrderValues``...), checked by the store when it writes the batch.
"""

from __future__ import annotations

from execution.perps.funding import FundingPayment
from execution.position_ledger import ClosedTrade
from execution.position_tp_sl_registry import TpSlEntry
from execution.store import EquityRow, FundingRow, JournalBatch
from execution.types import Fill, OrderRequest


class EngineJournal:
    """Turn executor events into journal rows in ``batch`` (the runner commits and clears it).

    Rows go straight onto the batch's lists (it clears them in place, never replaces them),
    and an enum's ``_value_`` is read as the plain attribute it is: ``.value`` is a Python-level
    property, paid three times per order in a replay.
    """

    def __init__(self, batch: JournalBatch) -> None:
        self.batch = batch
        self._order = batch.orders.append
        self._fill = batch.fills.append
        self._closed_trade = batch.closed_trades.append

    def order(self, req: OrderRequest, placed: bool, status: str, venue_order_id: str) -> None:
        exit_kind, price = req.exit_kind, req.trigger_price
        self._order((
            req.client_order_id, req.symbol, req.side, req.kind._value_, req.qty,
            status if placed else "failed", req.ts, venue_order_id or None,
            exit_kind._value_ if exit_kind is not None else None,
            price if price is not None else req.ref_price, req.tp, req.sl,
        ))  # fmt: skip

    def fill(self, fill: Fill) -> None:
        cid, qty, ts = fill.client_order_id, fill.qty, fill.ts
        self._fill((
            f"{cid}@{ts:.3f}:{qty:.12g}", cid, fill.symbol, fill.side, fill.kind._value_, qty,
            fill.price, fill.fee, ts,
        ))  # fmt: skip

    def closed_trade(self, trade: ClosedTrade, entry: TpSlEntry | None) -> None:
        tp, sl = (None, None) if entry is None else (entry.tp_price, entry.sl_price)
        self._closed_trade((
            trade.symbol, trade.side._value_, trade.entry_ts, trade.entry_price, trade.ts,
            trade.exit_price, trade.qty, trade.reason, trade.realized_pnl, trade.fees, tp, sl,
        ))  # fmt: skip

    def funding(self, p: FundingPayment) -> None:
        self.batch.funding_payment(FundingRow(p.ts, p.symbol, p.rate, p.mark, p.qty, p.payment))

    def equity(
        self, ts: float, nav: float, balance: float, unrealized: float, drawdown_pct: float
    ) -> None:
        self.batch.equity_sample(EquityRow(ts, nav, balance, unrealized, drawdown_pct))
