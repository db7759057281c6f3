"""Publish the JSON views of the engine's memory: what the dashboard and the doctor read.

The store is the memory; these files are views of it, written atomically, so a reader never
needs the engine's lock and never sees half a file (docs/state_files.md).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from execution import diagnostics_metrics as diag
from execution.clock import to_iso
from execution.state_publish import (
    compute_and_write_intel_state,
    positions_state,
    write_positions_state,
    write_risk_snapshot,
)
from execution.state_snapshots import risk_snapshot
from execution.state_v7 import PAPER_EXCHANGE_FILE, POSITIONS_LEDGER_FILE, TP_SL_REGISTRY_FILE
from execution.venues.paper import PaperExchange

if TYPE_CHECKING:
    from execution.run.runner import EngineRunner


def publish_views(runner: EngineRunner, running: bool) -> dict[str, Any]:
    """Write every view file; return the risk snapshot (the metrics exporter serves it)."""
    ex = runner.executor
    now = runner.clock.now()
    d = runner.state_dir
    if isinstance(ex.exchange, PaperExchange):
        ex.exchange.save(d / PAPER_EXCHANGE_FILE)
    ex.ledger.save(d / POSITIONS_LEDGER_FILE, now)
    ex.registry.save(d / TP_SL_REGISTRY_FILE, now)
    diag.set_gating_flags(ex.gating())
    marks = ex.book.marks_by_symbol()
    write_positions_state(positions_state(ex.ledger, ex.registry, marks, now), d)
    risk = risk_snapshot(ex, now)
    write_risk_snapshot(risk, d)
    diag.record_stage_success("state_publish")
    bad = {"total": runner.bad_bars.total, "by_symbol": runner.bad_bars.by_symbol}
    compute_and_write_intel_state(engine_info(runner, running), bad, now, d)
    return risk


def engine_info(runner: EngineRunner, running: bool) -> dict[str, Any]:
    """The ``engine`` block of intel.json: who runs, on what, and whether it can persist."""
    c = runner.cfg
    return {
        "mode": runner.opts.mode,
        "running": running,
        "pid": os.getpid(),
        "started_ts": to_iso(runner.started_ts),
        "exchange": runner.executor.exchange.name,
        "symbols": list(c.symbols),
        "bars_processed": runner.bars_done,
        "source": runner.opts.source,
        "persist_error": runner.persist_error,
        "config": {
            "exit_scan_stale_seconds": c.diagnostics.exit_pipeline.exit_scan_stale_seconds,
            "dashboard_refresh_seconds": c.dashboard.refresh_seconds,
            "tp_sl_underwater_threshold_pct": (
                c.diagnostics.exit_pipeline.tp_sl_underwater_threshold_pct
            ),
            "no_signal_seconds": c.doctor.no_signal_seconds,
            "no_order_seconds": c.doctor.no_order_seconds,
            "dominant_veto_share": c.doctor.dominant_veto_share,
            "timeframe": c.data.timeframe,
        },
    }
