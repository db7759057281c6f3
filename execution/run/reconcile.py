"""Reconcile the ledger with the exchange's positions (at start and every N loops live).

The exchange is the truth about what is held. Positions the ledger does not know are adopted
and flagged; one that an entry the engine still waits for explains (same symbol and side: the
send timed out after the exchange took it, or the engine was stopped before it saw the fill)
gets that entry's TP/SL, any other none (the under-water canary sees it). Ledger positions gone
from the exchange are closed with reason external_close: at the price of the account's trades
that closed them where the venue shows them whole (:func:`closes_seen_by_venue`, applied as
fills first), else with their exit unseen; quantity drift is corrected and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from execution.position_ledger import LedgerPosition, PositionLedger
from execution.position_tp_sl_registry import TpSlEntry, TpSlRegistry, levels_at_fill
from execution.types import ExchangePosition, Fill, Intent, Side
from execution.venues.base import ExchangeError

log = logging.getLogger(__name__)

_REL_TOL = 1e-9


@dataclass(slots=True)
class ReconcileReport:
    """The symbols one reconcile adopted (``protected``: with a pending entry's TP/SL), closed as
    external_close, or corrected in quantity; ``explained``: the ids of the pending entries an
    adopted position was taken for (the exchange had their orders); ``ended`` holds each closed
    position as the ledger had it and its TP/SL, for the journal."""

    adopted: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)
    closed_external: list[str] = field(default_factory=list)
    qty_corrected: list[str] = field(default_factory=list)
    ended: list[tuple[LedgerPosition, TpSlEntry | None]] = field(default_factory=list, repr=False)

    @property
    def changed(self) -> bool:
        """Return whether the reconcile changed anything."""
        return bool(self.adopted or self.closed_external or self.qty_corrected)


def reconcile(
    ledger: PositionLedger,
    registry: TpSlRegistry,
    exchange_positions: Mapping[str, ExchangePosition],
    now: float,
    pending: MutableMapping[str, Intent] | None = None,
) -> ReconcileReport:
    """Make the ledger agree with the exchange; return what changed.

    ``pending``: the entries sent whose fill was not seen yet (the executor's pending intents);
    one that explains an adopted position is taken out of it and gives its TP/SL.
    """
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
            if pending:
                _protect_from_pending(registry, pending, held, now, report)
        elif abs(known.qty - held.qty) > _REL_TOL * max(known.qty, held.qty):
            log.warning("reconcile: %s qty %s -> %s (exchange)", symbol, known.qty, held.qty)
            known.qty = held.qty
            known.entry_price = held.entry_price or known.entry_price
            report.qty_corrected.append(symbol)
    for symbol in list(ledger.positions):
        if _gone(symbol, exchange_positions):
            levels = registry.get(symbol)
            pos = ledger.close_external(symbol)
            registry.remove(symbol)
            report.closed_external.append(symbol)
            if pos is not None:
                report.ended.append((pos, levels))
            log.warning("reconcile: %s closed outside the engine (external_close)", symbol)
    return report


def _gone(symbol: str, exchange_positions: Mapping[str, ExchangePosition]) -> bool:
    """Whether the exchange no longer holds the ledger's position on ``symbol``."""
    held = exchange_positions.get(symbol)
    return held is None or held.qty <= 0


@runtime_checkable
class ShowsClosingTrades(Protocol):
    """A venue that can say, from the account's trades, how a position was closed."""

    def closing_fill(self, symbol: str, side: Side, qty: float, since: float) -> Fill | None: ...


def closes_seen_by_venue(
    ledger: PositionLedger, exchange: object, exchange_positions: Mapping[str, ExchangePosition]
) -> list[Fill]:
    """The fills that closed the ledger positions gone from the exchange, where the venue's own
    trades show them whole (a hand close, a liquidation, an exit that filled just before a
    kill). Applied as fills, each becomes a closed trade at the exchange's price; the others
    stay for :func:`reconcile` to close as external_close, their exit unseen."""
    if not isinstance(exchange, ShowsClosingTrades):
        return []
    # Only trades after every fill the engine applied: an earlier one (its own partial exit)
    # must not be taken for the close. A close seen that late stays unseen, never mispriced.
    since = ledger.last_fill_ts or 0.0
    fills = []
    for symbol, pos in ledger.positions.items():
        if not _gone(symbol, exchange_positions):
            continue
        try:
            fill = exchange.closing_fill(symbol, pos.side, pos.qty, max(pos.entry_ts, since))
        except ExchangeError as err:
            log.warning("reconcile: %s: the trades that closed it are unreadable: %s", symbol, err)
            continue
        if fill is not None:
            log.warning("reconcile: %s was closed outside the engine at %s (the account's trades)",
                        symbol, fill.price)  # fmt: skip
            fills.append(fill)
    return fills


def _protect_from_pending(
    registry: TpSlRegistry, pending: MutableMapping[str, Intent], held: ExchangePosition,
    now: float, report: ReconcileReport,
) -> None:  # fmt: skip
    """Register the TP/SL of the latest pending entry on ``held``'s symbol and side, moved by
    the exchange's entry price as a fill's would be; note it in ``report``."""
    mine = [
        (i.ts, k) for k, i in pending.items() if i.symbol == held.symbol and i.side is held.side
    ]
    if not mine:
        return
    intent = pending.pop(max(mine)[1])
    report.explained.append(intent.intent_id)
    tp, sl = intent.tp, intent.sl
    if held.entry_price > 0:  # moved as a fill's would be
        tp, sl = levels_at_fill(intent.ref_price, tp, sl, held.entry_price)
    if tp <= 0 or sl <= 0:
        return
    registry.register(TpSlEntry(held.symbol, held.side, tp, sl, now))
    report.protected.append(held.symbol)
    log.warning("reconcile: %s takes the TP/SL of its pending entry %s (tp %s, sl %s)",
                held.symbol, intent.intent_id, tp, sl)  # fmt: skip
