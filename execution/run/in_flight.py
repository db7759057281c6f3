"""Settle, at a restart, the entries the memory shows in flight: their outcome died with a kill.

A live engine commits just before it sends an entry: the intent pending, diagnostics counting it
in flight (passed risk, no order outcome yet), the intent's id stored as ``entry_in_flight``. A
kill before the loop's next commit leaves that memory, and nothing after the restart would ever
count an outcome for it: the accounting identity (signals = vetoes + entry orders + entry
failures + in flight) would show an entry in flight for ever. The restart counts it from what
the exchange says, once: an order placed when the exchange holds its position (the reconcile
adopted one for it) or its order (looked up by the client id and symbol it was sent under),
else a failed order, ``lost_at_restart``. The intent stays pending unless the exchange says
the order is done (an order the exchange takes late still gets its TP/SL).

A placed entry gets the order row the kill took, as the exchange has it. One that filled while
the exchange holds no position for it any more (closed by hand or liquidated while the engine
was down) is also journaled as an external close: a position that ended outside the engine,
its exit unseen. Its fill is not applied: the ledger would hold a position the exchange does not.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from execution import diagnostics_metrics as diag
from execution.executor_live import Executor
from execution.position_tp_sl_registry import levels_at_fill
from execution.run.journal import EngineJournal
from execution.run.reconcile import ReconcileReport
from execution.store import ExternalCloseRow
from execution.types import OrderAck, OrderRequest, Side
from execution.venues.base import Exchange, ExchangeError, SentOrder, SentOrdersVenue

log = logging.getLogger(__name__)

LOST_AT_RESTART = "lost_at_restart"  # one of order_router.ERROR_CATEGORIES


def settle_in_flight(
    diagnostics: Mapping[str, Any], sent: OrderRequest | None, report: ReconcileReport,
    ex: Executor, journal: EngineJournal,
) -> None:  # fmt: skip
    """Count an outcome for every entry the restored ``diagnostics`` hold in flight; journal the
    order of ``sent`` when the exchange has it, and its position if that ended while down.

    ``sent``: the entry order the last commit was made for, as it was sent (None: no pre-send
    commit, or an older memory); ``report``, the restart's reconcile, says which pending
    entries the exchange's positions explained.
    """
    count = int(diagnostics.get("in_flight") or 0)
    if count <= 0:
        return
    if sent is not None:
        count -= 1
        _settle_sent(sent, report, ex, journal)
    for _ in range(count):  # in flight, but no commit says which entry: nothing can find it
        log.warning("restart: an entry of unknown id was in flight at the stop: counted as a "
                    "failed order (%s)", LOST_AT_RESTART)  # fmt: skip
        diag.record_order_failed(LOST_AT_RESTART, "entry")


def _settle_sent(
    sent: OrderRequest, report: ReconcileReport, ex: Executor, journal: EngineJournal
) -> None:
    found = _venue_order(ex.exchange, sent)
    if found is None and sent.intent_id in report.explained:  # it filled: the exchange holds it
        found = _ack_only(OrderAck(sent.client_order_id, "", "filled", 0.0))
    if found is None:
        log.warning("restart: the entry %s on %s was in flight at the stop and the exchange "
                    "does not have it: counted as a failed order (%s)", sent.intent_id,
                    sent.symbol, LOST_AT_RESTART)  # fmt: skip
        diag.record_order_failed(LOST_AT_RESTART, "entry", sent.symbol)
        return
    log.warning("restart: the entry %s on %s was in flight at the stop; the exchange has it "
                "(%s): counted as an order placed", sent.intent_id, sent.symbol,
                found.ack.status)  # fmt: skip
    diag.record_order_placed("entry", sent.symbol)
    journal.order(sent, True, found.ack.status, found.ack.exchange_order_id)  # the kill took it
    if found.ack.status != "open" and sent.intent_id is not None:
        # Done on the exchange: no fill of it is to come, and its levels must not go to a
        # position opened later on that symbol by someone else.
        ex.pending_intents.pop(sent.intent_id, None)
    ended = _ended_while_down(sent, found, ex)
    if ended is not None:
        log.warning("restart: the entry %s on %s filled and its position is gone from the "
                    "exchange: journaled as an external close", sent.intent_id, sent.symbol)  # fmt: skip
        journal.batch.external_close(ended)


def _ended_while_down(
    sent: OrderRequest, found: SentOrder, ex: Executor
) -> ExternalCloseRow | None:
    """The external close of ``sent``'s fill when the ledger, as the reconcile left it (the
    exchange's positions), holds nothing on its symbol and side; its TP/SL moved by the fill
    price as the fill would have registered them."""
    side = Side.LONG if sent.side == Side.LONG.order_side else Side.SHORT
    held = ex.ledger.get(sent.symbol)
    if found.filled <= 0 or found.average is None or (held is not None and held.side is side):
        return None
    tp, sl = sent.tp, sent.sl
    if sent.ref_price is not None and tp is not None and sl is not None:  # an entry carries all
        tp, sl = levels_at_fill(sent.ref_price, tp, sl, found.average)
    now = ex.clock.now()
    return ExternalCloseRow(
        sent.symbol, side.value, found.ts or sent.ts, found.average, found.filled, now,
        found.fee, ex.book.mark(sent.symbol), tp, sl,
    )  # fmt: skip


def _venue_order(venue: Exchange, sent: OrderRequest) -> SentOrder | None:
    try:
        if isinstance(venue, SentOrdersVenue):
            return venue.find_sent_order(sent)
        ack = venue.find_order(sent.client_order_id)
    except ExchangeError as err:  # cannot tell: the reconcile found no position for it
        log.warning("restart: looking up the entry %s failed: %r", sent.client_order_id, err)
        return None
    return None if ack is None else _ack_only(ack)


def _ack_only(ack: OrderAck) -> SentOrder:
    """An order of which only the ack is known (its fill is the reconcile's, or unknown)."""
    return SentOrder(ack, 0.0, None, None, 0.0)
