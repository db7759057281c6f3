"""Runtime diagnostic counters: the spec's API (PATCHSET v7.5_S0_B §2) and what its config promises.

Diagnostics observe; they never decide. Every ``record_*`` is O(1) and a near-free no-op when
diagnostics are disabled. Timestamps come from the engine clock (:func:`configure`), so a
replay's counters carry the bars' times.

The hot path does as little as it can: a signal / order / veto / exit record appends one event
to a queue (no lock), folded into the counters under the lock by whoever reads (``get_*``, the
snapshot) or when the queue is full; times stay epoch floats until read, because formatting an
ISO string costs more than the rest of a record. Reads always see every record made before them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from execution.clock import to_iso
from execution.diagnostics_heatmap import FAILED, ORDER, VETO

# STAGES and DiagnosticsSettings are part of this module's API (configure takes the settings).
from execution.diagnostics_state import STAGES as STAGES
from execution.diagnostics_state import DiagnosticsExtras, accounting, liveness
from execution.diagnostics_state import DiagnosticsSettings as DiagnosticsSettings

# A queued event: (kind, engine time, and up to three arguments of the record call).
Event = tuple[str, float, Any, Any, Any]


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


_lock = threading.Lock()
_clock: Callable[[], float] = time.time
_enabled = True
_veto_counters = VetoCounters()
_exit_status = ExitPipelineStatus()
_x = DiagnosticsExtras.new(DiagnosticsSettings())
# The hot path's own state, module globals (read without an attribute hop): the event queue
# (see record_signal_emitted) and the engine time of the loop in progress (None between loops).
_events: deque[Event] = deque()
_loop_t: float | None = None


def get_veto_counters() -> VetoCounters:
    with _lock:
        _fold_events()
        _sync_timestamps()
        return _veto_counters


def get_exit_status() -> ExitPipelineStatus:
    with _lock:
        _fold_events()
        _sync_timestamps()
        return _exit_status


def get_settings() -> DiagnosticsSettings:
    return _x.settings


def is_enabled() -> bool:
    return _enabled


def configure(
    settings: DiagnosticsSettings | None = None, clock: Callable[[], float] | None = None
) -> None:
    """Reset every counter and set the settings and the engine clock (epoch-seconds callable)."""
    global _clock, _enabled, _veto_counters, _exit_status, _x, _events, _loop_t
    s = settings or DiagnosticsSettings()
    with _lock:
        _clock = clock or time.time
        _enabled = s.enabled
        _veto_counters = VetoCounters()
        _exit_status = ExitPipelineStatus()
        _x = DiagnosticsExtras.new(s)
        _events = deque()
        _loop_t = None


def reset_diagnostics() -> None:
    """Reset counters to a fresh, enabled state on the wall clock (for tests)."""
    configure(DiagnosticsSettings(), time.time)


def now_iso() -> str:
    return to_iso(_clock()) or ""


# --- signal / order / veto / exit trigger -----------------------------------------------------
#
# These run on the engine's hot path, so each only appends an event to a queue (deque.append is
# atomic: no lock). The events are folded into the counters, the window and the heatmap under
# the lock when someone reads, or when _QUEUE_MAX are waiting (memory stays bounded). Inside a
# loop an event takes the loop's engine time (read once per loop by record_loop_start).
# bench/bench_diagnostics.py measures what this costs a replay.

_SIGNAL, _RISK_PASSED, _TRIGGER = "signal", "risk_passed", "exit_trigger"
_QUEUE_MAX = 256
# Index of each event kind in the per-loop counts (liveness "last_loop").
_LOOP_INDEX = {_SIGNAL: 0, VETO: 1, ORDER: 2, _TRIGGER: 3}


def record_signal_emitted(symbol: str | None = None) -> None:
    if not _enabled:
        return
    _events.append((_SIGNAL, _loop_t or _clock(), symbol, None, None))
    if len(_events) >= _QUEUE_MAX:
        _fold_events_locked()


def record_risk_passed(symbol: str | None = None) -> None:
    """An entry signal passed risk and is on its way to the exchange (in flight)."""
    if not _enabled:
        return
    _events.append((_RISK_PASSED, _loop_t or _clock(), symbol, None, None))
    if len(_events) >= _QUEUE_MAX:
        _fold_events_locked()


def record_order_placed(kind: str = "entry", symbol: str | None = None) -> None:
    if not _enabled:
        return
    _events.append((ORDER, _loop_t or _clock(), kind, symbol, None))
    if len(_events) >= _QUEUE_MAX:
        _fold_events_locked()


def record_order_failed(error: str, kind: str = "entry", symbol: str | None = None) -> None:
    if not _enabled:
        return
    _events.append((FAILED, _loop_t or _clock(), kind, symbol, error))
    if len(_events) >= _QUEUE_MAX:
        _fold_events_locked()


def record_veto(reason: str, symbol: str | None = None) -> None:
    if not _enabled:
        return
    _events.append((VETO, _loop_t or _clock(), reason, symbol, None))
    if len(_events) >= _QUEUE_MAX:
        _fold_events_locked()


def record_exit_trigger(kind: str | None = None, symbol: str | None = None) -> None:
    if not _enabled:
        return
    _events.append((_TRIGGER, _loop_t or _clock(), kind, symbol, None))
    if len(_events) >= _QUEUE_MAX:
        _fold_events_locked()


def _fold_events_locked() -> None:
    with _lock:
        _fold_events()


def _fold_events() -> None:
    """Apply the queued events, oldest first (caller holds _lock; appends may go on meanwhile).

    Events are counted per loop by their time: the events of one loop share its engine time.
    """
    x = _x
    q = _events
    vc = _veto_counters
    by_reason, add_outcome, add_heat = vc.by_reason, x.window.add, x.heatmap.add
    loop, loop_t, loop_index = x.loop_events, x.loop_events_t, _LOOP_INDEX
    while q:  # only folders pop, and they hold _lock: q cannot empty under us
        event = q.popleft()
        kind, t, a, b, c = event
        i = loop_index.get(kind)
        if i is not None:
            if t != loop_t:
                loop, loop_t = [0, 0, 0, 0], t
            loop[i] += 1
        if kind == VETO:
            vc.total_vetoes += 1
            by_reason[a] = by_reason.get(a, 0) + 1
            x.last_veto = t
            add_outcome(event)
            add_heat(a, b, t)
        elif kind == _SIGNAL:
            vc.total_signals += 1
            x.last_signal = t
        elif kind == _RISK_PASSED:
            x.in_flight += 1
        elif kind == _TRIGGER:
            x.last_exit_trigger = t
            key = a or "unknown"
            x.exit_triggers_by_kind[key] = x.exit_triggers_by_kind.get(key, 0) + 1
        else:
            _fold_order(x, vc, event)
    x.loop_events, x.loop_events_t = loop, loop_t


def _fold_order(x: DiagnosticsExtras, vc: VetoCounters, event: Event) -> None:
    kind, t, order_kind, _symbol, error = event
    if kind == ORDER:
        vc.total_orders += 1
        x.last_order = t
        x.orders_by_kind[order_kind] = x.orders_by_kind.get(order_kind, 0) + 1
    else:
        x.order_failures_by_error[error] = x.order_failures_by_error.get(error, 0) + 1
        x.order_failures_by_kind[order_kind] = x.order_failures_by_kind.get(order_kind, 0) + 1
    if order_kind == "entry":
        x.in_flight = max(0, x.in_flight - 1)
        x.window.add(event)


# --- exit pipeline ----------------------------------------------------------------------------


def record_exit_scan_run() -> None:
    if not _enabled:
        return
    # Called every loop: keep the float, format it only when someone reads it.
    _x.last_exit_scan = _loop_t or _clock()


def _sync_timestamps() -> None:
    """Format the hot path's float times into the spec's *_ts strings (caller holds _lock)."""
    x, vc, es = _x, _veto_counters, _exit_status
    if x.last_signal is not None:
        vc.last_signal_ts = to_iso(x.last_signal)
    if x.last_order is not None:
        vc.last_order_ts = to_iso(x.last_order)
    if x.last_veto is not None:
        vc.last_veto_ts = to_iso(x.last_veto)
    if x.last_exit_scan is not None:
        es.last_exit_scan_ts = to_iso(x.last_exit_scan)
    if x.last_exit_trigger is not None:
        es.last_exit_trigger_ts = to_iso(x.last_exit_trigger)
    if x.exit_counts is not None:
        (
            es.open_positions_count,
            es.tp_sl_registered_count,
            es.tp_sl_missing_count,
            es.underwater_without_tp_sl_count,
        ) = x.exit_counts


def update_exit_pipeline_status(
    open_positions_count: int,
    tp_sl_registered_count: int,
    tp_sl_missing_count: int,
    underwater_without_tp_sl_count: int,
) -> None:
    if not _enabled:
        return
    # Called every loop: one tuple assignment (atomic, so no lock); readers unpack it.
    _x.exit_counts = (
        open_positions_count,
        tp_sl_registered_count,
        tp_sl_missing_count,
        underwater_without_tp_sl_count,
    )


# --- liveness ---------------------------------------------------------------------------------


def record_stage_success(stage: str) -> None:
    if not _enabled:
        return
    _x.stage_success[stage] = _clock()


def record_stages_success(stages: Iterable[str]) -> None:
    """Mark several stages alive at one engine time (one call per loop)."""
    if not _enabled:
        return
    x = _x
    t = _loop_t or _clock()
    if stages is x.batch:  # the executor passes the same tuple every loop: one store
        x.batch_t = t
    elif isinstance(stages, tuple):
        if x.batch is not None and x.batch_t is not None:
            x.stage_batches[x.batch] = x.batch_t
        x.batch, x.batch_t = stages, t
    else:
        for stage in stages:
            x.stage_success[stage] = t


def record_stage_error(stage: str, error: BaseException | str) -> None:
    if not _enabled:
        return
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    with _lock:
        _x.stage_error[stage] = (_clock(), text[:300])
        _x.stage_error_count[stage] = _x.stage_error_count.get(stage, 0) + 1


def record_loop_start() -> None:
    """Open a loop: read the engine clock once; the loop's records are stamped with it."""
    global _loop_t
    if not _enabled:
        return
    _loop_t = _clock()


def record_loop_end() -> None:
    """Count the loop and keep what was recorded during it (the liveness ``last_loop``)."""
    global _loop_t
    if not _enabled:
        return
    x = _x
    x.loop_count += 1
    x.last_loop_t = _loop_t
    _loop_t = None


def set_gating_flags(flags: Mapping[str, Iterable[str]]) -> None:
    """Set, per symbol, the checks that would block a new entry right now."""
    if not _enabled:
        return
    with _lock:
        _x.gating = {sym: list(reasons) for sym, reasons in flags.items()}


# --- snapshot ---------------------------------------------------------------------------------


def build_runtime_diagnostics_snapshot() -> RuntimeDiagnosticsSnapshot:
    """Return a consistent copy of every counter (taken under the lock)."""
    with _lock:
        _fold_events()
        _sync_timestamps()
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
            liveness=liveness(_x),
            accounting=accounting(_x, _veto_counters),
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
        _fold_events()
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
