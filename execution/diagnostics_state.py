"""The state behind diagnostics_metrics beyond the spec's two dataclasses, and its published views.

diagnostics_metrics owns the one instance and its lock; everything here is plain data and pure
functions over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from execution.clock import to_iso
from execution.diagnostics_heatmap import OutcomeWindow, VetoHeatmap
from execution.diagnostics_hot import H, HotState

if TYPE_CHECKING:
    from execution.diagnostics_metrics import VetoCounters

STAGES = ("screener", "risk", "router", "positions", "exit_scanner", "state_publish")
# The stages every engine loop runs (state_publish records itself, outside the loop).
LOOP_STAGES = STAGES[:-1]


@dataclass(frozen=True)
class DiagnosticsSettings:
    enabled: bool = True
    window_signals: int = 500
    window_seconds: float = 3600.0
    heatmap_bucket_seconds: float = 3600.0
    heatmap_max_buckets: int = 24
    tp_sl_canary_enabled: bool = True
    tp_sl_underwater_threshold_pct: float = -0.02


@dataclass(slots=True)
class DiagnosticsExtras:
    """Everything beyond the spec's two dataclasses; guarded by diagnostics_metrics._lock."""

    settings: DiagnosticsSettings
    window: OutcomeWindow
    heatmap: VetoHeatmap
    orders_by_kind: dict[str, int] = field(default_factory=lambda: {"entry": 0, "exit": 0})
    order_failures_by_error: dict[str, int] = field(default_factory=dict)
    order_failures_by_kind: dict[str, int] = field(default_factory=lambda: {"entry": 0, "exit": 0})
    exit_triggers_by_kind: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    # The per-loop values (loop count and times, exit scan): the hot path's one HotState.
    hot: HotState = field(default_factory=lambda: H)
    # [signals, vetoes, orders, exits] of the events that share the time loop_events_t (one
    # loop), counted as they are folded; hot.last_loop_t is the time of the latest loop
    # (finished, unless read from another thread while it runs).
    loop_events: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    loop_events_t: float | None = None
    stage_success: dict[str, float] = field(default_factory=dict)
    stage_error: dict[str, tuple[float, str]] = field(default_factory=dict)
    stage_error_count: dict[str, int] = field(default_factory=dict)
    gating: dict[str, list[str]] = field(default_factory=dict)
    # Engine times of the last events, formatted into the spec's *_ts strings on read.
    last_signal: float | None = None
    last_order: float | None = None
    last_veto: float | None = None
    last_exit_trigger: float | None = None
    # The last engine time folded from each record queue: records at the head of the next
    # batch carry it (diagnostics_codes.decode).
    entries_carry: float | None = None
    exits_carry: float | None = None

    @classmethod
    def new(cls, s: DiagnosticsSettings) -> DiagnosticsExtras:
        return cls(
            settings=s,
            window=OutcomeWindow(s.window_signals, s.window_seconds),
            heatmap=VetoHeatmap(s.heatmap_bucket_seconds, s.heatmap_max_buckets),
        )


def last_loop(x: DiagnosticsExtras) -> dict[str, int]:
    """Counts of the last finished loop (caller holds the lock and has folded the events)."""
    if x.hot.loop_n == 0:
        return {}
    last_t = x.hot.last_loop_t
    same = last_t is not None and x.loop_events_t == last_t
    counts = x.loop_events if same else [0, 0, 0, 0]
    return dict(zip(("signals", "vetoes", "orders", "exits"), counts, strict=True))


def last_success(
    x: DiagnosticsExtras, stage: str, before_current_loop: bool = False
) -> float | None:
    """The last time ``stage`` succeeded: recorded on its own, or, for a LOOP_STAGES stage, the
    last loop started after its last error (the last one, or with ``before_current_loop`` the
    one before it)."""
    best = x.stage_success.get(stage)
    last = x.hot.prev_loop_t if before_current_loop else x.hot.last_loop_t
    if last is not None and stage in LOOP_STAGES:
        err = x.stage_error.get(stage)
        if (err is None or err[0] < last) and (best is None or last > best):
            best = last
    return best


def liveness(x: DiagnosticsExtras) -> dict[str, Any]:
    """The published liveness block: loop count, last loop, each stage, gating flags."""
    stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        err = x.stage_error.get(stage)
        stages[stage] = {
            "last_success_ts": to_iso(last_success(x, stage)),
            "last_error": err[1] if err else None,
            "last_error_ts": to_iso(err[0]) if err else None,
            "error_count": x.stage_error_count.get(stage, 0),
        }
    return {
        "loop_count": x.hot.loop_n,
        "last_loop": last_loop(x),
        "stages": stages,
        "gating": {sym: list(r) for sym, r in x.gating.items()},
    }


def accounting(x: DiagnosticsExtras, vc: VetoCounters) -> dict[str, Any]:
    """The accounting identity: every entry signal ends in exactly one outcome."""
    entry_orders = x.orders_by_kind.get("entry", 0)
    entry_failures = x.order_failures_by_kind.get("entry", 0)
    unaccounted = vc.total_signals - (vc.total_vetoes + entry_orders + entry_failures + x.in_flight)
    return {
        "total_signals": vc.total_signals,
        "total_vetoes": vc.total_vetoes,
        "entry_orders": entry_orders,
        "order_failures": entry_failures,
        "in_flight": x.in_flight,
        "unaccounted": unaccounted,
        "identity_ok": unaccounted == 0,
        "orders_by_kind": dict(x.orders_by_kind),
        "order_failures_by_kind": dict(x.order_failures_by_kind),
        "order_failures_by_error": dict(x.order_failures_by_error),
    }
