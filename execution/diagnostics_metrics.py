"""Runtime diagnostic counters: the spec's API (PATCHSET v7.5_S0_B §2) and what its config promises.

Diagnostics observe; they never decide. Every ``record_*`` is O(1), takes one short lock, and is
a near-free no-op when diagnostics are disabled. Timestamps come from the engine clock
(:func:`configure`), so a replay's counters carry the bars' times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from execution.clock import to_iso
from execution.diagnostics_heatmap import FAILED, ORDER, VETO, Outcome, OutcomeWindow, VetoHeatmap

STAGES = ("screener", "risk", "router", "positions", "exit_scanner", "state_publish")


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
class _Extras:
    """Everything beyond the spec's two dataclasses; guarded by _lock."""

    settings: DiagnosticsSettings
    window: OutcomeWindow
    heatmap: VetoHeatmap
    orders_by_kind: dict[str, int] = field(default_factory=lambda: {"entry": 0, "exit": 0})
    order_failures_by_error: dict[str, int] = field(default_factory=dict)
    order_failures_by_kind: dict[str, int] = field(default_factory=lambda: {"entry": 0, "exit": 0})
    exit_triggers_by_kind: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    loop_count: int = 0
    loop_start_totals: tuple[int, int, int, int] = (0, 0, 0, 0)
    last_loop: dict[str, int] = field(default_factory=dict)
    stage_success: dict[str, float] = field(default_factory=dict)
    stage_error: dict[str, tuple[float, str]] = field(default_factory=dict)
    stage_error_count: dict[str, int] = field(default_factory=dict)
    gating: dict[str, list[str]] = field(default_factory=dict)
    last_exit_scan: float | None = None

    @classmethod
    def new(cls, s: DiagnosticsSettings) -> _Extras:
        return cls(
            settings=s,
            window=OutcomeWindow(s.window_signals, s.window_seconds),
            heatmap=VetoHeatmap(s.heatmap_bucket_seconds, s.heatmap_max_buckets),
        )


_lock = threading.Lock()
_clock: Callable[[], float] = time.time
_enabled = True
_veto_counters = VetoCounters()
_exit_status = ExitPipelineStatus()
_x = _Extras.new(DiagnosticsSettings())


def get_veto_counters() -> VetoCounters:
    return _veto_counters


def get_exit_status() -> ExitPipelineStatus:
    _sync_exit_scan_ts()
    return _exit_status


def get_settings() -> DiagnosticsSettings:
    return _x.settings


def is_enabled() -> bool:
    return _enabled


def configure(
    settings: DiagnosticsSettings | None = None, clock: Callable[[], float] | None = None
) -> None:
    """Reset every counter and set the settings and the engine clock (epoch-seconds callable)."""
    global _clock, _enabled, _veto_counters, _exit_status, _x
    s = settings or DiagnosticsSettings()
    with _lock:
        _clock = clock or time.time
        _enabled = s.enabled
        _veto_counters = VetoCounters()
        _exit_status = ExitPipelineStatus()
        _x = _Extras.new(s)


def reset_diagnostics() -> None:
    """Reset counters to a fresh, enabled state on the wall clock (for tests)."""
    configure(DiagnosticsSettings(), time.time)


def now_iso() -> str:
    return to_iso(_clock()) or ""


# --- signal / order / veto --------------------------------------------------------------------


def record_signal_emitted(symbol: str | None = None) -> None:
    if not _enabled:
        return
    ts = now_iso()
    with _lock:
        vc = _veto_counters
        vc.total_signals += 1
        vc.last_signal_ts = ts


def record_risk_passed(symbol: str | None = None) -> None:
    """An entry signal passed risk and is on its way to the exchange (in flight)."""
    if not _enabled:
        return
    with _lock:
        _x.in_flight += 1


def record_order_placed(kind: str = "entry", symbol: str | None = None) -> None:
    if not _enabled:
        return
    t = _clock()
    ts = to_iso(t)
    with _lock:
        vc = _veto_counters
        vc.total_orders += 1
        vc.last_order_ts = ts
        _x.orders_by_kind[kind] = _x.orders_by_kind.get(kind, 0) + 1
        if kind == "entry":
            _x.in_flight = max(0, _x.in_flight - 1)
            _x.window.add(Outcome(t, ORDER, None, symbol))


