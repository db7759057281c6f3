"""The veto heatmap: reason x symbol (cumulative) and reason x time bucket (the last N buckets)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from execution.clock import to_iso

PORTFOLIO = "_portfolio"  # the symbol column of a portfolio-level veto


class VetoHeatmap:
    """Vetoes counted by (reason, symbol), and by reason in time buckets.

    Bucket b holds the vetoes with ``b * bucket_seconds <= t < (b + 1) * bucket_seconds``. Only
    the newest ``max_buckets`` buckets are kept, so memory never grows; a veto older than that
    (a live clock stepped back) counts in the cumulative view only.

    The record path (``Diagnostics.record_veto``) touches two flat counters: ``cells``, keyed
    by (reason, symbol as given), and ``current``, the newest bucket's counts by reason, when
    the veto falls in that bucket (nearly always: records carry the loop's time). The nested
    maps and the bucket labels are built when read.
    """

    __slots__ = ("bucket_seconds", "max_buckets", "cells", "buckets", "newest", "current")

    def __init__(self, bucket_seconds: float, max_buckets: int) -> None:
        self.bucket_seconds = bucket_seconds
        self.max_buckets = max_buckets
        self.cells: dict[tuple[str, str | None], int] = {}  # (reason, symbol) -> n
        self.buckets: dict[int, dict[str, int]] = {}  # bucket index -> reason -> n
        # The newest bucket's index as ``t // bucket_seconds`` gives it (a float: compared
        # with the record's own quotient), and its counts; -inf before the first veto.
        self.newest = float("-inf")
        self.current: dict[str, int] = {}

    def add_in_bucket(self, reason: str, bucket: float) -> None:
        """Count a veto of ``reason`` in a bucket other than the newest (opened here when it
        is newer; dropped when it is older than the buckets kept).

        Opening a bucket drops those that fell out of the window, oldest first: buckets open
        in time order, so the oldest is first in the dict and the loop stops at the first one
        kept. One reopened out of order (a clock stepped back) goes when those opened before
        it have, and is filtered out when read until then.
        """
        index = int(bucket)
        buckets = self.buckets
        if bucket > self.newest:
            self.newest = bucket
            self.current = buckets[index] = {reason: 1}
            oldest_kept = index - self.max_buckets + 1
            # Never empty: the bucket just opened is kept, so the loop stops there at the latest.
            while (first := next(iter(buckets))) < oldest_kept:
                del buckets[first]
            return
        if bucket <= self.newest - self.max_buckets:
            return
        counts = buckets.get(index)
        if counts is None:
            counts = buckets[index] = {}
        counts[reason] = counts.get(reason, 0) + 1

    def by_reason_symbol(self) -> dict[str, dict[str, int]]:
        """reason -> symbol column -> n (a portfolio veto under PORTFOLIO), first seen first."""
        nested: dict[str, dict[str, int]] = {}
        for (reason, symbol), n in self.cells.items():
            per_symbol = nested.get(reason)
            if per_symbol is None:
                per_symbol = nested[reason] = {}
            column = symbol or PORTFOLIO
            per_symbol[column] = per_symbol.get(column, 0) + n
        return nested

    def held(self) -> list[tuple[int, dict[str, int]]]:
        """The buckets within the window, oldest first (copies)."""
        if not self.buckets:
            return []
        oldest_kept = int(self.newest) - self.max_buckets + 1
        return sorted((b, dict(c)) for b, c in self.buckets.items() if b >= oldest_kept)

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
            "by_reason_symbol": self.by_reason_symbol(),
            "by_reason_time": by_time,
        }

    def export(self) -> dict[str, Any]:
        return {
            "bucket_seconds": self.bucket_seconds,
            "by_reason_symbol": self.by_reason_symbol(),
            "buckets": [[b, c] for b, c in self.held()],
        }

    def replace(
        self,
        by_reason_symbol: Mapping[str, Mapping[str, int]],
        buckets: Iterable[tuple[int, dict[str, int]]],
        bucket_seconds: float,
    ) -> None:
        """Hold the exported contents; buckets of another width are merged into this width's
        (a config change between runs), then only the newest max_buckets are kept."""
        self.cells = {(r, s): n for r, per in by_reason_symbol.items() for s, n in per.items()}
        merged: dict[int, dict[str, int]] = {}
        for bucket, counts in buckets:
            index = bucket
            if bucket_seconds != self.bucket_seconds:
                index = int(bucket * bucket_seconds // self.bucket_seconds)
            target = merged.setdefault(index, {})
            for reason, n in counts.items():
                target[reason] = target.get(reason, 0) + n
        if not merged:
            self.buckets, self.newest, self.current = {}, float("-inf"), {}
            return
        newest = max(merged)
        oldest_kept = newest - self.max_buckets + 1
        self.buckets = {b: c for b, c in sorted(merged.items()) if b >= oldest_kept}
        self.newest = float(newest)
        self.current = self.buckets[newest]
