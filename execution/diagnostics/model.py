"""What diagnostics publish (the spec's dataclasses), their settings and the stages they watch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execution.types import VetoReason

STAGES = ("screener", "risk", "router", "positions", "exit_scanner", "state_publish")
# The stages every engine loop runs (state_publish records itself, outside the loop).
LOOP_STAGES = STAGES[:-1]

# A veto's reason, whether given as the enum or as its value, to the plain string it is
# counted under (a StrEnum hashes as its value, so one lookup serves both).
REASON_KEYS: dict[str, str] = {reason.value: reason.value for reason in VetoReason}


def unknown_reason(reason: object) -> ValueError:
    valid = ", ".join(REASON_KEYS)
    return ValueError(f"unknown veto reason {reason!r}: expected one of {valid}")


@dataclass(frozen=True)
class DiagnosticsSettings:
    enabled: bool = True
    window_signals: int = 500
    window_seconds: float = 3600.0
    heatmap_bucket_seconds: float = 3600.0
    heatmap_max_buckets: int = 24
    tp_sl_canary_enabled: bool = True
    tp_sl_underwater_threshold_pct: float = -0.02


@dataclass
class VetoCounters:
    by_reason: dict[str, int] = field(default_factory=dict)
    total_signals: int = 0
    total_orders: int = 0
    total_vetoes: int = 0
    last_veto_ts: str | None = None
    last_order_ts: str | None = None
    last_signal_ts: str | None = None


@dataclass
class ExitPipelineStatus:
    last_exit_scan_ts: str | None = None
    last_exit_trigger_ts: str | None = None
    open_positions_count: int = 0
    tp_sl_registered_count: int = 0
    tp_sl_missing_count: int = 0
    underwater_without_tp_sl_count: int = 0
    # Positions whose liquidation price comes before their stop (no stop, or one beyond it):
    # unprotected in fact (perpetuals; set at each publish from the venue's margin).
    liquidation_before_stop_count: int = 0


@dataclass
class RuntimeDiagnosticsSnapshot:
    veto_counters: VetoCounters
    exit_pipeline_status: ExitPipelineStatus
    enabled: bool = True
    window: dict[str, Any] = field(default_factory=dict)
    heatmap: dict[str, Any] = field(default_factory=dict)
    liveness: dict[str, Any] = field(default_factory=dict)
    accounting: dict[str, Any] = field(default_factory=dict)
    exit_triggers_by_kind: dict[str, int] = field(default_factory=dict)
    # Every failing check of the vetoed signals (execution/diagnostics/causes.py).
    veto_causes: dict[str, Any] = field(default_factory=dict)
    # Every veto since the start by reason and time, in bounded columns (diagnostics/timeline.py).
    veto_timeline: dict[str, Any] = field(default_factory=dict)
    # The observed value against its limit of each reason's latest veto (what the verdict quotes).
    veto_observed: dict[str, Any] = field(default_factory=dict)
