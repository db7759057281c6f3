"""The veto heatmap: reason x symbol (cumulative) and reason x time bucket (the last N buckets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from execution.clock import to_iso

PORTFOLIO = "_portfolio"  # the symbol column of a portfolio-level veto


class VetoHeatmap:
    """Vetoes counted by reason and symbol, and by reason in time buckets.

    Bucket b holds the vetoes with ``b * bucket_seconds <= t < (b + 1) * bucket_seconds``. Only
    the newest ``max_buckets`` buckets are kept, so memory never grows; a veto older than that
    (a live clock stepped back) counts in the cumulative view only.
    """

    def __init__(self, bucket_seconds: float, max_buckets: int) -> None:
        self.bucket_seconds = bucket_seconds
        self.max_buckets = max_buckets
        self.by_reason_symbol: dict[str, dict[str, int]] = {}
        self.buckets: dict[int, dict[str, int]] = {}  # bucket index -> reason -> n
        self.newest: int | None = None

    def add(self, reason: str, symbol: str | None, t: float) -> None:
        per_symbol = self.by_reason_symbol.get(reason)
        if per_symbol is None:
            per_symbol = self.by_reason_symbol[reason] = {}
        column = symbol or PORTFOLIO
        per_symbol[column] = per_symbol.get(column, 0) + 1
        bucket = int(t // self.bucket_seconds)
        newest = self.newest
        if newest is None or bucket > newest:
            self.newest = bucket
            self._drop_before(bucket - self.max_buckets + 1)
        elif bucket <= newest - self.max_buckets:
            return
        counts = self.buckets.get(bucket)
        if counts is None:
            counts = self.buckets[bucket] = {}
        counts[reason] = counts.get(reason, 0) + 1

    def _drop_before(self, oldest_kept: int) -> None:
        """Drop the buckets older than ``oldest_kept``, oldest first. Buckets open in time
        order, so the oldest is first in the dict and this stops at the first one kept; one
        reopened out of order (a clock stepped back) goes when those opened before it have."""
        buckets = self.buckets
        while buckets:
            first = next(iter(buckets))
            if first >= oldest_kept:
                return
            del buckets[first]

    def held(self) -> list[tuple[int, dict[str, int]]]:
        """The buckets within the window, oldest first."""
        if self.newest is None:
            return []
        oldest_kept = self.newest - self.max_buckets + 1
        return sorted((b, c) for b, c in self.buckets.items() if b >= oldest_kept)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy: reason -> symbol -> n, and reason -> bucket ISO -> n."""
        by_time: dict[str, dict[str, int]] = {}
        for bucket, counts in self.held():
            label = to_iso(bucket * self.bucket_seconds) or ""
            for reason, n in counts.items():
                by_time.setdefault(reason, {})[label] = n
        return {
            "bucket_seconds": self.bucket_seconds,
            "max_buckets": self.max_buckets,
            "by_reason_symbol": {r: dict(s) for r, s in self.by_reason_symbol.items()},
            "by_reason_time": by_time,
        }

    def export(self) -> dict[str, Any]:
        return {
            "bucket_seconds": self.bucket_seconds,
            "by_reason_symbol": {r: dict(s) for r, s in self.by_reason_symbol.items()},
            "buckets": [[b, dict(c)] for b, c in self.held()],
        }

    def replace(
        self,
        by_reason_symbol: Mapping[str, Mapping[str, int]],
        buckets: list[tuple[int, dict[str, int]]],
        bucket_seconds: float,
    ) -> None:
        """Hold the exported contents; buckets of another width are merged into this width's
        (a config change between runs), then only the newest max_buckets are kept."""
        self.by_reason_symbol = {r: dict(s) for r, s in by_reason_symbol.items()}
        merged: dict[int, dict[str, int]] = {}
        for bucket, counts in buckets:
            index = bucket
            if bucket_seconds != self.bucket_seconds:
                index = int(bucket * bucket_seconds // self.bucket_seconds)
            target = merged.setdefault(index, {})
            for reason, n in counts.items():
                target[reason] = target.get(reason, 0) + n
        self.newest = max(merged) if merged else None
        oldest_kept = (self.newest or 0) - self.max_buckets + 1
        self.buckets = {b: c for b, c in sorted(merged.items()) if b >= oldest_kept}
