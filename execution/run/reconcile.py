"""Reconcile the ledger with the exchange's positions (at start and every N loops live).

The exchange is the truth about what is held. Positions the ledger does not know are adopted
and flagged (no TP/SL, so the under-water canary sees them); ledger positions gone from the
exchange are closed with reason external_close; quantity drift is corrected and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from execution.position_ledger import PositionLedger
from execution.position_tp_sl_registry import TpSlRegistry
from execution.types import ExchangePosition

log = logging.getLogger(__name__)

_REL_TOL = 1e-9


@dataclass(slots=True)
class ReconcileReport:
    """The symbols one reconcile adopted, closed as external_close, or corrected in quantity."""

    adopted: list[str] = field(default_factory=list)
    closed_external: list[str] = field(default_factory=list)
    qty_corrected: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return whether the reconcile changed anything."""
        return bool(self.adopted or self.closed_external or self.qty_corrected)


def reconcile(
    ledger: PositionLedger,
    registry: TpSlRegistry,
    exchange_positions: Mapping[str, ExchangePosition],
    now: float,
) -> ReconcileReport:
    """Make the ledger agree with the exchange; return what changed."""
    report = ReconcileReport()
    for symbol, held in exchange_positions.items():
        if held.qty <= 0:
            continue
        known = ledger.get(symbol)
        if known is None or known.side is not held.side:
            if known is not None:
                registry.remove(symbol)
            ledger.adopt(symbol, held.side, held.qty, held.entry_price, now)
            report.adopted.append(symbol)
            log.warning(
                "reconcile: adopted %s %s %s from the exchange", symbol, held.side, held.qty
            )
        elif abs(known.qty - held.qty) > _REL_TOL * max(known.qty, held.qty):
            log.warning("reconcile: %s qty %s -> %s (exchange)", symbol, known.qty, held.qty)
            known.qty = held.qty
            known.entry_price = held.entry_price or known.entry_price
            report.qty_corrected.append(symbol)
    for symbol in list(ledger.positions):
        on_exchange = exchange_positions.get(symbol)
        if on_exchange is None or on_exchange.qty <= 0:
            ledger.close_external(symbol)
            registry.remove(symbol)
            report.closed_external.append(symbol)
            log.warning("reconcile: %s closed outside the engine (external_close)", symbol)
    return report
