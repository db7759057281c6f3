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
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from typing import Any

from execution.clock import to_iso
from execution.diagnostics_heatmap import FAILED, ORDER, VETO

# STAGES and DiagnosticsSettings are part of this module's API (configure takes the settings).
from execution.diagnostics_state import LOOP_STAGES as LOOP_STAGES
from execution.diagnostics_state import STAGES as STAGES
from execution.diagnostics_state import DiagnosticsExtras, accounting, last_success, liveness
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
# The hot path's own state, module globals (read without an attribute hop): the record queues
# (see record_signal_emitted) and the engine time of the loop in progress (None between loops).
_entries: list[Event] = []  # entry signals, risk passes and outcomes (veto, order, failure)
_exits: list[Event] = []  # exit orders and failures, exit triggers
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
    global _clock, _enabled, _veto_counters, _exit_status, _x, _loop_t
    global _entries, _exits
    s = settings or DiagnosticsSettings()
    with _lock:
        _clock = clock or time.time
        _enabled = s.enabled
        _veto_counters = VetoCounters()
        _exit_status = ExitPipelineStatus()
        _x = DiagnosticsExtras.new(s)
        _entries, _exits = [], []
        _loop_t = None


def reset_diagnostics() -> None:
    """Reset counters to a fresh, enabled state on the wall clock (for tests)."""
    configure(DiagnosticsSettings(), time.time)


def now_iso() -> str:
    return to_iso(_clock()) or ""


# --- signal / order / veto / exit trigger -----------------------------------------------------
#
# These run on the engine's hot path, so each only appends a record to a queue: a plain list,
# whose append is atomic (no lock). Folding a batch into the counters, the window and the
# heatmap is then mostly C-level bulk work (a slice, a Counter over the batch, a deque extend)
# rather than Python statements per record. It happens under the lock when someone reads
# (``get_*``, the snapshot) or when a queue holds _QUEUE_MAX records (memory stays bounded);
# only folders delete, from the front, so appends made meanwhile are never lost.
#
# Two queues: the entry side (signals, risk passes, vetoes, entry orders and failures) and the
# exit side. A signal, its pass and its outcome share a queue so that one C-level slice takes
# all or none of them: the accounting identity holds at every read, whatever another thread
# does meanwhile. Inside a loop a record takes the loop's engine time (set once per loop
# by record_loop_start). bench/bench_diagnostics.py measures what this costs a replay.

_SIGNAL, _PASSED, _TRIGGER = "signal", "risk_passed", "exit_trigger"
_QUEUE_MAX = 256
_EMPTY: list[Any] = []
_kind_of = itemgetter(0)
# (kind, key, symbol); key: the symbol of a signal, the reason of a veto, the order / exit kind
_kind_key_symbol_of = itemgetter(0, 2, 3)
_is_outcome = frozenset({VETO, ORDER, FAILED}).__contains__
_is_veto = VETO.__eq__


def record_signal_emitted(symbol: str | None = None) -> None:
    if not _enabled:
        return
    _entries.append((_SIGNAL, _loop_t or _clock(), symbol, None, None))
    if len(_entries) >= _QUEUE_MAX:
        _fold_events_locked()


def record_risk_passed(symbol: str | None = None) -> None:
    """An entry signal passed risk and is on its way to the exchange (in flight)."""
    if not _enabled:
        return
    _entries.append((_PASSED, _loop_t or _clock(), symbol, None, None))
    if len(_entries) >= _QUEUE_MAX:
        _fold_events_locked()


def record_order_placed(kind: str = "entry", symbol: str | None = None) -> None:
    if not _enabled:
        return
    q = _entries if kind == "entry" else _exits
    q.append((ORDER, _loop_t or _clock(), kind, symbol, None))
    if len(q) >= _QUEUE_MAX:
        _fold_events_locked()


def record_order_failed(error: str, kind: str = "entry", symbol: str | None = None) -> None:
    if not _enabled:
        return
    q = _entries if kind == "entry" else _exits
    q.append((FAILED, _loop_t or _clock(), kind, symbol, error))
    if len(q) >= _QUEUE_MAX:
        _fold_events_locked()


def record_veto(reason: str, symbol: str | None = None) -> None:
    if not _enabled:
        return
    _entries.append((VETO, _loop_t or _clock(), reason, symbol, None))
    if len(_entries) >= _QUEUE_MAX:
        _fold_events_locked()


def record_exit_trigger(kind: str | None = None, symbol: str | None = None) -> None:
    if not _enabled:
        return
    _exits.append((_TRIGGER, _loop_t or _clock(), kind, symbol, None))
    if len(_exits) >= _QUEUE_MAX:
        _fold_events_locked()


def queued() -> int:
    """How many records wait to be folded (at most 2 x _QUEUE_MAX)."""
    return len(_entries) + len(_exits)


def _fold_events_locked() -> None:
    with _lock:
        _fold_events()


def _take(q: list[Any]) -> list[Any]:
    """Remove and return what ``q`` holds now (caller holds _lock; appends may go on)."""
    n = len(q)
    if n == 0:
        return _EMPTY
    batch = q[:n]
    del q[:n]  # one C call: an append made since the slice sits after index n and stays
    return batch


