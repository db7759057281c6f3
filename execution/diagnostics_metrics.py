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
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from execution.clock import to_iso
from execution.diagnostics_codes import (
    FAILED,
    IS_OUTCOME,
    KIND_NAMES,
    N_KINDS,
    ORDER,
    PASSED,
    SIGNAL,
    TRIGGER,
    VETO,
    RecordCodes,
    decode,
)

# The record calls (the spec's, and the engine's per-loop ones) are compiled when possible: see
# diagnostics_hot. They are this module's API, under the names the spec gives them.
from execution.diagnostics_hot import H
from execution.diagnostics_hot import record_exit_scan_run as record_exit_scan_run
from execution.diagnostics_hot import record_exit_trigger as record_exit_trigger
from execution.diagnostics_hot import record_loop_start as record_loop_start
from execution.diagnostics_hot import record_order_failed as record_order_failed
from execution.diagnostics_hot import record_order_placed as record_order_placed
from execution.diagnostics_hot import record_risk_passed as record_risk_passed
from execution.diagnostics_hot import record_signal_emitted as record_signal_emitted
from execution.diagnostics_hot import record_veto as record_veto
from execution.diagnostics_hot import update_exit_pipeline_status as update_exit_pipeline_status

# STAGES and DiagnosticsSettings are part of this module's API (configure takes the settings).
from execution.diagnostics_state import LOOP_STAGES as LOOP_STAGES
from execution.diagnostics_state import STAGES as STAGES
from execution.diagnostics_state import DiagnosticsExtras, accounting, last_success, liveness
from execution.diagnostics_state import DiagnosticsSettings as DiagnosticsSettings


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
_codes = RecordCodes()
# The hot path's state (whether diagnostics are on, the clock, the record queues, the per-loop
# values) lives in diagnostics_hot.H; bound here to the code tables and to the fold.
_x = DiagnosticsExtras.new(DiagnosticsSettings())
H.signal_code = _codes.intern(SIGNAL)
H.passed_code = _codes.intern(PASSED)
H.veto_codes = _codes.veto
H.order_codes = _codes.keyed[ORDER]
H.trigger_codes = _codes.keyed[TRIGGER]
H.failed_codes = _codes.keyed[FAILED]

_veto_counters = VetoCounters()
_exit_status = ExitPipelineStatus()


def get_veto_counters() -> VetoCounters:
    with _lock:
        _fold_events()
        _sync()
        return _veto_counters


def get_exit_status() -> ExitPipelineStatus:
    with _lock:
        _fold_events()
        _sync()
        return _exit_status


def get_settings() -> DiagnosticsSettings:
    return _x.settings


def is_enabled() -> bool:
    return H.enabled


def configure(
    settings: DiagnosticsSettings | None = None, clock: Callable[[], float] | None = None
) -> None:
    """Reset every counter and set the settings and the engine clock (epoch-seconds callable)."""
    global _veto_counters, _exit_status, _x
    s = settings or DiagnosticsSettings()
    with _lock:
        H.reset(s.enabled, clock or time.time)
        _veto_counters = VetoCounters()
        _exit_status = ExitPipelineStatus()
        _x = DiagnosticsExtras.new(s)


def reset_diagnostics() -> None:
    """Reset counters to a fresh, enabled state on the wall clock (for tests)."""
    configure(DiagnosticsSettings(), time.time)


def now_iso() -> str:
    return to_iso(H.clock()) or ""


# --- signal / order / veto / exit trigger -----------------------------------------------------
#
# The record calls are diagnostics_hot's (imported above under their spec names): each appends
# its record's code to a queue (no lock, no allocation); the engine time goes into the queue
# once before the records that share it. Folding a batch into the counters, the window and the
# heatmap is numpy work over the whole batch (a zero-copy view of the array) plus Python per
# distinct code, not per record. It happens here, under the lock, when someone reads (``get_*``,
# the snapshot) or when a queue is full (memory stays bounded: 512 KiB a queue); only folders
# delete, from the front, so appends made meanwhile are never lost.
#
# Two queues: the entry side (signals, risk passes, vetoes, entry orders and failures) and the
# exit side. A signal, its pass and its outcome share a queue so that one C-level slice takes
# all or none of them: the accounting identity holds at every read, whatever another thread
# does meanwhile.