def record_order_failed(error: str, kind: str = "entry", symbol: str | None = None) -> None:
    if not _enabled:
        return
    t = _clock()
    with _lock:
        _x.order_failures_by_error[error] = _x.order_failures_by_error.get(error, 0) + 1
        _x.order_failures_by_kind[kind] = _x.order_failures_by_kind.get(kind, 0) + 1
        if kind == "entry":
            _x.in_flight = max(0, _x.in_flight - 1)
            _x.window.add(Outcome(t, FAILED, error, symbol))


def record_veto(reason: str, symbol: str | None = None) -> None:
    if not _enabled:
        return
    t = _clock()
    ts = to_iso(t)
    with _lock:
        vc = _veto_counters
        vc.total_vetoes += 1
        vc.by_reason[reason] = vc.by_reason.get(reason, 0) + 1
        vc.last_veto_ts = ts
        _x.window.add(Outcome(t, VETO, reason, symbol))
        _x.heatmap.add(reason, symbol, t)


# --- exit pipeline ----------------------------------------------------------------------------


def record_exit_scan_run() -> None:
    if not _enabled:
        return
    # Called every loop: keep the float, format it only when someone reads it.
    _x.last_exit_scan = _clock()


def _sync_exit_scan_ts() -> None:
    if _x.last_exit_scan is not None:
        _exit_status.last_exit_scan_ts = to_iso(_x.last_exit_scan)


def record_exit_trigger(kind: str | None = None, symbol: str | None = None) -> None:
    if not _enabled:
        return
    ts = now_iso()
    with _lock:
        _exit_status.last_exit_trigger_ts = ts
        key = kind or "unknown"
        _x.exit_triggers_by_kind[key] = _x.exit_triggers_by_kind.get(key, 0) + 1


def update_exit_pipeline_status(
    open_positions_count: int,
    tp_sl_registered_count: int,
    tp_sl_missing_count: int,
    underwater_without_tp_sl_count: int,
) -> None:
    if not _enabled:
        return
    with _lock:
        es = _exit_status
        es.open_positions_count = open_positions_count
        es.tp_sl_registered_count = tp_sl_registered_count
        es.tp_sl_missing_count = tp_sl_missing_count
        es.underwater_without_tp_sl_count = underwater_without_tp_sl_count


# --- liveness ---------------------------------------------------------------------------------


def record_stage_success(stage: str) -> None:
    if not _enabled:
        return
    _x.stage_success[stage] = _clock()


def record_stages_success(stages: Iterable[str]) -> None:
    """Mark several stages alive at one engine time (one call per loop)."""
    if not _enabled:
        return
    t = _clock()
    for stage in stages:
        _x.stage_success[stage] = t


def record_stage_error(stage: str, error: BaseException | str) -> None:
    if not _enabled:
        return
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    with _lock:
        _x.stage_error[stage] = (_clock(), text[:300])
        _x.stage_error_count[stage] = _x.stage_error_count.get(stage, 0) + 1


def record_loop_start() -> None:
    if not _enabled:
        return
    vc = _veto_counters
    _x.loop_start_totals = (
        vc.total_signals,
        vc.total_vetoes,
        vc.total_orders,
        sum(_x.exit_triggers_by_kind.values()),
    )


def record_loop_end() -> None:
    if not _enabled:
        return
    vc = _veto_counters
    s0, v0, o0, e0 = _x.loop_start_totals
    _x.loop_count += 1
    _x.last_loop = {
        "signals": vc.total_signals - s0,
        "vetoes": vc.total_vetoes - v0,
        "orders": vc.total_orders - o0,
        "exits": sum(_x.exit_triggers_by_kind.values()) - e0,
    }


def set_gating_flags(flags: Mapping[str, Iterable[str]]) -> None:
    """Set, per symbol, the checks that would block a new entry right now."""
    if not _enabled:
        return
    with _lock:
        _x.gating = {sym: list(reasons) for sym, reasons in flags.items()}


# --- snapshot ---------------------------------------------------------------------------------


