"""Publish the JSON views of the engine's memory: what the dashboard and the doctor read.

The store is the memory; these files are views of it, written atomically, so a reader never
needs the engine's lock and never sees half a file (docs/state_files.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from execution import diagnostics_metrics as diag
from execution.clock import to_iso
from execution.perps.margin import PositionRisk
from execution.perps.view import add_margin_columns
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
    executor = runner.executor
    now = runner.clock.now()
    state_dir = runner.state_dir
    if isinstance(executor.exchange, PaperExchange):
        executor.exchange.save(state_dir / PAPER_EXCHANGE_FILE)
    executor.ledger.save(state_dir / POSITIONS_LEDGER_FILE, now)
    executor.registry.save(state_dir / TP_SL_REGISTRY_FILE, now)
    diag.set_gating_flags(executor.gating())
    marks = executor.book.marks_by_symbol()
    positions = positions_state(executor.ledger, executor.registry, marks, now)
    # A venue that knows its positions' margin says it (paper; live when it reads it back).
    margin: Mapping[str, PositionRisk] = getattr(executor.exchange, "position_risk", dict)()
    exposed = add_margin_columns(positions["positions"], margin, executor.ledger.open_funding)
    diag.set_liquidation_before_stop(exposed)
    write_positions_state(positions, state_dir)
    risk = risk_snapshot(executor, now)
    write_risk_snapshot(risk, state_dir)
    diag.record_stage_success("state_publish")
    bad_bars = {"total": runner.bad_bars.total, "by_symbol": runner.bad_bars.by_symbol}
    compute_and_write_intel_state(engine_info(runner, running), bad_bars, now, state_dir)
    return risk


def engine_info(runner: EngineRunner, running: bool) -> dict[str, Any]:
    """Return the ``engine`` block of intel.json: who runs, on what, whether it can persist."""
    cfg = runner.cfg
    return {
        "mode": runner.opts.mode,
        "running": running,
        "pid": os.getpid(),
        "started_ts": to_iso(runner.started_ts),
        "exchange": runner.executor.exchange.name,
        "symbols": list(cfg.symbols),
        "bars_processed": runner.bars_done,
        "source": runner.opts.source,
        "persist_error": runner.persist_error,
        "config": {
            "exit_scan_stale_seconds": cfg.diagnostics.exit_pipeline.exit_scan_stale_seconds,
            "dashboard_refresh_seconds": cfg.dashboard.refresh_seconds,
            "tp_sl_underwater_threshold_pct": (
                cfg.diagnostics.exit_pipeline.tp_sl_underwater_threshold_pct
            ),
            "no_signal_seconds": cfg.doctor.no_signal_seconds,
            "no_order_seconds": cfg.doctor.no_order_seconds,
            "dominant_veto_share": cfg.doctor.dominant_veto_share,
            "timeframe": cfg.data.timeframe,
        },
    }