_EMPTY = array("d")


def _intern(kind: int, key: str | None, symbol: str | None, error: str | None) -> float:
    with _lock:
        return _codes.intern(kind, key, symbol, error)


def queued() -> int:
    """How many entries (records and their times) wait to be folded."""
    return len(H.entries) + len(H.exits)


def _fold_events_locked() -> None:
    with _lock:
        _fold_events()


H.intern = _intern
H.fold = _fold_events_locked


def _take(q: array[float]) -> array[float]:
    """Remove and return what ``q`` holds now (caller holds _lock; appends may go on)."""
    n = len(q)
    if n == 0:
        return _EMPTY
    batch = q[:n]
    del q[:n]  # one C call: an append made since the slice sits after index n and stays
    return batch


def _fold_events() -> None:
    """Apply the queued records (caller holds _lock)."""
    entries, exits = _take(H.entries), _take(H.exits)
    if not (entries or exits):
        return
    x = _x
    kind_of, reason_of = _codes.arrays()
    entry_codes, entry_times, x.entries_carry = decode(entries, x.entries_carry, H.clock)
    exit_codes, exit_times, x.exits_carry = decode(exits, x.exits_carry, H.clock)
    if entry_codes.size:
        outcome = IS_OUTCOME[kind_of[entry_codes]]
        last = -x.window.max_signals or None  # only these can stay in the window
        x.window.extend(entry_codes[outcome][last:].tolist(), entry_times[outcome][last:].tolist())
    if exit_codes.size == 0:
        codes, times = entry_codes, entry_times
    elif entry_codes.size == 0:
        codes, times = exit_codes, exit_times
    else:
        codes, times = (
            np.concatenate((entry_codes, exit_codes)),
            np.concatenate((entry_times, exit_times)),
        )
    if codes.size == 0:
        return
    kinds = kind_of[codes]
    present = _fold_counts(x, _veto_counters, np.bincount(codes))
    # The engine time of the latest record of each kind.
    latest = np.full(N_KINDS, -1.0)
    np.maximum.at(latest, kinds, times)
    t = latest.tolist()
    if SIGNAL in present:
        x.last_signal = t[SIGNAL]
    if VETO in present:
        x.last_veto = t[VETO]
        is_veto = kinds == VETO
        x.heatmap.add_times(reason_of[codes[is_veto]], times[is_veto], _codes.reasons)
    if ORDER in present:
        x.last_order = t[ORDER]
    if TRIGGER in present:
        x.last_exit_trigger = t[TRIGGER]
    # The liveness "last loop" counts: the records at the newest time (a loop split over two
    # folds adds up).
    newest = float(times.max())
    if newest != x.loop_events_t:
        x.loop_events, x.loop_events_t = [0, 0, 0, 0], newest
    at_newest = np.bincount(kinds[times == newest], minlength=N_KINDS).tolist()
    loop = x.loop_events
    for i in range(4):  # signals, vetoes, orders, exits: the kinds numbered 0-3
        loop[i] += at_newest[i]


def _outcome_of(code: int) -> tuple[str, str | None]:
    """The (kind name, reason) an outcome code in the window stands for."""
    meta = _codes.meta[code]
    return KIND_NAMES[meta.kind], meta.key


def _fold_counts(x: DiagnosticsExtras, vc: VetoCounters, counts: np.ndarray) -> set[int]:
    """Add ``counts[code]`` records of each code to the counters; return the kinds seen.

    The Python here runs once per distinct code in the batch, not per record.
    """
    present: set[int] = set()
    n_of = counts.tolist()
    passed = resolved = 0
    meta, heatmap, by_reason = _codes.meta, x.heatmap, vc.by_reason
    for code in np.flatnonzero(counts).tolist():
        n = n_of[code]
        kind, key, symbol, error = meta[code]
        present.add(kind)
        if kind == SIGNAL:
            vc.total_signals += n
        elif kind == PASSED:
            passed += n
        elif kind == VETO:
            reason = key or "unknown"
            vc.total_vetoes += n
            by_reason[reason] = by_reason.get(reason, 0) + n
            heatmap.add_reason_symbol(reason, symbol, n)
        elif kind == ORDER:
            vc.total_orders += n
            x.orders_by_kind[key or "entry"] = x.orders_by_kind.get(key or "entry", 0) + n
            resolved += n if key == "entry" else 0
        elif kind == FAILED:
            x.order_failures_by_kind[key or "entry"] = (
                x.order_failures_by_kind.get(key or "entry", 0) + n
            )
            x.order_failures_by_error[error or ""] = (
                x.order_failures_by_error.get(error or "", 0) + n
            )
            resolved += n if key == "entry" else 0
        else:
            trigger = key or "unknown"
            x.exit_triggers_by_kind[trigger] = x.exit_triggers_by_kind.get(trigger, 0) + n
    # A batch holds a pass before the order that resolves it.
    x.in_flight = max(0, x.in_flight + passed - resolved)
    return present


