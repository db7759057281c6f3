"""The loop's liveness: the per-loop calls, each stage's last success and error, gating flags.

The per-loop calls (loop start and end, the exit scan) are made by the loop's thread only and
each store single values, which a reader on another thread sees whole; they skip the lock
because they run every loop. A loop vouches for the LOOP_STAGES that did not record an error
during it, so a healthy engine marks its stages alive with no call per stage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from execution.diagnostics.model import LOOP_STAGES

ERROR_TEXT_MAX = 300


class LivenessRecords:
    """The liveness half of :class:`~execution.diagnostics.core.Diagnostics`, mixed into it.

    Its slots are the values only the loop and the stages write; the counters it also reads are
    declared (not held) here. Diagnostics.configure sets them all.
    """

    __slots__ = (
        "loop_count", "loop_t", "last_loop_t", "prev_loop_t", "loop_base", "last_exit_scan",
        "stage_success", "stage_error", "stage_error_count", "gating",
    )  # fmt: skip

    _lock: threading.Lock
    enabled: bool
    clock: Callable[[], float]
    signals: int
    vetoes: int
    orders: int
    exit_triggers: int
    last_exit_scan: float | None
    loop_count: int
    loop_t: float | None  # the loop in progress (None between loops)
    last_loop_t: float | None
    prev_loop_t: float | None
    # (signals, vetoes, orders, exit triggers) when the last loop started: its counts are what
    # the totals grew by since.
    loop_base: tuple[int, int, int, int]
    stage_success: dict[str, float]
    stage_error: dict[str, tuple[float, str]]
    stage_error_count: dict[str, int]
    gating: dict[str, list[str]]

    def now(self) -> float:
        """The engine time of a record: the loop's, or the clock's between loops."""
        t = self.loop_t
        return self.clock() if t is None else t

    # --- the per-loop calls (the loop's thread; no lock) ------------------------------------

    def record_loop_start(self, now: float | None = None) -> None:
        """Start a loop at engine time ``now`` (default: the clock); its records carry that time.

        The loop then counts as the liveness ``last_loop`` and vouches for LOOP_STAGES at its
        time, unless a stage records an error during it. record_loop_end is optional (live:
        records between loops then read the clock again).
        """
        if not self.enabled:
            return
        t = self.clock() if now is None else now
        self.loop_base = (self.signals, self.vetoes, self.orders, self.exit_triggers)
        self.prev_loop_t = self.last_loop_t
        self.last_loop_t = self.loop_t = t
        self.loop_count += 1

    def record_loop(self, now: float) -> None:
        """Start the engine's loop at ``now``: :meth:`record_loop_start` and, since every loop
        scans exits right after its fills, :meth:`record_exit_scan_run`, in one call (the
        executor's only per-loop call; it reports the scan's counts when they change)."""
        if not self.enabled:
            return
        self.loop_base = (self.signals, self.vetoes, self.orders, self.exit_triggers)
        self.prev_loop_t = self.last_loop_t
        self.last_loop_t = self.loop_t = self.last_exit_scan = now
        self.loop_count += 1

    def record_loops(self, count: int, prev_t: float, last_t: float) -> None:
        """:meth:`record_loop` ``count`` times with nothing recorded in between, the last two
        at ``prev_t`` and ``last_t`` (a replay's quiet bars, passed in one step)."""
        if not self.enabled or count <= 0:
            return
        self.loop_base = (self.signals, self.vetoes, self.orders, self.exit_triggers)
        self.prev_loop_t = prev_t if count > 1 else self.last_loop_t
        self.last_loop_t = self.loop_t = self.last_exit_scan = last_t
        self.loop_count += count

    def record_loop_end(self, stages: Iterable[str] = ()) -> None:
        """Close the loop in progress; ``stages`` are also marked alive at its time."""
        if not self.enabled:
            return
        if stages:
            self.record_stages_success(stages)
        self.loop_t = None

    def record_exit_scan_run(self) -> None:
        """The exit scanner ran (at the loop's time)."""
        if not self.enabled:
            return
        t = self.loop_t
        self.last_exit_scan = self.clock() if t is None else t

    # --- stages -------------------------------------------------------------------------------

    def record_stage_success(self, stage: str) -> None:
        """Mark ``stage`` alive now (the clock: a stage outside the loop, such as state_publish)."""
        if not self.enabled:
            return
        with self._lock:
            self.stage_success[stage] = self.clock()

    def record_stages_success(self, stages: Iterable[str]) -> None:
        """Mark several stages alive at one engine time."""
        if not self.enabled:
            return
        t = self.now()
        with self._lock:
            for stage in stages:
                self.stage_success[stage] = t

    def record_stage_error(self, stage: str, error: BaseException | str) -> None:
        """Record ``stage``'s error (type and message, truncated) at the engine time."""
        if not self.enabled:
            return
        text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
        with self._lock:
            # The loop in progress does not vouch for this stage: keep its last success before.
            in_loop = self.loop_t is not None and self.loop_t == self.last_loop_t
            before = self.last_success(stage, before_current_loop=in_loop)
            if before is not None:
                self.stage_success[stage] = before
            self.stage_error[stage] = (self.now(), text[:ERROR_TEXT_MAX])
            self.stage_error_count[stage] = self.stage_error_count.get(stage, 0) + 1

    def set_gating_flags(self, flags: Mapping[str, Iterable[str]]) -> None:
        """Set, per symbol, the checks that would block a new entry right now."""
        if not self.enabled:
            return
        with self._lock:
            self.gating = {symbol: list(reasons) for symbol, reasons in flags.items()}

    def last_success(self, stage: str, before_current_loop: bool = False) -> float | None:
        """The last time ``stage`` succeeded: recorded on its own, or, for a LOOP_STAGES stage,
        the last loop started after its last error (the latest, or with
        ``before_current_loop`` the one before it)."""
        best = self.stage_success.get(stage)
        last = self.prev_loop_t if before_current_loop else self.last_loop_t
        if last is not None and stage in LOOP_STAGES:
            err = self.stage_error.get(stage)
            if (err is None or err[0] < last) and (best is None or last > best):
                best = last
        return best
