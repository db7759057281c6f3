"""Settle, at a restart, the entries the memory shows in flight: their outcome died with a kill.

A live engine commits just before it sends an entry: the intent pending, diagnostics counting it
in flight (passed risk, no order outcome yet), the intent's id stored as ``entry_in_flight``. A
kill before the loop's next commit leaves that memory, and nothing after the restart would ever
count an outcome for it: the accounting identity (signals = vetoes + entry orders + entry
failures + in flight) would show an entry in flight for ever. The restart counts it from what
the exchange says, once: an order placed when the exchange holds its position (the reconcile
adopted one for it) or its order, else a failed order, ``lost_at_restart``. The intent stays
pending either way (an order the exchange takes late still gets its TP/SL).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from execution import diagnostics_metrics as diag
from execution.run.reconcile import ReconcileReport
from execution.types import OrderRequest
from execution.venues.base import Exchange, ExchangeError

log = logging.getLogger(__name__)

LOST_AT_RESTART = "lost_at_restart"  # one of order_router.ERROR_CATEGORIES


def settle_in_flight(
    diagnostics: Mapping[str, Any], sent: OrderRequest | None, report: ReconcileReport,
    venue: Exchange,
) -> tuple[str, str] | None:  # fmt: skip
    """Count an outcome for every entry the restored ``diagnostics`` hold in flight; return the
    status and venue order id of ``sent`` when the exchange has it (for its journal row).

    ``sent``: the entry order the last commit was made for, as it was sent (None: no pre-send
    commit, or an older memory); ``report``, the restart's reconcile, says which pending
    entries the exchange's positions explained.
    """
    count = int(diagnostics.get("in_flight") or 0)
    if count <= 0:
        return None
    placed = None
    if sent is not None:
        count -= 1
        placed = ("filled", "") if sent.intent_id in report.explained else _venue_order(venue, sent)
        if placed is not None:
            log.warning("restart: the entry %s on %s was in flight at the stop; the exchange "
                        "has it: counted as an order placed", sent.intent_id, sent.symbol)  # fmt: skip
            diag.record_order_placed("entry", sent.symbol)
        else:
            log.warning("restart: the entry %s on %s was in flight at the stop and the exchange "
                        "does not have it: counted as a failed order (%s)", sent.intent_id,
                        sent.symbol, LOST_AT_RESTART)  # fmt: skip
            diag.record_order_failed(LOST_AT_RESTART, "entry", sent.symbol)
    for _ in range(count):  # in flight, but no commit says which entry: nothing can find it
        log.warning("restart: an entry of unknown id was in flight at the stop: counted as a "
                    "failed order (%s)", LOST_AT_RESTART)  # fmt: skip
        diag.record_order_failed(LOST_AT_RESTART, "entry")
    return placed


def _venue_order(venue: Exchange, sent: OrderRequest) -> tuple[str, str] | None:
    try:
        ack = venue.find_order(sent.client_order_id)
    except ExchangeError as err:  # cannot tell: the reconcile found no position for it
        log.warning("restart: looking up the entry %s failed: %r", sent.client_order_id, err)
        return None
    return None if ack is None else (ack.status, ack.exchange_order_id)
