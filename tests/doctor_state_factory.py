"""Hand-made state directories for the doctor tests: a healthy baseline plus one mutator per
finding. The documents follow docs/state_files.md; ``T`` is the replay's last bar time.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from execution.clock import from_iso, to_iso

State = dict[str, dict[str, Any]]

T = "2024-01-02T00:00:00Z"
T_EPOCH = from_iso(T) or 0.0
STAGES = ("screener", "risk", "router", "positions", "exit_scanner", "state_publish")


def ago(seconds: float) -> str:
    """ISO timestamp ``seconds`` before T."""
    return to_iso(T_EPOCH - seconds) or ""


def _position(symbol: str, side: str, qty: float, entry: float, mark: float) -> dict[str, Any]:
    sign = 1 if side == "long" else -1
    pnl_pct = sign * (mark - entry) / entry
    return {
        "symbol": symbol, "side": side, "qty": qty, "entry_price": entry, "mark_price": mark,
        "notional": qty * mark, "unrealized_pnl": pnl_pct * qty * entry,
        "unrealized_pnl_pct": round(pnl_pct, 6), "entry_ts": ago(3600),
        "tp_price": None, "sl_price": None,
    }  # fmt: skip


def _entry(symbol: str, side: str, entry: float) -> dict[str, Any]:
    sign = 1 if side == "long" else -1
    return {
        "symbol": symbol, "side": side, "tp_price": entry * (1 + 0.03 * sign),
        "sl_price": entry * (1 - 0.02 * sign), "created_ts": ago(3600), "source": "strategy",
    }  # fmt: skip


def _diagnostics() -> dict[str, Any]:
    stage = {"last_success_ts": T, "last_error": None, "last_error_ts": None, "error_count": 0}
    return {
        "enabled": True,
        "veto_counters": {
            "by_reason": {"max_concurrent": 6, "var_limit": 4}, "total_signals": 40,
            "total_orders": 50, "total_vetoes": 10, "last_signal_ts": ago(60),
            "last_order_ts": ago(600), "last_veto_ts": ago(120),
        },
        "exit_pipeline": {
            "last_exit_scan_ts": T, "last_exit_trigger_ts": ago(900), "open_positions_count": 2,
            "tp_sl_registered_count": 2, "tp_sl_missing_count": 0,
            "underwater_without_tp_sl_count": 0,
        },
        "window": {
            "window_signals": 500, "window_seconds": 3600.0, "signals": 40, "vetoes": 10,
            "orders": 30, "order_failures": 0, "by_reason": {"max_concurrent": 6, "var_limit": 4},
        },
        "heatmap": {"bucket_seconds": 3600.0, "max_buckets": 24, "by_reason_symbol": {},
                    "by_reason_time": {}},
        "liveness": {
            "loop_count": 1440, "last_loop": {"signals": 0, "vetoes": 0, "orders": 0, "exits": 0},
            "stages": {s: dict(stage) for s in STAGES}, "gating": {},
        },
        "accounting": {
            "total_signals": 40, "total_vetoes": 10, "entry_orders": 30, "order_failures": 0,
            "in_flight": 0, "unaccounted": 0, "identity_ok": True,
            "orders_by_kind": {"entry": 30, "exit": 20}, "order_failures_by_kind": {},
            "order_failures_by_error": {},
        },
        "exit_triggers_by_kind": {"tp": 9, "sl": 11},
    }  # fmt: skip


def healthy_state() -> State:
    """A finished replay with two protected open positions and nothing wrong."""
    btc = _position("BTCUSDT", "long", 0.01, 60000.0, 60300.0)
    eth = _position("ETHUSDT", "short", 0.2, 3000.0, 2990.0)
    entries = {
        "BTCUSDT": _entry("BTCUSDT", "long", 60000.0),
        "ETHUSDT": _entry("ETHUSDT", "short", 3000.0),
    }
    for pos in (btc, eth):
        pos["tp_price"] = entries[pos["symbol"]]["tp_price"]
        pos["sl_price"] = entries[pos["symbol"]]["sl_price"]
    ledger = {
        p["symbol"]: {k: p[k] for k in ("symbol", "side", "qty", "entry_price", "entry_ts")}
        | {"adopted": False}
        for p in (btc, eth)
    }
    head = {"schema_version": 1, "updated_ts": T}
    engine = {
        "mode": "replay", "running": False, "pid": 999_999_999, "started_ts": ago(86400),
        "exchange": "paper", "symbols": ["BTCUSDT", "ETHUSDT"], "bars_processed": 2880,
        "config": {"exit_scan_stale_seconds": 300, "dashboard_refresh_seconds": 3.0,
                   "tp_sl_underwater_threshold_pct": -0.02, "no_signal_seconds": 3600,
                   "no_order_seconds": 21600, "dominant_veto_share": 0.8},
    }  # fmt: skip
    return {
        "intel.json": head | {"engine": engine, "bad_bars": {"total": 0, "by_symbol": {}},
                              "runtime_diagnostics": _diagnostics()},
        "positions_state.json": head | {"positions": [btc, eth]},
        "positions_ledger.json": head | {"positions": ledger, "closed_count": 20,
                                         "realized_pnl": 50.0, "fees_paid": 4.0, "last_fill_ts": ago(600)},
        "tp_sl_registry.json": head | {"entries": entries},
        "risk_snapshot.json": head | {
            "nav": 10050.0, "peak_nav": 10100.0, "drawdown_pct": 0.005, "risk_mode": "OK",
            "dd_state": "normal", "balance": 10040.0, "unrealized_pnl": 10.0, "realized_pnl": 50.0,
            "fees_paid": 4.0, "gross_exposure": 1200.0, "open_positions": 2, "trading_halted": False,
            "var": 0.002, "cvar": 0.003, "var_status": "ok",
            "limits": {"var_limit_nav_pct": 0.004, "cvar_limit_nav_pct": 0.006, "var_confidence": 0.95,
                       "dd_warn_pct": 0.05, "dd_circuit_pct": 0.08, "dd_panic_pct": 0.15,
                       "max_concurrent": 3, "symbol_cap_nav_pct": 0.12, "per_trade_nav_pct": 0.10},
        },
    }  # fmt: skip


def write_state(state_dir: Path, state: State) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in state.items():
        (state_dir / name).write_text(json.dumps(doc), encoding="utf-8")
    return state_dir


def make_state(state_dir: Path, *mutators: Callable[[State], None]) -> Path:
    """Write the healthy baseline with the mutators applied, in order."""
    state = copy.deepcopy(healthy_state())
    for mutate in mutators:
        mutate(state)
    return write_state(state_dir, state)


def _diag(state: State) -> dict[str, Any]:
    return state["intel.json"]["runtime_diagnostics"]


# --- mutators: one per finding ----------------------------------------------------------------


def add_unprotected_position(state: State, mark: float = 2850.0, symbol: str = "SOLUSDT") -> None:
    """A long at 3000 with no registry entry (underwater when mark <= 2940)."""
    pos = _position(symbol, "long", 1.0, 3000.0, mark)
    state["positions_state.json"]["positions"].append(pos)
    state["positions_ledger.json"]["positions"][symbol] = {
        "symbol": symbol, "side": "long", "qty": 1.0, "entry_price": 3000.0,
        "entry_ts": ago(3600), "adopted": False,
    }  # fmt: skip
    ep = _diag(state)["exit_pipeline"]
    ep["open_positions_count"] += 1
    ep["tp_sl_missing_count"] += 1
    ep["underwater_without_tp_sl_count"] += int(pos["unrealized_pnl_pct"] <= -0.02)


def underwater_without_tp_sl(state: State) -> None:
    add_unprotected_position(state, mark=2850.0)


def missing_tp_sl_above_water(state: State) -> None:
    add_unprotected_position(state, mark=3030.0)


def stale_exit_scanner(state: State) -> None:
    """Last exit scan an hour before the last bar, with positions open."""
    _diag(state)["exit_pipeline"]["last_exit_scan_ts"] = ago(3600)
    _diag(state)["liveness"]["stages"]["exit_scanner"]["last_success_ts"] = ago(3600)


def dominant_max_concurrent(state: State) -> None:
    """48 of the last 50 signals vetoed by max_concurrent, 2 became orders."""
    window = _diag(state)["window"]
    window.update(signals=50, vetoes=48, orders=2, by_reason={"max_concurrent": 48})


def blocked_by_caps(state: State) -> None:
    window = _diag(state)["window"]
    window.update(
        signals=30, vetoes=30, orders=0, by_reason={"max_concurrent": 20, "symbol_cap": 10}
    )


def stage_failing(state: State) -> None:
    stage = _diag(state)["liveness"]["stages"]["router"]
    stage.update(
        last_success_ts=ago(600),
        last_error="ExchangeTimeout: 504",
        last_error_ts=ago(30),
        error_count=7,
    )


def stage_recovered(state: State) -> None:
    stage = _diag(state)["liveness"]["stages"]["router"]
    stage.update(last_error="ExchangeTimeout: 504", last_error_ts=ago(600), error_count=1)


def zero_mark_price(state: State) -> None:
    state["positions_state.json"]["positions"][0]["mark_price"] = 0.0


def ledger_missing_position(state: State) -> None:
    del state["positions_ledger.json"]["positions"]["ETHUSDT"]


def risk_defensive(state: State) -> None:
    state["risk_snapshot.json"].update(risk_mode="DEFENSIVE", dd_state="warn", drawdown_pct=0.06)


def dd_panic(state: State) -> None:
    state["risk_snapshot.json"].update(risk_mode="DEFENSIVE", dd_state="panic", drawdown_pct=0.16)


def no_signals_for_two_hours(state: State) -> None:
    _diag(state)["veto_counters"]["last_signal_ts"] = ago(7200)


def no_orders_for_a_day(state: State) -> None:
    _diag(state)["veto_counters"]["last_order_ts"] = ago(86400)


def unaccounted_signals(state: State) -> None:
    _diag(state)["accounting"].update(unaccounted=3, identity_ok=False)


def live_engine_hung(state: State) -> None:
    """A live engine that says running; with the wall clock far past T it is not publishing."""
    state["intel.json"]["engine"].update(mode="live", running=True)


def corrupt(state_dir: Path, name: str, text: str = '{"schema_version": 1, "upd') -> None:
    (state_dir / name).write_text(text, encoding="utf-8")
