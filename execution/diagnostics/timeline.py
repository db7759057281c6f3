"""The vetoes of the whole run by reason and time, in a bounded number of columns.

The spec's heatmap keeps fine buckets for the last ``max_buckets`` only, so in a long run the
moment trading stopped falls off it. The timeline keeps every veto since the start: when the
run no longer fits in ``max_columns`` buckets, adjacent buckets merge (the width doubles), so
the columns stay bounded however long the run is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from execution.diagnostics.heatmap import bucket_label

TIMELINE_COLUMNS = 96


class VetoTimeline:
    """reason -> count per time bucket since the run began; buckets widen as the run grows."""

    __slots__ = ("bucket_seconds", "max_columns", "buckets", "first", "last")

    def __init__(self, bucket_seconds: float, max_columns: int = TIMELINE_COLUMNS) -> None:
        self.bucket_seconds = bucket_seconds
        self.max_columns = max_columns
        self.buckets: dict[int, dict[str, int]] = {}  # bucket index (t // width) -> reason -> n
        self.first = self.last = 0  # the oldest and newest bucket indexes held

    def add(self, reason: str, t: float) -> None:
        """Count a veto of ``reason`` at ``t`` (the caller holds the diagnostics lock)."""
        index = int(t // self.bucket_seconds)
        counts = self.buckets.get(index)
        if counts is None:
            if not self.buckets:
                self.first = self.last = index
            self.first, self.last = min(self.first, index), max(self.last, index)
            counts = self.buckets[index] = {}
            if self.last - self.first >= self.max_columns:
                counts[reason] = 1
                self._widen()
                return
        counts[reason] = counts.get(reason, 0) + 1

    def _widen(self) -> None:
        """Double the width until the run fits: bucket i of the old width is i // 2 of the new."""
        while max(self.buckets) - min(self.buckets) >= self.max_columns:
            self.bucket_seconds *= 2
            merged: dict[int, dict[str, int]] = {}
            for index, counts in self.buckets.items():
                target = merged.setdefault(index // 2, {})
                for reason, n in counts.items():
                    target[reason] = target.get(reason, 0) + n
            self.buckets = merged
        self.first, self.last = min(self.buckets), max(self.buckets)

    def to_dict(self) -> dict[str, Any]:
        """Return the published form: the width and reason -> bucket start (ISO) -> n."""
        by_time: dict[str, dict[str, int]] = {}
        for index in sorted(self.buckets):
            label = bucket_label(index * self.bucket_seconds)
            for reason, n in self.buckets[index].items():
                by_time.setdefault(reason, {})[label] = n
        return {"bucket_seconds": self.bucket_seconds, "by_reason_time": by_time}

    def export(self) -> dict[str, Any]:
        return {
            "bucket_seconds": self.bucket_seconds,
            "buckets": [[index, dict(self.buckets[index])] for index in sorted(self.buckets)],
        }

    def replace(self, buckets: Iterable[tuple[int, dict[str, int]]], bucket_seconds: float) -> None:
        """Hold an exported timeline (its width is kept: it is where the run had got to)."""
        self.bucket_seconds = bucket_seconds
        self.buckets = {index: dict(counts) for index, counts in buckets}
        if self.buckets:
            self._widen()
