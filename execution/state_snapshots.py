"""JSON shapes the runner needs beyond the published views: pending intents, risk snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution.clock import to_iso
from execution.memory_errors import Fields, MemoryCorrupt
from execution.risk_limits import portfolio_var
from execution.state_io import SCHEMA_VERSION
from execution.types import Intent

if TYPE_CHECKING:
    from execution.executor_live import Executor


def intent_to_dict(intent: Intent) -> dict[str, Any]:
    """Return a pending intent as the memory stores it (:func:`intent_from_dict` reads it)."""
    return {
        "intent_id": intent.intent_id,
        "symbol": intent.symbol,
        "side": intent.side.value,
        "notional": intent.notional,
        "ref_price": intent.ref_price,
        "tp": intent.tp,
        "sl": intent.sl,
        "ts": intent.ts,
        "strategy": intent.strategy,
    }


def intent_from_dict(raw: object, *, strict: bool = False, key: str = "") -> Intent | None:
    """Rebuild a pending intent; a malformed one gives None, or raises MemoryCorrupt if ``strict``.

    Its TP and SL become the position's registered levels once it fills, so a NaN or a string
    there would be a position that looks protected and never exits: such an intent is refused.
    """
    try:
        fields = Fields("pending_intents", key, raw)
        return Intent(
            intent_id=fields.text("intent_id"),
            symbol=fields.text("symbol"),
            side=fields.side(),
            notional=fields.number("notional", positive=True),
            ref_price=fields.price("ref_price"),
            tp=fields.price("tp"),
            sl=fields.price("sl"),
            ts=fields.number("ts"),
            strategy=fields.text("strategy", ""),
        )
    except MemoryCorrupt:
        if strict:
            raise
        return None


def risk_snapshot(executor: Executor, now: float) -> dict[str, Any]:
    """Build risk_snapshot.json: NAV, drawdown, risk_mode/dd_state, VaR/CVaR vs limits."""
    book = executor.book
    drawdown = book.drawdown()
    positions = executor.ledger.get_open_positions()
    view = book.view(positions, now)
    limits = executor.cfg.risk
    estimate = portfolio_var(
        view.positions, view.returns, view.nav, limits, nan_free=view.returns_nan_free
    )
    balance = executor.exchange.balance()
    return {
        "schema_version": SCHEMA_VERSION,
        "updated_ts": to_iso(now),
        "nav": drawdown.nav,
        "peak_nav": drawdown.peak_nav,
        "drawdown_pct": drawdown.drawdown_pct,
        "risk_mode": drawdown.risk_mode,
        "dd_state": drawdown.dd_state,
        "balance": balance,
        "unrealized_pnl": drawdown.nav - balance,
        "realized_pnl": executor.ledger.realized_pnl,
        "fees_paid": executor.ledger.fees_paid,
        "gross_exposure": sum(abs(n) for n in view.positions.values()),
        "open_positions": len(positions),
        "trading_halted": view.halted or limits.trading_halted,
        "var": estimate.var,
        "cvar": estimate.cvar,
        # A flat book has no VaR to judge: for the reader that is "ok", not a failure.
        "var_status": "ok" if estimate.status == "flat" else estimate.status,
        "var_returns": estimate.n_returns,
        "limits": {
            "var_limit_nav_pct": limits.var_limit_nav_pct,
            "cvar_limit_nav_pct": limits.cvar_limit_nav_pct,
            "var_confidence": limits.var_confidence,
            "dd_warn_pct": limits.dd_warn_pct,
            "dd_circuit_pct": limits.dd_circuit_pct,
            "dd_panic_pct": limits.dd_panic_pct,
            "max_concurrent": limits.max_concurrent,
            "symbol_cap_nav_pct": limits.symbol_cap_nav_pct,
            "per_trade_nav_pct": limits.per_trade_nav_pct,
        },
    }
