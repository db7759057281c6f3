"""Build realistic state directories from the docs/state_files.md schema (tests and bench).

``build_state_dir(path)`` writes the five files for a small live engine: several symbols,
6 veto reasons, 24 hourly buckets, positions with and without TP/SL, one underwater without.
``build_large_state_dir`` scales it to the benchmark's 200 symbols x 12 reasons x 288 buckets.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOW = 1_717_243_200.0  # 2024-06-01T12:00:00Z; the factory's "now"
REASONS = (
    "max_concurrent", "symbol_cap", "portfolio_dd_circuit", "var_limit", "cvar_limit",
    "tier_block", "min_notional", "per_trade_nav_pct", "stale_mark", "cooldown",
    "trading_halted", "exchange_filter",
)  # fmt: skip
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "PEPEUSDT")
STAGES = ("screener", "risk", "router", "positions", "exit_scanner", "state_publish")


def iso(ts: float) -> str:
    """Epoch seconds to the state files' ISO-8601 UTC form with a Z."""
    from execution.clock import to_iso

    return str(to_iso(ts))


@dataclass(frozen=True)
class Shape:
    symbols: tuple[str, ...] = SYMBOLS
    reasons: tuple[str, ...] = REASONS[:6]
    buckets: int = 24
    bucket_seconds: float = 3600.0
    mode: str = "replay"
    now: float = NOW
    seed: int = 7