# --- exit pipeline ----------------------------------------------------------------------------


def _sync() -> None:
    """Bring the spec's dataclasses up to date: the hot path's float times formatted into the
    *_ts strings, and the last exit-scan counts (caller holds _lock)."""
    x, vc, es = _x, _veto_counters, _exit_status
    if x.last_signal is not None:
        vc.last_signal_ts = to_iso(x.last_signal)
    if x.last_order is not None:
        vc.last_order_ts = to_iso(x.last_order)
    if x.last_veto is not None:
        vc.last_veto_ts = to_iso(x.last_veto)
    if x.hot.scan_t is not None:
        es.last_exit_scan_ts = to_iso(x.hot.scan_t)
    if x.last_exit_trigger is not None:
        es.last_exit_trigger_ts = to_iso(x.last_exit_trigger)
    if x.hot.exit_counts is not None:
        (
            es.open_positions_count,
            es.tp_sl_registered_count,
            es.tp_sl_missing_count,
            es.underwater_without_tp_sl_count,
        ) = x.hot.exit_counts


# --- liveness ---------------------------------------------------------------------------------


def record_stage_success(stage: str) -> None:
    if not H.enabled:
        return
    _x.stage_success[stage] = H.clock()


def record_stages_success(stages: Iterable[str]) -> None:
    """Mark several stages alive at one engine time."""
    if not H.enabled:
        return
    t = H.now()
    success = _x.stage_success
    for stage in stages:
        success[stage] = t


def record_stage_error(stage: str, error: BaseException | str) -> None:
    if not H.enabled:
        return
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    with _lock:
        x = _x
        # The loop in progress does not vouch for this stage: keep its last success before it.
        in_loop = H.loop_t is not None and H.loop_t == H.last_loop_t
        before = last_success(x, stage, before_current_loop=in_loop)
        if before is not None:
            x.stage_success[stage] = before
        x.stage_error[stage] = (H.now(), text[:300])
        x.stage_error_count[stage] = x.stage_error_count.get(stage, 0) + 1


def record_loop_end(stages: Iterable[str] = ()) -> None:
    """Close the loop in progress; ``stages`` are also marked alive at its time."""
    if not H.enabled:
        return
    if stages:
        record_stages_success(stages)
    H.loop_t = None


def set_gating_flags(flags: Mapping[str, Iterable[str]]) -> None:
    """Set, per symbol, the checks that would block a new entry right now."""
    if not H.enabled:
        return
    with _lock:
        _x.gating = {sym: list(reasons) for sym, reasons in flags.items()}


# --- snapshot ---------------------------------------------------------------------------------


def build_runtime_diagnostics_snapshot() -> RuntimeDiagnosticsSnapshot:
    """Return a consistent copy of every counter (taken under the lock)."""
    with _lock:
        _fold_events()
        _sync()
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
        if not H.enabled:
            return RuntimeDiagnosticsSnapshot(veto_copy, exit_copy, enabled=False)
        return RuntimeDiagnosticsSnapshot(
            veto_counters=veto_copy,
            exit_pipeline_status=exit_copy,
            enabled=True,
            window=_x.window.summary(H.clock(), _outcome_of),
            heatmap=_x.heatmap.to_dict(),
            liveness=liveness(_x),
            accounting=accounting(_x, _veto_counters),
            exit_triggers_by_kind=dict(_x.exit_triggers_by_kind),
        )


def restore_cumulative(block: Mapping[str, Any]) -> None:
    """Continue the cumulative counters of a previous run from its published block (restart)."""
    if not H.enabled or not isinstance(block, Mapping):
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