def _fold_events() -> None:
    """Apply the queued records, oldest first within each queue (caller holds _lock)."""
    entries, exits = _take(_entries), _take(_exits)
    if not (entries or exits):
        return
    x, vc = _x, _veto_counters
    resolved = 0
    if entries:
        x.window.extend(compress(entries, map(_is_outcome, map(_kind_of, entries))))
        resolved = _fold_records(x, vc, entries)
    if exits:
        resolved += _fold_records(x, vc, exits)
    x.in_flight = max(0, x.in_flight - resolved)
    _count_last_loop(x, entries, exits)


def _fold_records(x: DiagnosticsExtras, vc: VetoCounters, events: list[Event]) -> int:
    """Fold a batch of records in bulk; return how many entry signals it resolved (entry
    orders and entry failures).

    One C-level Counter over (kind, key, symbol) does the counting; the Python below runs once
    per distinct key, not per record.
    """
    resolved = 0
    seen: set[str] = set()
    by_reason, heatmap = vc.by_reason, x.heatmap
    for (kind, key, symbol), n in Counter(map(_kind_key_symbol_of, events)).items():
        seen.add(kind)
        if kind == _SIGNAL:
            vc.total_signals += n
        elif kind == _PASSED:
            x.in_flight += n  # a batch holds a pass before the order that resolves it
        elif kind == VETO:
            vc.total_vetoes += n
            by_reason[key] = by_reason.get(key, 0) + n
            heatmap.add_reason_symbol(key, symbol, n)
        elif kind == ORDER:
            vc.total_orders += n
            x.orders_by_kind[key] = x.orders_by_kind.get(key, 0) + n
            resolved += n if key == "entry" else 0
        elif kind == FAILED:
            x.order_failures_by_kind[key] = x.order_failures_by_kind.get(key, 0) + n
            resolved += n if key == "entry" else 0
        else:
            key = key or "unknown"
            x.exit_triggers_by_kind[key] = x.exit_triggers_by_kind.get(key, 0) + n
    if _SIGNAL in seen:
        x.last_signal = _last_time(events, _SIGNAL)
    if VETO in seen:
        vetoes = list(compress(events, map(_is_veto, map(_kind_of, events))))
        x.last_veto = vetoes[-1][1]
        heatmap.add_times(vetoes)
    if ORDER in seen:  # entry and exit orders come from two queues: keep the later time
        t = _last_time(events, ORDER)
        x.last_order = t if x.last_order is None or t is None else max(t, x.last_order)
    if _TRIGGER in seen:
        x.last_exit_trigger = _last_time(events, _TRIGGER)
    if FAILED in seen:
        by_error = x.order_failures_by_error
        for event in events:
            if event[0] == FAILED:
                by_error[event[4]] = by_error.get(event[4], 0) + 1
    return resolved


def _last_time(events: list[Event], kind: str) -> float | None:
    for event in reversed(events):
        if event[0] == kind:
            return event[1]
    return None


_LOOP_INDEX = {_SIGNAL: 0, VETO: 1, ORDER: 2, _TRIGGER: 3}


def _count_last_loop(x: DiagnosticsExtras, entries: list[Event], exits: list[Event]) -> None:
    """Count [signals, vetoes, orders, exits] of the newest engine time folded so far.

    The records of one loop share its time, and each queue is in time order, so the newest
    loop's records are the tail of each batch; a loop split over two folds adds up.
    """
    newest = max(q[-1][1] for q in (entries, exits) if q)
    if newest != x.loop_events_t:
        x.loop_events, x.loop_events_t = [0, 0, 0, 0], newest
    loop, index = x.loop_events, _LOOP_INDEX
    for queue in (entries, exits):
        for event in reversed(queue):
            if event[1] != newest:
                break
            i = index.get(event[0])
            if i is not None:
                loop[i] += 1


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
    """Mark several stages alive at one engine time."""
    if not _enabled:
        return
    t = _loop_t or _clock()
    success = _x.stage_success
    for stage in stages:
        success[stage] = t


def record_stage_error(stage: str, error: BaseException | str) -> None:
    if not _enabled:
        return
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    with _lock:
        x = _x
        # The loop in progress does not vouch for this stage: keep its last success before it.
        in_loop = _loop_t is not None and _loop_t == x.last_loop_t
        before = last_success(x, stage, before_current_loop=in_loop)
        if before is not None:
            x.stage_success[stage] = before
        x.stage_error[stage] = (_loop_t or _clock(), text[:300])
        x.stage_error_count[stage] = x.stage_error_count.get(stage, 0) + 1


def record_loop_start(now: float | None = None) -> None:
    """Start a loop at engine time ``now`` (default: the clock); the loop's records carry it.

    The one per-loop call: it counts the loop, which is then the liveness ``last_loop`` (the
    previous one is finished), and vouches for LOOP_STAGES at its time unless a stage records
    an error during it. record_loop_end is optional (live: records between loops then read
    the clock again).
    """
    global _loop_t
    if not _enabled:
        return
    x = _x
    x.loop_count += 1
    x.prev_loop_t = x.last_loop_t
    x.last_loop_t = _loop_t = _clock() if now is None else now


def record_loop_end(stages: Iterable[str] = ()) -> None:
    """Close the loop in progress; ``stages`` are also marked alive at its time."""
    global _loop_t
    if not _enabled:
        return
    if stages:
        record_stages_success(stages)
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