def _heatmap(shape: Shape, rng: random.Random) -> tuple[dict[str, Any], dict[str, int]]:
    by_symbol: dict[str, dict[str, int]] = {}
    by_time: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    first = (
        shape.now - shape.now % shape.bucket_seconds - (shape.buckets - 1) * shape.bucket_seconds
    )
    for rank, reason in enumerate(shape.reasons):
        weight = max(1, 40 // (rank + 1))
        per_symbol = {s: rng.randint(0, weight) for s in shape.symbols}
        per_symbol = {s: n for s, n in per_symbol.items() if n}
        total = sum(per_symbol.values())
        by_symbol[reason] = per_symbol
        by_time[reason] = _spread(total, first, shape, rng)
        totals[reason] = total
    heatmap = {
        "bucket_seconds": shape.bucket_seconds,
        "max_buckets": shape.buckets,
        "by_reason_symbol": by_symbol,
        "by_reason_time": by_time,
    }
    return heatmap, totals


def _spread(total: int, first: float, shape: Shape, rng: random.Random) -> dict[str, int]:
    out: dict[str, int] = {}
    for _ in range(total):
        key = iso(first + rng.randrange(shape.buckets) * shape.bucket_seconds)
        out[key] = out.get(key, 0) + 1
    return out


def intel(shape: Shape) -> dict[str, Any]:
    """intel.json with full runtime_diagnostics consistent with itself."""
    rng = random.Random(shape.seed)
    heatmap, by_reason = _heatmap(shape, rng)
    vetoes = sum(by_reason.values())
    entries, failures = 28, 1
    signals = vetoes + entries + failures
    window = {r: n // 2 for r, n in by_reason.items() if n // 2}
    ts = iso(shape.now - 5)
    stages = {
        s: {"last_success_ts": ts, "last_error": None, "last_error_ts": None, "error_count": 0}
        for s in STAGES
    }
    stages["router"] = {
        "last_success_ts": iso(shape.now - 900),
        "last_error": "timeout apiKey=ABCDEF0123456789 after 3 retries",
        "last_error_ts": iso(shape.now - 60),
        "error_count": 4,
    }
    gating = {s: [] for s in shape.symbols}
    gating[shape.symbols[0]] = ["max_concurrent"]
    gating[shape.symbols[-1]] = ["tier_block"]
    return {
        "schema_version": 1,
        "updated_ts": iso(shape.now),
        "engine": {
            "mode": shape.mode, "running": True, "pid": 4242, "started_ts": iso(shape.now - 86400),
            "exchange": "paper", "symbols": list(shape.symbols), "bars_processed": 12000,
            "config": {"exit_scan_stale_seconds": 300, "dashboard_refresh_seconds": 3.0,
                       "tp_sl_underwater_threshold_pct": -0.02, "no_signal_seconds": 3600,
                       "no_order_seconds": 21600, "dominant_veto_share": 0.8},
        },  # fmt: skip
        "bad_bars": {"total": 3, "by_symbol": {shape.symbols[0]: {"nan": 1, "duplicate_ts": 2}}},
        "runtime_diagnostics": {
            "enabled": True,
            "veto_counters": {
                "by_reason": by_reason, "total_signals": signals, "total_orders": entries + 22,
                "total_vetoes": vetoes, "last_signal_ts": ts, "last_order_ts": ts,
                "last_veto_ts": ts,
            },
            "exit_pipeline": {
                "last_exit_scan_ts": iso(shape.now - 30), "last_exit_trigger_ts": iso(shape.now - 600),
                "open_positions_count": 4, "tp_sl_registered_count": 2,
                "tp_sl_missing_count": 2, "underwater_without_tp_sl_count": 1,
            },
            "window": {
                "window_signals": 500, "window_seconds": 3600.0, "signals": sum(window.values()) + 20,
                "vetoes": sum(window.values()), "orders": 20, "order_failures": 0, "by_reason": window,
            },
            "heatmap": heatmap,
            "liveness": {
                "loop_count": 12000,
                "last_loop": {"signals": 1, "vetoes": 1, "orders": 0, "exits": 0},
                "stages": stages,
                "gating": gating,
            },
            "accounting": {
                "total_signals": signals, "total_vetoes": vetoes, "entry_orders": entries,
                "order_failures": failures, "in_flight": 0, "unaccounted": 0, "identity_ok": True,
                "orders_by_kind": {"entry": entries, "exit": 22},
                "order_failures_by_kind": {"entry": failures, "exit": 0},
                "order_failures_by_error": {"exchange_timeout": failures},
            },
            "exit_triggers_by_kind": {"tp": 9, "sl": 11, "signal": 2},
        },
    }  # fmt: skip


# symbol, side, entry, mark, tp, sl: two protected, two not (ETH underwater by 5%).
POSITIONS = (
    ("BTCUSDT", "long", 60000.0, 60500.0, 61800.0, 58800.0),
    ("SOLUSDT", "short", 150.0, 148.5, 141.0, 156.0),
    ("ETHUSDT", "long", 3000.0, 2850.0, None, None),
    ("XRPUSDT", "long", 0.6, 0.603, 0.63, None),
)


def _position(symbol: str, side: str, entry: float, mark: float, now: float) -> dict[str, Any]:
    sign = 1.0 if side == "long" else -1.0
    qty = round(800.0 / entry, 6)
    return {
        "symbol": symbol, "side": side, "qty": qty, "entry_price": entry, "mark_price": mark,
        "notional": qty * mark, "unrealized_pnl": sign * (mark - entry) * qty,
        "unrealized_pnl_pct": sign * (mark - entry) / entry, "entry_ts": iso(now - 3600),
    }  # fmt: skip


def positions_files(now: float) -> dict[str, dict[str, Any]]:
    """positions_state.json, positions_ledger.json and tp_sl_registry.json for POSITIONS."""
    state, ledger, registry = [], {}, {}
    for symbol, side, entry, mark, tp, sl in POSITIONS:
        pos = _position(symbol, side, entry, mark, now)
        state.append({**pos, "tp_price": tp, "sl_price": sl})
        ledger[symbol] = {"symbol": symbol, "side": side, "qty": pos["qty"],
                          "entry_price": entry, "entry_ts": pos["entry_ts"], "adopted": False}  # fmt: skip
        if tp is not None and sl is not None:
            registry[symbol] = {"symbol": symbol, "side": side, "tp_price": tp, "sl_price": sl,
                                "created_ts": pos["entry_ts"], "source": "strategy"}  # fmt: skip
    head = {"schema_version": 1, "updated_ts": iso(now - 2)}
    return {
        "positions_state.json": {**head, "positions": state},
        "positions_ledger.json": {**head, "positions": ledger, "closed_count": 17,
                                  "realized_pnl": 123.4, "fees_paid": 12.1,
                                  "last_fill_ts": iso(now - 600)},
        "tp_sl_registry.json": {**head, "entries": registry},
    }  # fmt: skip


def risk_snapshot(now: float) -> dict[str, Any]:
    """risk_snapshot.json with VaR under and CVaR over its limit."""
    return {
        "schema_version": 1, "updated_ts": iso(now - 2),
        "nav": 10123.4, "peak_nav": 10200.0, "drawdown_pct": 0.0075,
        "risk_mode": "OK", "dd_state": "normal",
        "balance": 10100.0, "unrealized_pnl": 23.4, "realized_pnl": 150.0, "fees_paid": 26.6,
        "gross_exposure": 2400.0, "open_positions": 4, "trading_halted": False,
        "var": 0.0031, "cvar": 0.0072, "var_status": "ok",
        "limits": {"var_limit_nav_pct": 0.004, "cvar_limit_nav_pct": 0.006, "var_confidence": 0.95,
                   "dd_warn_pct": 0.05, "dd_circuit_pct": 0.08, "dd_panic_pct": 0.15,
                   "max_concurrent": 3, "symbol_cap_nav_pct": 0.12, "per_trade_nav_pct": 0.10},
    }  # fmt: skip


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def build_state_dir(path: Path, shape: Shape | None = None) -> Path:
    """Write the five state files for ``shape`` (default: 7 symbols, 6 reasons) into ``path``."""
    shape = shape or Shape()
    files = {"intel.json": intel(shape), "risk_snapshot.json": risk_snapshot(shape.now)}
    files.update(positions_files(shape.now))
    for name, data in files.items():
        write_json(path / name, data)
    return path


def large_shape(n_symbols: int = 200, n_reasons: int = 12, n_buckets: int = 288) -> Shape:
    """The benchmark's shape: many symbols, every reason, a day of 5-minute buckets."""
    symbols = tuple(f"SYM{i:03d}USDT" for i in range(n_symbols))
    return Shape(symbols, REASONS[:n_reasons], n_buckets, 300.0)


def build_large_state_dir(path: Path, n_symbols: int = 200, n_reasons: int = 12,
                          n_buckets: int = 288) -> Path:  # fmt: skip
    """Write a state dir with every (reason, bucket) and (reason, symbol) cell populated."""
    shape = large_shape(n_symbols, n_reasons, n_buckets)
    build_state_dir(path, shape)
    data = json.loads((path / "intel.json").read_text())
    heatmap = data["runtime_diagnostics"]["heatmap"]
    first = shape.now - shape.now % shape.bucket_seconds - (n_buckets - 1) * shape.bucket_seconds
    keys = [iso(first + i * shape.bucket_seconds) for i in range(n_buckets)]
    heatmap["by_reason_time"] = {r: {k: 1 + (i * 7 + j) % 13 for j, k in enumerate(keys)}
                                 for i, r in enumerate(shape.reasons)}  # fmt: skip
    heatmap["by_reason_symbol"] = {r: {s: 1 + (i + j) % 9 for j, s in enumerate(shape.symbols)}
                                   for i, r in enumerate(shape.reasons)}  # fmt: skip
    by_reason = {r: sum(cells.values()) for r, cells in heatmap["by_reason_symbol"].items()}
    _set_veto_totals(data["runtime_diagnostics"], by_reason)
    write_json(path / "intel.json", data)
    return path


def _set_veto_totals(diag: dict[str, Any], by_reason: dict[str, int]) -> None:
    """Keep counters and the accounting identity consistent with a rewritten by_reason."""
    vetoes = sum(by_reason.values())
    acc = diag["accounting"]
    signals = vetoes + acc["entry_orders"] + acc["order_failures"]
    diag["veto_counters"].update(by_reason=by_reason, total_vetoes=vetoes, total_signals=signals)
    acc.update(total_vetoes=vetoes, total_signals=signals)
