"""The executor's journal sink: what it did, as the store's journal rows, batched per commit."""

from __future__ import annotations

from execution.perps.funding import FundingPayment
from execution.position_ledger import ClosedTrade
from execution.position_tp_sl_registry import TpSlEntry
from execution.store import ClosedTradeRow, EquityRow, FillRow, FundingRow, JournalBatch, OrderRow
from execution.types import Fill, OrderRequest


class EngineJournal:
    """Turn executor events into journal rows in ``batch`` (the runner commits and clears it)."""

    def __init__(self, batch: JournalBatch) -> None:
        self.batch = batch

    def order(self, req: OrderRequest, placed: bool, status: str, venue_order_id: str) -> None:
        self.batch.order(
            OrderRow(
                client_order_id=req.client_order_id,
                symbol=req.symbol,
                side=req.side,
                kind=req.kind.value,
                qty=req.qty,
                status=status if placed else "failed",
                ts=req.ts,
                venue_order_id=venue_order_id or None,
                exit_kind=req.exit_kind.value if req.exit_kind else None,
                price=req.trigger_price if req.trigger_price is not None else req.ref_price,
                tp=req.tp,
                sl=req.sl,
            )
        )

    def fill(self, fill: Fill) -> None:
        self.batch.fill(
            FillRow(
                fill_id=f"{fill.client_order_id}@{fill.ts:.3f}:{fill.qty:.12g}",
                client_order_id=fill.client_order_id,
                symbol=fill.symbol,
                side=fill.side,
                kind=fill.kind.value,
                qty=fill.qty,
                price=fill.price,
                fee=fill.fee,
                ts=fill.ts,
            )
        )

    def closed_trade(self, trade: ClosedTrade, entry: TpSlEntry | None) -> None:
        self.batch.closed_trade(
            ClosedTradeRow(
                symbol=trade.symbol,
                side=trade.side.value,
                entry_ts=trade.entry_ts,
                entry_price=trade.entry_price,
                exit_ts=trade.ts,
                exit_price=trade.exit_price,
                qty=trade.qty,
                exit_reason=trade.reason,
                pnl=trade.realized_pnl,
                fees=trade.fees,
                tp=entry.tp_price if entry is not None else None,
                sl=entry.sl_price if entry is not None else None,
            )
        )

    def funding(self, p: FundingPayment) -> None:
        self.batch.funding_payment(FundingRow(p.ts, p.symbol, p.rate, p.mark, p.qty, p.payment))

    def equity(
        self, ts: float, nav: float, balance: float, unrealized: float, drawdown_pct: float
    ) -> None:
        self.batch.equity_sample(EquityRow(ts, nav, balance, unrealized, drawdown_pct))
