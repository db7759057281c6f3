"""The executor's journal sink: what it did, as the store's journal rows, batched per commit.

A replay journals an order, a fill and half a closed trade per order it sends: each row is the
plain tuple its INSERT takes (``OrderValues``...), checked by the store when it writes the batch.

An order's row follows the order: a fill the venue says completes it makes it ``filled``, one
that does not ``partially_filled``, at the fill's time; an order the venue ends without a fill
(a canceled reduce-only exit) takes the status the venue reports, at that report's time.
"""

from __future__ import annotations

from execution.perps.funding import FundingPayment
from execution.position_ledger import ClosedTrade, LedgerPosition
from execution.position_tp_sl_registry import TpSlEntry
from execution.store import EquityRow, ExternalCloseRow, FundingRow, JournalBatch
from execution.types import Fill, OrderRequest


class EngineJournal:
    """Turn executor events into journal rows in ``batch`` (the runner commits and clears it).

    Rows go straight onto the batch's lists (it clears them in place, never replaces them),
    and an enum's ``_value_`` is read as the plain attribute it is: ``.value`` is a Python-level
    property, paid three times per order in a replay.
    """

    def __init__(self, batch: JournalBatch) -> None:
        self.batch = batch
        self._orders = batch.orders
        # Client id -> its row's index in the batch's orders, for the rows of the current batch.
        self._row_at: dict[str, int] = {}
        self._fill = batch.fills.append
        self._closed_trade = batch.closed_trades.append

    def order(self, req: OrderRequest, placed: bool, status: str, venue_order_id: str) -> None:
        exit_kind, price = req.exit_kind, req.trigger_price
        orders = self._orders
        if not orders:  # the batch was committed: the indexes kept are of rows now gone
            self._row_at.clear()
        self._row_at[req.client_order_id] = len(orders)
        orders.append((
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
        done = fill.order_done
        if done is not None:
            self.order_status(cid, "filled" if done else "partially_filled", ts)

    def order_status(self, cid: str, status: str, ts: float) -> None:
        """Set the order's row to ``status`` at ``ts`` (its qty, price and levels stay)."""
        # Change the order's row in place while it is in the batch (a replay places and fills
        # nearly every order between two commits); else the store updates the committed row.
        orders = self._orders
        at = self._row_at.get(cid)
        if at is not None and at < len(orders) and (row := orders[at])[0] == cid:
            _, symbol, side, kind, qty, _, _, venue_id, exit_kind, price, tp, sl = row
            orders[at] = (
                cid, symbol, side, kind, qty, status, ts, venue_id, exit_kind, price, tp, sl
            )  # fmt: skip
        else:
            self.batch.order_status.append((status, ts, cid))

    def closed_trade(self, trade: ClosedTrade, entry: TpSlEntry | None) -> None:
        tp, sl = (None, None) if entry is None else (entry.tp_price, entry.sl_price)
        self._closed_trade((
            trade.symbol, trade.side._value_, trade.entry_ts, trade.entry_price, trade.ts,
            trade.exit_price, trade.qty, trade.reason, trade.realized_pnl, trade.fees, tp, sl,
        ))  # fmt: skip

    def external_close(
        self, pos: LedgerPosition, entry: TpSlEntry | None, seen_ts: float, mark: float | None
    ) -> None:
        """A position gone from the venue without an exit of the engine's (reconcile saw it)."""
        tp, sl = (None, None) if entry is None else (entry.tp_price, entry.sl_price)
        self.batch.external_close(ExternalCloseRow(
            pos.symbol, pos.side.value, pos.entry_ts, pos.entry_price, pos.qty, seen_ts,
            pos.entry_fees, mark, tp, sl,
        ))  # fmt: skip

    def funding(self, p: FundingPayment) -> None:
        self.batch.funding_payment(FundingRow(p.ts, p.symbol, p.rate, p.mark, p.qty, p.payment))

    def equity(
        self, ts: float, nav: float, balance: float, unrealized: float, drawdown_pct: float
    ) -> None:
        self.batch.equity_sample(EquityRow(ts, nav, balance, unrealized, drawdown_pct))
