"""What diagnostics_metrics' record queues hold, and how a batch of them is read back.

A record (a signal, a risk pass, a veto, an order, an order failure, an exit trigger) is queued
as one float: the negative *code* interned for its (kind, key, symbol[, error]). The engine time
is queued once before the records that share it (a loop's records share the loop's time), as
itself: times are >= 0, codes < 0. Queuing a record thus allocates nothing, and a batch is
read back by numpy in a few C-level passes (:func:`decode`) instead of Python per record.

The tables only grow with distinct keys (reasons x symbols, order kinds, failure categories),
all bounded by the configuration, so memory stays bounded however long the engine runs.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from execution.diagnostics_heatmap import FAILED as FAILED_NAME
from execution.diagnostics_heatmap import ORDER as ORDER_NAME
from execution.diagnostics_heatmap import VETO as VETO_NAME
from execution.diagnostics_hot import (
    FAILED_KIND,
    ORDER_KIND,
    PASSED_KIND,
    SIGNAL_KIND,
    TRIGGER_KIND,
    VETO_KIND,
)

# Record kinds (numbered by the hot path). The first four are the liveness "last loop" counts,
# in its order.
SIGNAL, VETO, ORDER, TRIGGER, FAILED, PASSED = (
    SIGNAL_KIND, VETO_KIND, ORDER_KIND, TRIGGER_KIND, FAILED_KIND, PASSED_KIND
)  # fmt: skip
N_KINDS = 6
KIND_NAMES = ("signal", VETO_NAME, ORDER_NAME, "exit_trigger", FAILED_NAME, "risk_passed")
# The kinds that end an entry signal (kept in the outcome window).
IS_OUTCOME = np.array([k in (VETO, ORDER, FAILED) for k in range(N_KINDS)])


class Code(NamedTuple):
    """What a code stands for. ``key``: the veto reason, the order / exit kind, or None."""

    kind: int
    key: str | None
    symbol: str | None
    error: str | None


class RecordCodes:
    """The interned codes: lookup tables for the record calls, and what each code means.

    Only what diagnostics publish goes into a code: the symbol of a veto (the heatmap's
    reason x symbol), not of a signal, a pass, an order or an exit, which are counted by kind.
    ``plain[kind]`` (signals, risk passes), ``keyed[kind][key]`` (orders and exit triggers by
    their kind, failures by ``(error, order kind)``) and ``veto[reason][symbol]`` give a code;
    ``meta[-1 - code]`` tells it back. Interning happens under diagnostics_metrics' lock;
    lookups need none.
    """

    def __init__(self) -> None:
        self.plain: dict[int, float] = {}
        self.keyed: dict[int, dict[object, float]] = {ORDER: {}, TRIGGER: {}, FAILED: {}}
        self.veto: dict[str | None, dict[str | None, float]] = {}
        self.meta: list[Code] = []
        self.reasons: list[str] = []  # veto reasons, by reason index
        self._reason_index: dict[str, int] = {}
        self._kinds = np.empty(0, dtype=np.int8)
        self._reason_of = np.empty(0, dtype=np.intp)

    def intern(
        self, kind: int, key: str | None = None, symbol: str | None = None, error: str | None = None
    ) -> float:
        """Return the code of a record, making one if it is new (caller holds the lock)."""
        table: dict[Any, float]
        slot: Any
        if kind == VETO:
            table = self.veto.setdefault(key, {})
            slot = symbol
        elif kind in self.keyed:
            table = self.keyed[kind]
            slot = (error, key) if kind == FAILED else key
            symbol = None
        else:
            table = self.plain
            slot = kind
            key = symbol = None
        code = table.get(slot)
        if code is None:  # not interned meanwhile by another thread
            code = float(-1 - len(self.meta))
            self.meta.append(Code(kind, key, symbol, error))
            reason = key or "unknown"
            if kind == VETO and reason not in self._reason_index:
                self._reason_index[reason] = len(self.reasons)
                self.reasons.append(reason)
            table[slot] = code
        return code

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Per code index: its kind, and its veto reason index (-1 if not a veto)."""
        if len(self._kinds) != len(self.meta):
            self._kinds = np.array([m.kind for m in self.meta], dtype=np.int8)
            self._reason_of = np.array(
                [
                    self._reason_index[m.key or "unknown"] if m.kind == VETO else -1
                    for m in self.meta
                ],
                dtype=np.intp,
            )
        return self._kinds, self._reason_of


_NO_CODES = np.empty(0, dtype=np.intp)
_NO_TIMES = np.empty(0, dtype=np.float64)


def decode(
    batch: array[float], carry: float | None, clock: Callable[[], float]
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Split a queued batch into (code indexes, their engine times, the last time in it).

    A record takes the latest time queued before it; records at the head of a batch take
    ``carry``, the last time of the batch before (or the clock, if there is none).
    """
    if not batch:
        return _NO_CODES, _NO_TIMES, carry
    a = np.frombuffer(batch, dtype=np.float64)
    is_time = a >= 0.0
    times_queued = a[is_time]
    last = float(times_queued[-1]) if times_queued.size else carry
    if times_queued.size == a.size:
        return _NO_CODES, _NO_TIMES, last
    is_code = ~is_time
    head = clock() if carry is None else carry
    # seen[i]: how many times were queued up to i; 0 -> the carry
    seen = np.cumsum(is_time)[is_code]
    times = np.concatenate(((head,), times_queued))[seen]
    codes = (-1.0 - a[is_code]).astype(np.intp)
    return codes, times, last