def _liveness() -> dict[str, Any]:
    stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        err = _x.stage_error.get(stage)
        stages[stage] = {
            "last_success_ts": to_iso(_x.stage_success.get(stage)),
            "last_error": err[1] if err else None,
            "last_error_ts": to_iso(err[0]) if err else None,
            "error_count": _x.stage_error_count.get(stage, 0),
        }
    return {
        "loop_count": _x.loop_count,
        "last_loop": dict(_x.last_loop),
        "stages": stages,
        "gating": {sym: list(r) for sym, r in _x.gating.items()},
    }


def _accounting() -> dict[str, Any]:
    vc = _veto_counters
    entry_orders = _x.orders_by_kind.get("entry", 0)
    entry_failures = _x.order_failures_by_kind.get("entry", 0)
    unaccounted = vc.total_signals - (
        vc.total_vetoes + entry_orders + entry_failures + _x.in_flight
    )
    return {
        "total_signals": vc.total_signals,
        "total_vetoes": vc.total_vetoes,
        "entry_orders": entry_orders,
        "order_failures": entry_failures,
        "in_flight": _x.in_flight,
        "unaccounted": unaccounted,
        "identity_ok": unaccounted == 0,
        "orders_by_kind": dict(_x.orders_by_kind),
        "order_failures_by_kind": dict(_x.order_failures_by_kind),
        "order_failures_by_error": dict(_x.order_failures_by_error),
    }


def build_runtime_diagnostics_snapshot() -> RuntimeDiagnosticsSnapshot:
    """Return a consistent copy of every counter (taken under the lock)."""
    with _lock:
        _sync_exit_scan_ts()
        vc = _veto_counters
        veto_copy = VetoCounters(
            by_reason=dict(vc.by_reason),
            total_signals=vc.total_signals,
            total_orders=vc.total_orders,
            total_vetoes=vc.total_vetoes,
            last_veto_ts=vc.last_veto_ts,
            last_order_ts=vc.last_order_ts,
            last_signal_ts=vc.last_signal_ts,
        )
        es = _exit_status
        exit_copy = ExitPipelineStatus(
            last_exit_scan_ts=es.last_exit_scan_ts,
            last_exit_trigger_ts=es.last_exit_trigger_ts,
            open_positions_count=es.open_positions_count,
            tp_sl_registered_count=es.tp_sl_registered_count,
            tp_sl_missing_count=es.tp_sl_missing_count,
            underwater_without_tp_sl_count=es.underwater_without_tp_sl_count,
        )
        if not _enabled:
            return RuntimeDiagnosticsSnapshot(veto_copy, exit_copy, enabled=False)
        return RuntimeDiagnosticsSnapshot(
            veto_counters=veto_copy,
            exit_pipeline_status=exit_copy,
            enabled=True,
            window=_x.window.summary(_clock()),
            heatmap=_x.heatmap.to_dict(),
            liveness=_liveness(),
            accounting=_accounting(),
            exit_triggers_by_kind=dict(_x.exit_triggers_by_kind),
        )


def restore_cumulative(block: Mapping[str, Any]) -> None:
    """Continue the cumulative counters of a previous run from its published block (restart)."""
    if not _enabled or not isinstance(block, Mapping):
        return
    vc_in = block.get("veto_counters")
    acc = block.get("accounting")
    if not isinstance(vc_in, Mapping) or not isinstance(acc, Mapping):
        return
    with _lock:
        vc = _veto_counters
        by_reason = vc_in.get("by_reason")
        if isinstance(by_reason, Mapping):
            vc.by_reason = {str(k): int(v) for k, v in by_reason.items() if isinstance(v, int)}
        for key in ("total_signals", "total_orders", "total_vetoes"):
            value = vc_in.get(key)
            if isinstance(value, int):
                setattr(vc, key, value)
        for key in ("last_signal_ts", "last_order_ts", "last_veto_ts"):
            value = vc_in.get(key)
            if isinstance(value, str):
                setattr(vc, key, value)
        for name in ("orders_by_kind", "order_failures_by_kind", "order_failures_by_error"):
            value = acc.get(name)
            if isinstance(value, Mapping):
                getattr(_x, name).update({str(k): int(v) for k, v in value.items()})
        triggers = block.get("exit_triggers_by_kind")
        if isinstance(triggers, Mapping):
            _x.exit_triggers_by_kind.update({str(k): int(v) for k, v in triggers.items()})
