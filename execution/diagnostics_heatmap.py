"""Bounded structures behind the veto window and the veto heatmap (owned by diagnostics_metrics).

Both are plain, single-threaded containers: diagnostics_metrics holds its lock around them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter

import numpy as np

from execution.clock import to_iso

# Outcome kinds recorded in the window: one per entry signal.
VETO = "veto"
ORDER = "order"
FAILED = "failed"


class OutcomeWindow:
    """The last ``max_signals`` signal outcomes; reads keep those younger than ``max_age``.

    An outcome is kept as diagnostics_metrics records it: the code of its (kind, reason) and
    its engine time, in two deques of the same bound; ``summary`` is told what a code means.
    """

    def __init__(self, max_signals: int, max_age_seconds: float) -> None:
        self.max_age_seconds = max_age_seconds
        self._codes: deque[int] = deque(maxlen=max_signals)
        self._times: deque[float] = deque(maxlen=max_signals)

    @property
    def max_signals(self) -> int:
        return self._codes.maxlen or 0

    def __len__(self) -> int:
        return len(self._codes)

    def extend(self, codes: Iterable[int], times: Iterable[float]) -> None:
        """Append outcomes, oldest first (the oldest fall out beyond max_signals)."""
        self._codes.extend(codes)
        self._times.extend(times)

    def items(self) -> list[tuple[int, float]]:
        return list(zip(self._codes, self._times, strict=True))

    def summary(
        self, now: float, outcome_of: Callable[[int], tuple[str, str | None]]
    ) -> dict[str, object]:
        """Aggregate the outcomes within both bounds (count and age); ``outcome_of(code)`` is
        the (kind, reason) a code stands for."""
        cutoff = now - self.max_age_seconds
        by_reason: dict[str, int] = {}
        vetoes = orders = failures = 0
        for code, ts in zip(self._codes, self._times, strict=True):
            if ts < cutoff:
                continue
            kind, reason = outcome_of(code)
            if kind == VETO:
                vetoes += 1
                key = reason or "unknown"
                by_reason[key] = by_reason.get(key, 0) + 1
            elif kind == ORDER:
                orders += 1
            else:
                failures += 1
        return {
            "window_signals": self.max_signals,
            "window_seconds": self.max_age_seconds,
            "signals": vetoes + orders + failures,
            "vetoes": vetoes,
            "orders": orders,
            "order_failures": failures,
            "by_reason": by_reason,
        }


class VetoHeatmap:
    """Vetoes by reason x symbol (cumulative) and by reason x time bucket (the last N buckets).

    The time buckets are a ring of ``max_buckets`` slots: bucket b lives in slot b % N, so a
    new bucket takes the slot of the one N buckets older and memory never grows. A veto older
    than the window (a live clock stepped back that far) counts in the cumulative view only.
    """

    def __init__(self, bucket_seconds: float, max_buckets: int) -> None:
        self.bucket_seconds = bucket_seconds
        self.max_buckets = max_buckets
        self.by_reason_symbol: dict[str, dict[str, int]] = {}
        self._slots: list[dict[str, int] | None] = [None] * max_buckets  # reason -> n
        self._slot_bucket: list[int] = [0] * max_buckets  # the bucket index each slot holds
        self._newest: int | None = None

    def add_reason_symbol(self, reason: str, symbol: str | None, n: int) -> None:
        per_symbol = self.by_reason_symbol.get(reason)
        if per_symbol is None:
            per_symbol = self.by_reason_symbol[reason] = {}
        key = symbol or "_portfolio"
        per_symbol[key] = per_symbol.get(key, 0) + n

    def add_times(self, reasons: np.ndarray, times: np.ndarray, names: Sequence[str]) -> None:
        """Count a batch of vetoes in their time buckets, in bulk: veto i has the reason
        ``names[reasons[i]]`` and the engine time ``times[i]``."""
        if times.size == 0:
            return
        buckets = np.floor_divide(times, self.bucket_seconds).astype(np.int64)
        newest = int(buckets.max())
        if self._newest is not None:
            newest = max(newest, self._newest)
        # Only the last max_buckets buckets are kept: older vetoes count in by_reason_symbol only.
        keep = buckets > newest - self.max_buckets
        if not keep.all():
            buckets, reasons = buckets[keep], reasons[keep]
            if buckets.size == 0:
                return
        # One integer per (bucket, reason), counted at C speed; ascending keys reach the buckets
        # in time order.
        lo, width = int(buckets.min()), len(names)
        counts = np.bincount((buckets - lo) * width + reasons)
        keys = np.flatnonzero(counts)
        slot: dict[str, int] | None = None
        current = -1
        for bucket, reason, n in zip(
            (keys // width).tolist(), (keys % width).tolist(), counts[keys].tolist(), strict=True
        ):
            if bucket != current:  # a bucket's reasons are consecutive: open its slot once
                current, slot = bucket, self._counts(lo + bucket)
            if slot is not None:
                name = names[reason]
                slot[name] = slot.get(name, 0) + n

    def _counts(self, bucket: int) -> dict[str, int] | None:
        """The counts of ``bucket``, opened in its slot if needed; None if it is too old."""
        newest = self._newest
        if newest is None or bucket > newest:
            self._newest = bucket
        elif bucket <= newest - self.max_buckets:
            return None
        i = bucket % self.max_buckets
        counts = self._slots[i]
        if counts is None or self._slot_bucket[i] != bucket:
            counts = self._slots[i] = {}
            self._slot_bucket[i] = bucket
        return counts

    @property
    def _buckets(self) -> dict[int, dict[str, int]]:
        """The buckets within the window, oldest first: bucket index -> reason -> n."""
        if self._newest is None:
            return {}
        oldest = self._newest - self.max_buckets
        held = [
            (b, c)
            for b, c in zip(self._slot_bucket, self._slots, strict=True)
            if c is not None and b > oldest
        ]
        return dict(sorted(held, key=itemgetter(0)))

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready copy: reason -> symbol -> n, and reason -> bucket ISO -> n."""
        by_time: dict[str, dict[str, int]] = {}
        for bucket, counts in self._buckets.items():
            label = to_iso(bucket * self.bucket_seconds) or ""
            for reason, n in counts.items():
                by_time.setdefault(reason, {})[label] = n
        return {
            "bucket_seconds": self.bucket_seconds,
            "max_buckets": self.max_buckets,
            "by_reason_symbol": {r: dict(s) for r, s in self.by_reason_symbol.items()},
            "by_reason_time": by_time,
        }
