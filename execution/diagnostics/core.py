"""The one diagnostics object: every counter, the window, the heatmap and liveness, under one lock.

Diagnostics observe; they never decide. Each record is O(1) plain Python and returns at once when
diagnostics are disabled. Times come from the engine clock given to :meth:`Diagnostics.configure`
(a replay's records carry the bars' times); inside a loop a record takes the loop's time, set
once by :meth:`Diagnostics.record_loop_start`, so the clock is read once per loop.

Records that change more than one value take the lock. The per-loop calls and the stages'
liveness are in :mod:`execution.diagnostics.liveness`, mixed in here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from execution.diagnostics import reading
from execution.diagnostics.causes import VetoCauses
from execution.diagnostics.heatmap import PORTFOLIO, VetoHeatmap
from execution.diagnostics.liveness import LivenessRecords
from execution.diagnostics.model import (
    REASON_KEYS,
    DiagnosticsSettings,
    ExitPipelineStatus,
    RuntimeDiagnosticsSnapshot,
    VetoCounters,
    unknown_reason,
)
from execution.diagnostics.state import (
    apply_state,
    export_state,
    parse_state,
    published_counters,
)
from execution.diagnostics.timeline import VetoTimeline
from execution.diagnostics.window import FAILED, NONE_OTHER, ORDER, OutcomeWindow
from execution.types import VetoReason

Clock = Callable[[], float]


class Diagnostics(LivenessRecords):
    """Runtime diagnostics of one engine (the spec's counters and what the config promises)."""

    # Slots (here and in LivenessRecords): the record bodies are mostly attribute reads and
    # writes, and a slot is the cheapest attribute; a misspelt one is an error, not a new one.
    __slots__ = (
        "_lock", "settings", "enabled", "clock", "signals", "vetoes", "orders", "exit_triggers",
        "in_flight", "vetoes_by_reason", "orders_by_kind", "order_failures_by_kind",
        "order_failures_by_error", "exit_triggers_by_kind", "last_signal", "last_order",
        "last_veto", "last_exit_trigger", "exit_counts", "liquidation_before_stop", "window",
        "heatmap", "timeline", "causes", "observed",
    )  # fmt: skip

    def __init__(self, settings: DiagnosticsSettings | None = None, clock: Clock = time.time):
        self._lock = threading.Lock()
        self.configure(settings or DiagnosticsSettings(), clock)

    def configure(self, settings: DiagnosticsSettings, clock: Clock) -> None:
        """Start afresh with ``settings`` on ``clock`` (epoch seconds): every count back to zero."""
        with self._lock:
            self.settings = settings
            self.enabled = settings.enabled
            self.clock = clock
            self._reset(settings)

    def _reset(self, s: DiagnosticsSettings) -> None:
        self.signals = 0
        self.vetoes = 0
        self.orders = 0  # entries and exits, as the spec's total_orders
        self.exit_triggers = 0
        self.in_flight = 0  # entries that passed risk and have no order outcome yet
        self.vetoes_by_reason: dict[str, int] = {}
        self.orders_by_kind = {"entry": 0, "exit": 0}
        self.order_failures_by_kind = {"entry": 0, "exit": 0}
        self.order_failures_by_error: dict[str, int] = {}
        self.exit_triggers_by_kind: dict[str, int] = {}
        self.last_signal: float | None = None
        self.last_order: float | None = None
        self.last_veto: float | None = None
        self.last_exit_trigger: float | None = None
        self.last_exit_scan: float | None = None
        self.exit_counts: tuple[int, int, int, int] | None = None
        self.liquidation_before_stop = 0
        self.window = OutcomeWindow(s.window_signals, s.window_seconds)
        self.heatmap = VetoHeatmap(s.heatmap_bucket_seconds, s.heatmap_max_buckets)
        self.timeline = VetoTimeline(s.heatmap_bucket_seconds)
        # reason -> (observed, limit, symbol, t) of its latest veto: what the verdict quotes.
        self.observed: dict[str, tuple[float | None, float | None, str | None, float]] = {}
        self.causes = VetoCauses()
        self.loop_count = 0
        self.loop_t = None
        self.last_loop_t = None
        self.prev_loop_t = None
        self.loop_base = (0, 0, 0, 0)
        self.stage_success = {}
        self.stage_error = {}
        self.stage_error_count = {}
        self.gating = {}

    # --- signal / risk / order / exit records -----------------------------------------------
    #
    # Each record is a few counter updates between lock.acquire() and a release in a finally:
    # the same guarantee as ``with lock:`` for half its cost (the with statement's
    # __enter__/__exit__ calls were the largest part of a record body, by instruction count).

    def record_signal_emitted(self, symbol: str | None = None) -> None:
        """Count an entry signal (every signal ends in one outcome: the accounting identity)."""
        if not self.enabled:
            return
        t = self.loop_t
        if t is None:
            t = self.clock()
        lock = self._lock
        lock.acquire()
        try:
            self.signals += 1
            self.last_signal = t
        finally:
            lock.release()

    def record_risk_passed(self, symbol: str | None = None) -> None:
        """An entry signal passed risk and is on its way to the exchange (in flight)."""
        if not self.enabled:
            return
        lock = self._lock
        lock.acquire()
        try:
            self.in_flight += 1
        finally:
            lock.release()

    def record_veto(
        self,
        reason: VetoReason | str,
        symbol: str | None = None,
        also_failed: Iterable[VetoReason | str] = (),
        observed: tuple[float | None, float | None] = (None, None),
    ) -> None:
        """Count a veto of ``reason`` (a VetoReason or its value) on ``symbol`` (None: portfolio).

        ``also_failed`` are the other checks the signal failed (the decision is ``reason``
        alone; they feed the veto causes). ``observed`` is the check's (value, limit).
        """
        if not self.enabled:
            return
        key = REASON_KEYS.get(reason)
        if key is None:
            raise unknown_reason(reason)
        others = NONE_OTHER
        if also_failed:
            try:
                others = tuple(map(REASON_KEYS.__getitem__, also_failed))
            except KeyError as err:
                raise unknown_reason(err.args[0]) from None
        t = self.loop_t
        if t is None:
            t = self.clock()
        lock = self._lock
        lock.acquire()
        try:
            self.vetoes += 1
            by_reason = self.vetoes_by_reason
            by_reason[key] = by_reason.get(key, 0) + 1
            self.last_veto = t
            window = self.window
            window.times.append(t)
            window.what.append((key, *others) if others else key)
            self.heatmap.add(key, symbol, t)
            self.timeline.add(key, t)
            value, limit = observed
            self.observed[key] = (value, limit, symbol, t)
            if others:
                self.causes.add(key, symbol or PORTFOLIO, others)
        finally:
            lock.release()

    def record_order_placed(self, kind: str = "entry", symbol: str | None = None) -> None:
        """Count an order the exchange accepted; an entry order resolves its signal."""
        if not self.enabled:
            return
        key = kind or "entry"
        t = self.loop_t
        if t is None:
            t = self.clock()
        lock = self._lock
        lock.acquire()
        try:
            self.orders += 1
            by_kind = self.orders_by_kind
            by_kind[key] = by_kind.get(key, 0) + 1
            self.last_order = t
            if key == "entry":
                if self.in_flight > 0:
                    self.in_flight -= 1
                window = self.window
                window.times.append(t)
                window.what.append(ORDER)
        finally:
            lock.release()

    def record_order_failed(
        self, error: str, kind: str = "entry", symbol: str | None = None
    ) -> None:
        """Count an order that finally failed, by error category; an entry resolves its signal."""
        if not self.enabled:
            return
        key = kind or "entry"
        t = self.now()
        with self._lock:
            by_kind, by_error = self.order_failures_by_kind, self.order_failures_by_error
            by_kind[key] = by_kind.get(key, 0) + 1
            by_error[error or ""] = by_error.get(error or "", 0) + 1
            if key == "entry":
                if self.in_flight > 0:
                    self.in_flight -= 1
                window = self.window
                window.times.append(t)
                window.what.append(FAILED)

    def record_exit_trigger(self, kind: str | None = None, symbol: str | None = None) -> None:
        """Count an exit decision (tp, sl, signal...)."""
        if not self.enabled:
            return
        key = kind or "unknown"
        t = self.loop_t
        if t is None:
            t = self.clock()
        lock = self._lock
        lock.acquire()
        try:
            self.exit_triggers += 1
            by_kind = self.exit_triggers_by_kind
            by_kind[key] = by_kind.get(key, 0) + 1
            self.last_exit_trigger = t
        finally:
            lock.release()

    # --- the exit pipeline's counts (set by the exit scan; one store each, no lock) ---------

    def update_exit_pipeline_status(
        self,
        open_positions_count: int,
        tp_sl_registered_count: int,
        tp_sl_missing_count: int,
        underwater_without_tp_sl_count: int,
    ) -> None:
        """Set the last exit scan's counts (one tuple: readers never see half of them)."""
        if not self.enabled:
            return
        self.exit_counts = (
            open_positions_count,
            tp_sl_registered_count,
            tp_sl_missing_count,
            underwater_without_tp_sl_count,
        )

    def set_liquidation_before_stop(self, count: int) -> None:
        """Set how many open positions would be liquidated before their stop."""
        self.liquidation_before_stop = count

    # --- reading ------------------------------------------------------------------------------

    def veto_counters(self) -> VetoCounters:
        """Return a copy of the spec's veto counters."""
        with self._lock:
            return reading.veto_counters(self)

    def exit_status(self) -> ExitPipelineStatus:
        """Return a copy of the spec's exit pipeline status."""
        with self._lock:
            return reading.exit_status(self)

    def snapshot(self) -> RuntimeDiagnosticsSnapshot:
        """Return a consistent copy of everything published (taken under the lock)."""
        with self._lock:
            counters, status = reading.veto_counters(self), reading.exit_status(self)
            if not self.enabled:
                return RuntimeDiagnosticsSnapshot(counters, status, enabled=False)
            recent = self.window.recent(self.clock())
            return RuntimeDiagnosticsSnapshot(
                veto_counters=counters,
                exit_pipeline_status=status,
                enabled=True,
                window=self.window.summary(recent),
                heatmap=self.heatmap.to_dict(),
                liveness=reading.liveness(self),
                accounting=reading.accounting(self),
                exit_triggers_by_kind=dict(self.exit_triggers_by_kind),
                veto_causes=reading.veto_causes(self, recent),
                veto_timeline=self.timeline.to_dict(),
                veto_observed=reading.veto_observed(self),
            )

    # --- resume -------------------------------------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """Return the whole state as plain JSON-ready data (restore_state takes it back)."""
        with self._lock:
            return export_state(self)

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Continue from an export_state: everything is checked first, then replaced at once.

        Raises ValueError naming the key of anything malformed (nothing is changed then).
        Ignored when diagnostics are disabled (after the check: a bad file still says so).
        """
        values = parse_state(state)
        with self._lock:
            if self.enabled:
                apply_state(self, values)

    def restore_cumulative(self, block: Mapping[str, Any]) -> None:
        """Continue the cumulative counters of a previous run from its published block (a
        restart without an exported state: the window, heatmap and liveness start afresh)."""
        values = published_counters(block)
        if not self.enabled or values is None:
            return
        with self._lock:
            for name, counts in values.pop("merge").items():
                getattr(self, name).update(counts)
            for name, value in values.items():
                setattr(self, name, value)
            self.exit_triggers = sum(self.exit_triggers_by_kind.values())
