"""Bounded structures behind the veto window and the veto heatmap (owned by diagnostics_metrics).

Both are plain, single-threaded containers: diagnostics_metrics holds its lock around them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from execution.clock import to_iso

# Outcome kinds recorded in the window: one per entry signal.
VETO = "veto"
ORDER = "order"
FAILED = "failed"


# An outcome is the event diagnostics_metrics recorded, kept as it is (no copy on the hot path):
# (kind, ts, a, b, c) with kind VETO (a = reason, b = symbol), ORDER or FAILED (a = order kind,
# b = symbol, c = failure category).
Outcome = tuple[str, float, Any, Any, Any]


class OutcomeWindow:
    """The last ``max_signals`` signal outcomes; reads keep those younger than ``max_age``."""

    def __init__(self, max_signals: int, max_age_seconds: float) -> None:
        self.max_age_seconds = max_age_seconds
        self._items: deque[Outcome] = deque(maxlen=max_signals)
        # Append one outcome (the oldest falls out beyond max_signals): the deque's own append,
        # so that adding costs no Python call.
        self.add: Callable[[Outcome], None] = self._items.append

    @property
    def max_signals(self) -> int:
        return self._items.maxlen or 0

    def summary(self, now: float) -> dict[str, object]:
        """Aggregate the outcomes within both bounds (count and age)."""
        cutoff = now - self.max_age_seconds
        by_reason: dict[str, int] = {}
        vetoes = orders = failures = 0
        for kind, ts, reason, _symbol, _error in self._items:
            if ts < cutoff:
                continue
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
    """Vetoes by reason x symbol (cumulative) and by reason x time bucket (last N buckets)."""

    def __init__(self, bucket_seconds: float, max_buckets: int) -> None:
        self.bucket_seconds = bucket_seconds
        self.max_buckets = max_buckets
        self.by_reason_symbol: dict[str, dict[str, int]] = {}
        # bucket index -> reason -> n, kept in time order (the oldest bucket is the first key).
        self._buckets: dict[int, dict[str, int]] = {}
        self._newest: int | None = None

    def add(self, reason: str, symbol: str | None, ts: float) -> None:
        per_symbol = self.by_reason_symbol.get(reason)
        if per_symbol is None:
            per_symbol = self.by_reason_symbol[reason] = {}
        key = symbol or "_portfolio"
        per_symbol[key] = per_symbol.get(key, 0) + 1
        bucket = int(ts // self.bucket_seconds)
        counts = self._buckets.get(bucket)
        if counts is None:
            counts = self._new_bucket(bucket)
        counts[reason] = counts.get(reason, 0) + 1

    def _new_bucket(self, bucket: int) -> dict[str, int]:
        """Open a bucket and drop the oldest beyond max_buckets, in O(1) when time moves on.

        (A replay opens a bucket for nearly every veto: finding the oldest with ``min`` over
        hundreds of keys each time was most of what diagnostics cost a replay.)
        """
        counts: dict[str, int] = {}
        buckets = self._buckets
        buckets[bucket] = counts
        if self._newest is not None and bucket < self._newest:
            # The clock stepped back (live clock adjusted): restore the time order, rarely.
            self._buckets = buckets = dict(sorted(buckets.items()))
        else:
            self._newest = bucket
        if len(buckets) > self.max_buckets:
            del buckets[next(iter(buckets))]
        return counts

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready copy: reason -> symbol -> n, and reason -> bucket ISO -> n."""
        by_time: dict[str, dict[str, int]] = {}
        for bucket in sorted(self._buckets):
            label = to_iso(bucket * self.bucket_seconds) or ""
            for reason, n in self._buckets[bucket].items():
                by_time.setdefault(reason, {})[label] = n
        return {
            "bucket_seconds": self.bucket_seconds,
            "max_buckets": self.max_buckets,
            "by_reason_symbol": {r: dict(s) for r, s in self.by_reason_symbol.items()},
            "by_reason_time": by_time,
        }
