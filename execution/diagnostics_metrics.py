"""Runtime diagnostic counters: the spec's API (PATCHSET v7.5_S0_B §2) and what its config promises.

Every function here acts on the one configured :class:`~execution.diagnostics.Diagnostics`
instance. The record calls are that instance's bound methods rather than wrappers, because the
engine makes them at every loop, signal, veto, order and exit; :func:`configure` therefore
resets the instance in place instead of replacing it, so names imported elsewhere stay bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from execution.clock import to_iso
from execution.diagnostics.core import Diagnostics
from execution.diagnostics.model import LOOP_STAGES as LOOP_STAGES
from execution.diagnostics.model import STAGES as STAGES
from execution.diagnostics.model import DiagnosticsSettings as DiagnosticsSettings
from execution.diagnostics.model import ExitPipelineStatus as ExitPipelineStatus
from execution.diagnostics.model import RuntimeDiagnosticsSnapshot as RuntimeDiagnosticsSnapshot
from execution.diagnostics.model import VetoCounters as VetoCounters

_diagnostics = Diagnostics()

# The spec's record calls.
record_signal_emitted = _diagnostics.record_signal_emitted
record_order_placed = _diagnostics.record_order_placed
record_veto = _diagnostics.record_veto
record_exit_scan_run = _diagnostics.record_exit_scan_run
record_exit_trigger = _diagnostics.record_exit_trigger
update_exit_pipeline_status = _diagnostics.update_exit_pipeline_status
# The engine's: the accounting identity's other outcomes, the loop and its stages.
record_risk_passed = _diagnostics.record_risk_passed
record_order_failed = _diagnostics.record_order_failed
record_loop = _diagnostics.record_loop  # the executor's one per-loop call
record_loop_start = _diagnostics.record_loop_start
record_loops = _diagnostics.record_loops  # a replay's quiet bars, in one call
record_loop_end = _diagnostics.record_loop_end
record_stage_success = _diagnostics.record_stage_success
record_stages_success = _diagnostics.record_stages_success
record_stage_error = _diagnostics.record_stage_error
set_gating_flags = _diagnostics.set_gating_flags
set_liquidation_before_stop = _diagnostics.set_liquidation_before_stop


def configure(
    settings: DiagnosticsSettings | None = None, clock: Callable[[], float] | None = None
) -> None:
    """Reset every counter and set the settings and the engine clock (epoch-seconds callable)."""
    _diagnostics.configure(settings or DiagnosticsSettings(), clock or time.time)


def reset_diagnostics() -> None:
    """Reset counters to a fresh, enabled state on the wall clock (for tests)."""
    configure(DiagnosticsSettings(), time.time)


def get_diagnostics() -> Diagnostics:
    """The configured instance (``execution.diagnostics.testing`` views it)."""
    return _diagnostics


def get_settings() -> DiagnosticsSettings:
    return _diagnostics.settings


def get_clock() -> Callable[[], float]:
    """The engine clock diagnostics read."""
    return _diagnostics.clock


def is_enabled() -> bool:
    return _diagnostics.enabled


def now_iso() -> str:
    """The engine clock's time, ISO-8601 UTC with a trailing Z."""
    return to_iso(_diagnostics.clock()) or ""


def get_veto_counters() -> VetoCounters:
    """Return a copy of the veto counters."""
    return _diagnostics.veto_counters()


def get_exit_status() -> ExitPipelineStatus:
    """Return a copy of the exit pipeline status."""
    return _diagnostics.exit_status()


def build_runtime_diagnostics_snapshot() -> RuntimeDiagnosticsSnapshot:
    """Return a consistent copy of every counter (taken under the lock)."""
    return _diagnostics.snapshot()


def export_state() -> dict[str, Any]:
    """Return the whole diagnostics state as JSON-ready data, for :func:`restore_state`."""
    return _diagnostics.export_state()


def restore_state(state: Mapping[str, Any]) -> None:
    """Continue exactly where an :func:`export_state` left off (ValueError if it is malformed)."""
    _diagnostics.restore_state(state)


def restore_cumulative(block: Mapping[str, Any]) -> None:
    """Continue the cumulative counters of a previous run from its published block (restart)."""
    _diagnostics.restore_cumulative(block)
