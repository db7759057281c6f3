"""JSON shapes the runner needs beyond the published views: pending intents, risk snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution import memory_errors as memory
from execution.clock import to_iso
from execution.memory_errors import MemoryCorrupt
from execution.risk_limits import portfolio_var
from execution.state_io import SCHEMA_VERSION
from execution.types import Intent

if TYPE_CHECKING:
    from execution.executor_live import Executor


def intent_to_dict(i: Intent) -> dict[str, Any]:
    return {
        "intent_id": i.intent_id,
        "symbol": i.symbol,
        "side": i.side.value,
        "notional": i.notional,
        "ref_price": i.ref_price,
        "tp": i.tp,
        "sl": i.sl,
        "ts": i.ts,
        "strategy": i.strategy,
    }


def intent_from_dict(raw: object, *, strict: bool = False, key: str = "") -> Intent | None:
    """Rebuild a pending intent; a malformed one gives None, or raises MemoryCorrupt if ``strict``.

    Its TP and SL become the position's registered levels once it fills, so a NaN or a string
    there would be a position that looks protected and never exits: such an intent is refused.
    """
    try:
        f = memory.Fields("pending_intents", key, raw)
        return Intent(
            intent_id=f.text("intent_id"),
            symbol=f.text("symbol"),
            side=f.side(),
            notional=f.number("notional", positive=True),
            ref_price=f.price("ref_price"),
            tp=f.price("tp"),
            sl=f.price("sl"),
            ts=f.number("ts"),
            strategy=f.text("strategy", ""),
        )
    except MemoryCorrupt:
        if strict:
            raise
        return None


def risk_snapshot(ex: Executor, now: float) -> dict[str, Any]:
    """Build risk_snapshot.json: NAV, drawdown, risk_mode/dd_state, VaR/CVaR vs limits."""
    book = ex.book
    dd = book.drawdown()
    positions = ex.ledger.get_open_positions()
    view = book.view(positions, now)
    est = portfolio_var(
        view.positions, view.returns, view.nav, ex.cfg.risk, nan_free=view.returns_nan_free
    )
    balance = ex.exchange.balance()
    r = ex.cfg.risk
    return {
        "schema_version": SCHEMA_VERSION,
        "updated_ts": to_iso(now),
        "nav": dd.nav,
        "peak_nav": dd.peak_nav,
        "drawdown_pct": dd.drawdown_pct,
        "risk_mode": dd.risk_mode,
        "dd_state": dd.dd_state,
        "balance": balance,
        "unrealized_pnl": dd.nav - balance,
        "realized_pnl": ex.ledger.realized_pnl,
        "fees_paid": ex.ledger.fees_paid,
        "gross_exposure": sum(abs(n) for n in view.positions.values()),
        "open_positions": len(positions),
        "trading_halted": view.halted or r.trading_halted,
        "var": est.var,
        "cvar": est.cvar,
        "var_status": "ok" if est.status == "flat" else est.status,
        "var_returns": est.n_returns,
        "limits": {
            "var_limit_nav_pct": r.var_limit_nav_pct,
            "cvar_limit_nav_pct": r.cvar_limit_nav_pct,
            "var_confidence": r.var_confidence,
            "dd_warn_pct": r.dd_warn_pct,
            "dd_circuit_pct": r.dd_circuit_pct,
            "dd_panic_pct": r.dd_panic_pct,
            "max_concurrent": r.max_concurrent,
            "symbol_cap_nav_pct": r.symbol_cap_nav_pct,
            "per_trade_nav_pct": r.per_trade_nav_pct,
        },
    }
