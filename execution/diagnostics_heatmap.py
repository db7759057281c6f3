"""Bounded structures behind the veto window and the veto heatmap (owned by diagnostics_metrics).

Both are plain, single-threaded containers: diagnostics_metrics holds its lock around them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from execution.clock import to_iso

# Outcome kinds recorded in the window: one per entry signal.
VETO = "veto"
ORDER = "order"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    ts: float
    kind: str  # VETO | ORDER | FAILED
    reason: str | None  # veto reason or failure category
    symbol: str | None


class OutcomeWindow:
    """The last ``max_signals`` signal outcomes; reads keep those younger than ``max_age``."""

    def __init__(self, max_signals: int, max_age_seconds: float) -> None:
        self.max_age_seconds = max_age_seconds
        self._items: deque[Outcome] = deque(maxlen=max_signals)

    @property
    def max_signals(self) -> int:
        return self._items.maxlen or 0

    def add(self, outcome: Outcome) -> None:
        self._items.append(outcome)

    def summary(self, now: float) -> dict[str, object]:
        """Aggregate the outcomes within both bounds (count and age)."""
        cutoff = now - self.max_age_seconds
        by_reason: dict[str, int] = {}
        vetoes = orders = failures = 0
        for o in self._items:
            if o.ts < cutoff:
                continue
            if o.kind == VETO:
                vetoes += 1
                key = o.reason or "unknown"
                by_reason[key] = by_reason.get(key, 0) + 1
            elif o.kind == ORDER:
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
        self._buckets: dict[int, dict[str, int]] = {}

    def add(self, reason: str, symbol: str | None, ts: float) -> None:
        per_symbol = self.by_reason_symbol.setdefault(reason, {})
        key = symbol or "_portfolio"
        per_symbol[key] = per_symbol.get(key, 0) + 1
        bucket = int(ts // self.bucket_seconds)
        counts = self._buckets.get(bucket)
        if counts is None:
            counts = self._buckets[bucket] = {}
            if len(self._buckets) > self.max_buckets:
                # Engine time only moves forward, so the oldest bucket is the smallest key.
                del self._buckets[min(self._buckets)]
        counts[reason] = counts.get(reason, 0) + 1

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
