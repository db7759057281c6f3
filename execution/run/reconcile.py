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
    adopted: list[str] = field(default_factory=list)
    closed_external: list[str] = field(default_factory=list)
    qty_corrected: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.adopted or self.closed_external or self.qty_corrected)


def reconcile(
    ledger: PositionLedger,
    registry: TpSlRegistry,
    exchange_positions: Mapping[str, ExchangePosition],
    now: float,
) -> ReconcileReport:
    """Make the ledger agree with the exchange; return what changed."""
    report = ReconcileReport()
    for symbol, xp in exchange_positions.items():
        if xp.qty <= 0:
            continue
        pos = ledger.get(symbol)
        if pos is None or pos.side is not xp.side:
            if pos is not None:
                registry.remove(symbol)
            ledger.adopt(symbol, xp.side, xp.qty, xp.entry_price, now)
            report.adopted.append(symbol)
            log.warning("reconcile: adopted %s %s %s from the exchange", symbol, xp.side, xp.qty)
        elif abs(pos.qty - xp.qty) > _REL_TOL * max(pos.qty, xp.qty):
            log.warning("reconcile: %s qty %s -> %s (exchange)", symbol, pos.qty, xp.qty)
            pos.qty = xp.qty
            pos.entry_price = xp.entry_price or pos.entry_price
            report.qty_corrected.append(symbol)
    for symbol in list(ledger.positions):
        held = exchange_positions.get(symbol)
        if held is None or held.qty <= 0:
            ledger.close_external(symbol)
            registry.remove(symbol)
            report.closed_external.append(symbol)
            log.warning("reconcile: %s closed outside the engine (external_close)", symbol)
    return report
