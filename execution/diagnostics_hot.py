"""The diagnostics hot path: the record calls the engine makes every loop and at every signal,
veto, order and exit (re-exported by diagnostics_metrics, the spec's module, under their spec
names).

This module is compiled to C by mypyc when the package is installed where a C compiler is
available (setup.py); elsewhere the same source runs as plain Python, with the same behaviour.
Compiled, a record costs a C call instead of a Python frame and its bytecode, which is most of
what diagnostics cost a replay (bench/bench_diagnostics.py measures both; docs/performance.md).
So the module keeps to what mypyc compiles to plain C: one native class, attributes with
declared types, and callbacks into diagnostics_metrics for the rare paths (interning a new code,
folding a full queue, reading the clock between loops).

Each record appends its *code* (an interned negative float, see diagnostics_codes) to a queue,
an ``array('d')``: values, not objects, so a record allocates nothing. The engine time goes into
the queue once before the records that share it: a loop's records share the loop's time, set by
:func:`record_loop_start`; between loops a record reads the clock. diagnostics_metrics folds the
queues into the counters under its lock when someone reads, or when a queue is full.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from typing import Final, cast

# Record kinds (diagnostics_codes imports them). The first four are the liveness "last loop"
# counts, in its order.
SIGNAL_KIND: Final = 0
VETO_KIND: Final = 1
ORDER_KIND: Final = 2
TRIGGER_KIND: Final = 3
FAILED_KIND: Final = 4
PASSED_KIND: Final = 5

QUEUE_MAX: Final = 65536  # entries per queue before a record folds it (512 KiB)

NO_TIME_YET: Final = object()  # never a loop's time, nor None


def _no_fold() -> None:
    return None


def _no_intern(kind: int, key: str | None, symbol: str | None, error: str | None) -> float:
    raise RuntimeError("diagnostics_hot is not bound to diagnostics_metrics")


class HotState:
    """Everything the hot path reads and writes, in one object (the singleton :data:`H`).

    Bound once by diagnostics_metrics: the code tables (lookups need no lock; a miss calls
    ``intern``, which takes it), the fold called when a queue is full. Reset by each
    ``configure``: whether diagnostics are on, the clock, the queues and the per-loop values,
    which the per-loop calls write without the lock and readers take as they are:

    - ``loop_t``: the engine time of the loop in progress (None between loops);
    - ``loop_n``, ``last_loop_t``, ``prev_loop_t``: the loop count, the latest loop's time and
      the one before it;
    - ``scan_t``, ``exit_counts``: the last exit scan and its counts (one tuple, set in one
      assignment);
    - ``entries_t`` / ``exits_t``: the time each queue last received, compared by identity with
      ``loop_t`` (a record queues the time first when it is not the loop's).
    """

    # Reset by each configure (see reset).
    enabled: bool
    clock: Callable[[], float]
    entries: array[float]  # signals, risk passes, vetoes, entry outcomes
    exits: array[float]  # exit orders, their failures, exit triggers
    loop_t: float | None
    entries_t: object
    exits_t: object
    loop_n: int
    last_loop_t: float | None
    prev_loop_t: float | None
    scan_t: float | None
    exit_counts: tuple[int, int, int, int] | None

    def __init__(self) -> None:
        self.fold: Callable[[], None] = _no_fold
        self.intern: Callable[[int, str | None, str | None, str | None], float] = _no_intern
        self.queue_max: int = QUEUE_MAX
        self.signal_code: float = 0.0
        self.passed_code: float = 0.0
        self.veto_codes: dict[str | None, dict[str | None, float]] = {}
        self.order_codes: dict[object, float] = {}
        self.trigger_codes: dict[object, float] = {}
        self.failed_codes: dict[object, float] = {}
        self.reset(True, time.time)

    def reset(self, enabled: bool, clock: Callable[[], float]) -> None:
        """Start afresh (``configure``): new queues, no loop yet."""
        self.enabled = enabled
        self.clock = clock
        self.entries = array("d")
        self.exits = array("d")
        self.loop_t = None
        self.entries_t = NO_TIME_YET
        self.exits_t = NO_TIME_YET
        self.loop_n = 0
        self.last_loop_t = None
        self.prev_loop_t = None
        self.scan_t = None
        self.exit_counts = None

    def now(self) -> float:
        """The engine time of a record: the loop's, or the clock's between loops."""
        t = self.loop_t
        return self.clock() if t is None else t


H: Final = HotState()


def _queue_time(h: HotState, q: array[float], exit_side: bool) -> None:
    """Queue the time of the records that follow (folding first if the queue is full) and
    remember it as the queue's last time."""
    if len(q) >= h.queue_max:
        h.fold()
    # The loop's time object itself: identity is what the records compare. It goes through a
    # local typed ``object``: one narrowed to float would be unboxed, and stored as a new object
    # once compiled. Between loops, a mark that no record matches: each one reads the clock.
    mark: object = h.loop_t
    if mark is None:
        mark = NO_TIME_YET
    if exit_side:
        h.exits_t = mark
    else:
        h.entries_t = mark
    t = h.now()
    q.append(t if t >= 0.0 else 0.0)


# Each record: look its code up, queue the time if it changed, queue the code. The bound is
# checked where the time is queued (once per loop, or per record between loops), so a queue
# holds at most queue_max entries plus one loop's records.


def record_signal_emitted(symbol: str | None = None) -> None:
    # The symbol is not kept: signals are counted, not broken down (gating flags are per symbol).
    h = H
    if not h.enabled:
        return
    if h.loop_t is not h.entries_t:
        _queue_time(h, h.entries, False)
    h.entries.append(h.signal_code)


def record_risk_passed(symbol: str | None = None) -> None:
    """An entry signal passed risk and is on its way to the exchange (in flight)."""
    h = H
    if not h.enabled:
        return
    if h.loop_t is not h.entries_t:
        _queue_time(h, h.entries, False)
    h.entries.append(h.passed_code)


def record_veto(reason: str, symbol: str | None = None) -> None:
    h = H
    if not h.enabled:
        return
    try:
        code = h.veto_codes[reason][symbol]
    except KeyError:
        code = h.intern(VETO_KIND, reason, symbol, None)
    if h.loop_t is not h.entries_t:
        _queue_time(h, h.entries, False)
    h.entries.append(code)


def record_order_placed(kind: str = "entry", symbol: str | None = None) -> None:
    h = H
    if not h.enabled:
        return
    try:
        code = h.order_codes[kind]
    except KeyError:
        code = h.intern(ORDER_KIND, kind, None, None)
    if kind == "entry":
        if h.loop_t is not h.entries_t:
            _queue_time(h, h.entries, False)
        h.entries.append(code)
    else:
        if h.loop_t is not h.exits_t:
            _queue_time(h, h.exits, True)
        h.exits.append(code)


def record_exit_trigger(kind: str | None = None, symbol: str | None = None) -> None:
    h = H
    if not h.enabled:
        return
    try:
        code = h.trigger_codes[kind]
    except KeyError:
        code = h.intern(TRIGGER_KIND, kind, None, None)
    if h.loop_t is not h.exits_t:
        _queue_time(h, h.exits, True)
    h.exits.append(code)


def record_order_failed(error: str, kind: str = "entry", symbol: str | None = None) -> None:
    h = H
    if not h.enabled:
        return
    try:
        code = h.failed_codes[(error, kind)]
    except KeyError:
        code = h.intern(FAILED_KIND, kind, None, error)
    if kind == "entry":
        _queue_time(h, h.entries, False)  # rare: always queue the time
        h.entries.append(code)
    else:
        _queue_time(h, h.exits, True)
        h.exits.append(code)


# --- the per-loop calls -----------------------------------------------------------------------


def record_loop_start(now: float | None = None) -> None:
    """Start a loop at engine time ``now`` (default: the clock); the loop's records carry it.

    The one per-loop call of the engine: it counts the loop, which is then the liveness
    ``last_loop`` (the previous one is finished), and vouches for LOOP_STAGES at its time unless
    a stage records an error during it. record_loop_end (diagnostics_metrics) is optional
    (live: records between loops then read the clock again).
    """
    h = H
    if not h.enabled:
        return
    t: object = now  # kept boxed, as the one object the records compare (see _queue_time)
    if t is None:
        t = h.clock()
    h.prev_loop_t = h.last_loop_t
    h.last_loop_t = h.loop_t = cast("float | None", t)
    h.loop_n += 1


def record_exit_scan_run() -> None:
    h = H
    if not h.enabled:
        return
    # Called every loop: keep the float, format it only when someone reads it. (h.now() written
    # out: a call more per loop on the pure-Python path.)
    t = h.loop_t
    h.scan_t = h.clock() if t is None else t


def update_exit_pipeline_status(
    open_positions_count: int,
    tp_sl_registered_count: int,
    tp_sl_missing_count: int,
    underwater_without_tp_sl_count: int,
) -> None:
    h = H
    if not h.enabled:
        return
    # Called every loop: one tuple assignment (atomic, so no lock); readers unpack it.
    h.exit_counts = (
        open_positions_count,
        tp_sl_registered_count,
        tp_sl_missing_count,
        underwater_without_tp_sl_count,
    )
