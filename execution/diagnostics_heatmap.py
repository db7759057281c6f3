"""Bounded structures behind the veto window and the veto heatmap (owned by diagnostics_metrics).

Both are plain, single-threaded containers: diagnostics_metrics holds its lock around them.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from itertools import repeat
from operator import floordiv, itemgetter
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
_time_of = itemgetter(1)
_reason_of = itemgetter(2)


class OutcomeWindow:
    """The last ``max_signals`` signal outcomes; reads keep those younger than ``max_age``."""

    def __init__(self, max_signals: int, max_age_seconds: float) -> None:
        self.max_age_seconds = max_age_seconds
        self._items: deque[Outcome] = deque(maxlen=max_signals)
        # Append one outcome (the oldest falls out beyond max_signals): the deque's own append,
        # so that adding costs no Python call.
        self.add: Callable[[Outcome], None] = self._items.append
        self.extend: Callable[[Iterable[Outcome]], None] = self._items.extend

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

    def add(self, reason: str, symbol: str | None, ts: float) -> None:
        self.add_reason_symbol(reason, symbol, 1)
        counts = self._counts(int(ts // self.bucket_seconds))
        if counts is not None:
            counts[reason] = counts.get(reason, 0) + 1

    def add_reason_symbol(self, reason: str, symbol: str | None, n: int) -> None:
        per_symbol = self.by_reason_symbol.get(reason)
        if per_symbol is None:
            per_symbol = self.by_reason_symbol[reason] = {}
        key = symbol or "_portfolio"
        per_symbol[key] = per_symbol.get(key, 0) + n

    def add_times(self, vetoes: list[Outcome]) -> None:
        """Count a batch of veto outcomes in their time buckets, in bulk."""
        # The bucket of each veto without a Python statement per veto; a Counter keeps the
        # order in which it first saw each key, so buckets are reached in time order.
        buckets = map(floordiv, map(_time_of, vetoes), repeat(self.bucket_seconds))
        keys = zip(buckets, map(_reason_of, vetoes), strict=True)
        for (bucket, reason), n in Counter(keys).items():
            counts = self._counts(int(bucket))
            if counts is not None:
                counts[reason] = counts.get(reason, 0) + n

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
