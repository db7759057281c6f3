"""Publish the engine's state files (intel.json with runtime_diagnostics, positions, risk).

Pure builders turn engine objects into the documented JSON (docs/state_files.md); the writers
put them on disk atomically. The caller (the runner) throttles publishing with
:class:`PublishThrottle`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from execution.clock import to_iso
from execution.diagnostics_metrics import build_runtime_diagnostics_snapshot
from execution.position_ledger import PositionLedger
from execution.position_tp_sl_registry import TpSlRegistry
from execution.state_io import SCHEMA_VERSION, write_json_atomic
from execution.state_v7 import (
    INTEL_FILE,
    POSITIONS_STATE_FILE,
    RISK_SNAPSHOT_FILE,
    resolve_state_dir,
)

INTEL_STATE_PATH = Path("logs/state") / INTEL_FILE  # default; the engine passes its state dir


def write_runtime_diagnostics_state(state: dict[str, Any]) -> None:
    """Write the spec's ``runtime_diagnostics`` block (and what the config promises) into state."""
    snapshot = build_runtime_diagnostics_snapshot()
    if not snapshot.enabled:
        state["runtime_diagnostics"] = {"enabled": False}
        return
    counters = snapshot.veto_counters
    exits = snapshot.exit_pipeline_status
    state["runtime_diagnostics"] = {
        "enabled": True,
        "veto_counters": {
            "by_reason": counters.by_reason,
            "total_signals": counters.total_signals,
            "total_orders": counters.total_orders,
            "total_vetoes": counters.total_vetoes,
            "last_signal_ts": counters.last_signal_ts,
            "last_order_ts": counters.last_order_ts,
            "last_veto_ts": counters.last_veto_ts,
        },
        "exit_pipeline": {
            "last_exit_scan_ts": exits.last_exit_scan_ts,
            "last_exit_trigger_ts": exits.last_exit_trigger_ts,
            "open_positions_count": exits.open_positions_count,
            "tp_sl_registered_count": exits.tp_sl_registered_count,
            "tp_sl_missing_count": exits.tp_sl_missing_count,
            "underwater_without_tp_sl_count": exits.underwater_without_tp_sl_count,
            "liquidation_before_stop_count": exits.liquidation_before_stop_count,
        },
        "window": snapshot.window,
        "heatmap": snapshot.heatmap,
        "veto_causes": snapshot.veto_causes,  # every failing check, beside the first (by_reason)
        "veto_timeline": snapshot.veto_timeline,  # every veto since the start, bounded columns
        "veto_observed": snapshot.veto_observed,  # each reason's latest value against its limit
        "liveness": snapshot.liveness,
        "accounting": snapshot.accounting,
        "exit_triggers_by_kind": snapshot.exit_triggers_by_kind,
    }


def _write_json_state(path: str | Path, state: dict[str, Any]) -> None:
    write_json_atomic(path, state)


def compute_and_write_intel_state(
    engine: Mapping[str, Any],
    bad_bars: Mapping[str, Any],
    now: float,
    state_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Build intel.json (engine identity, bad bars, runtime_diagnostics) and write it."""
    state: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "updated_ts": to_iso(now),
        "engine": dict(engine),
        "bad_bars": dict(bad_bars),
    }
    write_runtime_diagnostics_state(state)
    _write_json_state(resolve_state_dir(state_dir) / INTEL_FILE, state)
    return state


def positions_state(
    ledger: PositionLedger, registry: TpSlRegistry, marks: Mapping[str, float], now: float
) -> dict[str, Any]:
    """Build positions_state.json: each open position with its mark, PnL and TP/SL."""
    rows = []
    for p in ledger.get_open_positions():
        mark = marks.get(p.symbol, 0.0)
        entry = registry.get(p.symbol)
        rows.append(
            {
                "symbol": p.symbol,
                "side": p.side.value,
                "qty": p.qty,
                "entry_price": p.entry_price,
                "mark_price": mark,
                "notional": p.qty * mark,
                "unrealized_pnl": p.unrealized_pnl(mark) if mark > 0 else 0.0,
                "unrealized_pnl_pct": p.unrealized_pnl_pct(mark) if mark > 0 else 0.0,
                "entry_ts": to_iso(p.entry_ts),
                "tp_price": entry.tp_price if entry else None,
                "sl_price": entry.sl_price if entry else None,
                "adopted": p.adopted,
            }
        )
    return {"schema_version": SCHEMA_VERSION, "updated_ts": to_iso(now), "positions": rows}


def write_positions_state(state: dict[str, Any], state_dir: str | Path | None = None) -> None:
    """Write positions_state.json (built by :func:`positions_state`) atomically."""
    _write_json_state(resolve_state_dir(state_dir) / POSITIONS_STATE_FILE, state)


def write_risk_snapshot(snapshot: dict[str, Any], state_dir: str | Path | None = None) -> None:
    """Write risk_snapshot.json atomically."""
    _write_json_state(resolve_state_dir(state_dir) / RISK_SNAPSHOT_FILE, snapshot)


# A publish waits at least this many times the last one's duration, so that publishing takes
# at most about 1/(1 + PUBLISH_COST_FACTOR) of a replay however large the files grow, and the
# wall interval alone paces it while a publish stays under min_interval / PUBLISH_COST_FACTOR.
PUBLISH_COST_FACTOR = 10.0
# ...but never longer than this between two publishes: a dashboard still sees the engine move.
PUBLISH_MAX_WAIT_SECONDS = 5.0


class PublishThrottle:
    """Publish at most every ``min_interval`` wall seconds (longer after a slow publish: see
    :data:`PUBLISH_COST_FACTOR`; 0 publishes at every loop), and in replay every N bars too."""

    def __init__(self, min_interval_seconds: float, every_bars: int | None) -> None:
        self.min_interval = min_interval_seconds
        self.every_bars = every_bars
        self._last_wall = 0.0
        self._last_bars = 0
        self._wait = min_interval_seconds

    def due(self, bars_processed: int) -> bool:
        """Return whether a publish is due (the wait passed, or N bars in a replay)."""
        if time.monotonic() - self._last_wall >= self._wait:
            return True
        return self.every_bars is not None and bars_processed - self._last_bars >= self.every_bars

    def next_check(self, bars_processed: int, stride: int) -> int:
        """Return the bar count at which a loop checking every ``stride`` bars asks again.

        Never past the next N-bar publish, so that a publish every N bars still happens at the
        Nth bar.
        """
        at = bars_processed + stride
        if self.every_bars is not None:
            at = min(at, self._last_bars + self.every_bars)
        return max(at, bars_processed + 1)

    def mark(self, bars_processed: int, took_seconds: float = 0.0) -> None:
        """Note that a publish that took ``took_seconds`` ended now, at ``bars_processed`` bars."""
        self._last_wall = time.monotonic()
        self._last_bars = bars_processed
        if self.min_interval > 0:  # (0 asks for a publish at every loop: kept so)
            by_cost = min(PUBLISH_COST_FACTOR * took_seconds, PUBLISH_MAX_WAIT_SECONDS)
            self._wait = max(self.min_interval, by_cost)
