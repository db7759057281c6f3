"""Loaders for the state files (used by the dashboard, the doctor and engine restarts).

Every loader returns a dict and never raises or blocks: a missing or corrupt file gives ``{}``
(a FIFO, a symlink loop or a 5000-digit integer is "corrupt", see
:func:`execution.state_io.read_json_defensive`); callers that must say *why* use
:func:`read_state_file`, which carries the status and error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from execution.clock import from_iso
from execution.state_io import JsonRead, read_json_defensive

DEFAULT_STATE_DIR = "logs/state"
STATE_DIR_ENV = "V7_STATE_DIR"

INTEL_FILE = "intel.json"
POSITIONS_STATE_FILE = "positions_state.json"
POSITIONS_LEDGER_FILE = "positions_ledger.json"
TP_SL_REGISTRY_FILE = "tp_sl_registry.json"
RISK_SNAPSHOT_FILE = "risk_snapshot.json"
PAPER_EXCHANGE_FILE = "paper_exchange.json"

STATE_FILES = (
    INTEL_FILE,
    POSITIONS_STATE_FILE,
    POSITIONS_LEDGER_FILE,
    TP_SL_REGISTRY_FILE,
    RISK_SNAPSHOT_FILE,
)


def resolve_state_dir(state_dir: str | Path | None = None) -> Path:
    """Return the state dir: the argument, else $V7_STATE_DIR, else logs/state."""
    if state_dir:
        return Path(state_dir)
    env = os.environ.get(STATE_DIR_ENV)
    return Path(env) if env else Path(DEFAULT_STATE_DIR)


def read_state_file(name: str, state_dir: str | Path | None = None) -> JsonRead:
    """Read one state file defensively, keeping its status (ok/missing/empty/corrupt)."""
    return read_json_defensive(resolve_state_dir(state_dir) / name)


def read_all_state_files(state_dir: str | Path | None = None) -> dict[str, JsonRead]:
    """Read the five published state files; one unreadable file never hides the others."""
    return {name: read_state_file(name, state_dir) for name in STATE_FILES}


def age_reference(intel: Mapping[str, Any], wall_now: float) -> tuple[float, str]:
    """Return the "now" that state ages are measured against, and where it comes from.

    A replay stamps bar times, so wall-clock ages would be years: there the reference is
    intel.json ``updated_ts`` (the last bar published). Live and real-time paper runs stamp the
    wall clock, so the reference is the wall clock. The dashboard and the doctor share this rule.
    """
    engine = intel.get("engine")
    if isinstance(engine, dict) and engine.get("mode") == "replay":
        published = intel.get("updated_ts")
        bar_now = from_iso(published) if isinstance(published, str) else None
        if bar_now is not None:
            return bar_now, "replay bar time (intel.json updated_ts)"
    return wall_now, "wall clock"


def _section(read: JsonRead, key: str) -> dict[str, Any]:
    value = read.data.get(key, {})
    return value if isinstance(value, dict) else {}


def load_runtime_diagnostics_state(state_dir: str | Path | None = None) -> dict[str, Any]:
    """Load runtime diagnostics (veto_counters, exit_pipeline, ...) from intel.json; {} if absent."""
    return _section(read_state_file(INTEL_FILE, state_dir), "runtime_diagnostics")


def load_intel_state(state_dir: str | Path | None = None) -> dict[str, Any]:
    """Load the whole intel.json; {} if missing or corrupt."""
    return read_state_file(INTEL_FILE, state_dir).data


def load_positions_state(state_dir: str | Path | None = None) -> dict[str, Any]:
    """Load positions_state.json (positions with marks and unrealized PnL); {} if absent."""
    return read_state_file(POSITIONS_STATE_FILE, state_dir).data


def load_positions_ledger(state_dir: str | Path | None = None) -> dict[str, Any]:
    """Load positions_ledger.json; {} if absent."""
    return read_state_file(POSITIONS_LEDGER_FILE, state_dir).data


def load_tp_sl_registry(state_dir: str | Path | None = None) -> dict[str, Any]:
    """Load tp_sl_registry.json; {} if absent."""
    return read_state_file(TP_SL_REGISTRY_FILE, state_dir).data


def load_risk_snapshot(state_dir: str | Path | None = None) -> dict[str, Any]:
    """Load risk_snapshot.json (NAV, drawdown, risk_mode, dd_state, VaR/CVaR); {} if absent."""
    return read_state_file(RISK_SNAPSHOT_FILE, state_dir).data
