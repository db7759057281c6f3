"""The veto heatmap: reason x symbol (cumulative) and reason x time bucket (the last N buckets)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from execution.clock import to_iso
from execution.diagnostics.model import REASON_KEYS

PORTFOLIO = "_portfolio"  # the symbol column of a portfolio-level veto
# A (bucket, reason) count is keyed by one int, bucket * SLOTS + the reason's number: an int key
# is no container for the garbage collector to track (see OutcomeWindow), and one flat dict
# holds every bucket.
REASONS = tuple(REASON_KEYS)
REASON_NUMBER = {reason: n for n, reason in enumerate(REASONS)}
SLOTS = 16
assert len(REASONS) <= SLOTS


@lru_cache(maxsize=1024)
def bucket_label(start: float) -> str:
    """The ISO-8601 time of a bucket's start (epoch seconds).

    Every publish labels the same few hundred buckets (the heatmap's and the timeline's), and
    formatting a datetime is most of what building them costs: each label is formatted once.
    """
    return to_iso(start) or ""


class VetoHeatmap:
    """Vetoes counted by (reason, symbol), and by reason in time buckets.

    Bucket b holds the vetoes with ``b * bucket_seconds <= t < (b + 1) * bucket_seconds``. Only
    the newest ``max_buckets`` buckets are kept, so memory never grows; a veto older than that
    (a live clock stepped back) counts in the cumulative view only. A record updates two flat
    counters; the nested maps and the bucket labels are built when read.
    """

    __slots__ = ("bucket_seconds", "max_buckets", "cells", "counts", "newest", "prune_at")

    def __init__(self, bucket_seconds: float, max_buckets: int) -> None:
        self.bucket_seconds = bucket_seconds
        self.max_buckets = max_buckets
        self.cells: dict[tuple[str, str | None], int] = {}  # (reason, symbol as given) -> n
        self.counts: dict[int, int] = {}  # bucket * SLOTS + reason number -> n
        self.newest: int | None = None
        self.prune_at: float = -math.inf  # the bucket whose opening prunes the stale ones

    def add(self, reason: str, symbol: str | None, t: float) -> None:
        """Count a veto of ``reason`` (a REASON_KEYS value) on ``symbol`` at ``t``."""
        cell = (reason, symbol)
        cells = self.cells
        cells[cell] = cells.get(cell, 0) + 1
        bucket = int(t // self.bucket_seconds)
        newest = self.newest
        if newest is not None and bucket <= newest - self.max_buckets:
            return  # older than every bucket kept
        counts = self.counts
        key = bucket * SLOTS + REASON_NUMBER[reason]
        counts[key] = counts.get(key, 0) + 1
        if newest is None or bucket > newest:
            self.newest = bucket
            if bucket >= self.prune_at:
                self._prune()

    def _prune(self) -> None:
        """Drop the buckets that fell out of the window, once per ``max_buckets`` new ones.

        Between prunes at most ``max_buckets`` stale buckets wait (readers filter them out),
        so memory stays bounded. Deleting keys one by one from the front of the dict would cost
        more: a dict keeps its deleted slots until it resizes, and finding its first key walks
        past every one of them.
        """
        newest = self.newest or 0
        oldest_kept = (newest - self.max_buckets + 1) * SLOTS
        self.counts = {key: n for key, n in self.counts.items() if key >= oldest_kept}
        self.prune_at = newest + self.max_buckets

    def by_reason_symbol(self) -> dict[str, dict[str, int]]:
        """reason -> symbol column -> n (a portfolio veto under PORTFOLIO), first seen first."""
        nested: dict[str, dict[str, int]] = {}
        for (reason, symbol), n in self.cells.items():
            per_symbol = nested.setdefault(reason, {})
            column = symbol or PORTFOLIO
            per_symbol[column] = per_symbol.get(column, 0) + n
        return nested

    def held(self) -> list[tuple[int, dict[str, int]]]:
        """The buckets within the window, oldest first: (bucket, reason -> n)."""
        if self.newest is None:
            return []
        oldest_kept = self.newest - self.max_buckets + 1
        buckets: dict[int, dict[str, int]] = {}
        for key, n in self.counts.items():
            bucket, number = divmod(key, SLOTS)
            if bucket >= oldest_kept:
                buckets.setdefault(bucket, {})[REASONS[number]] = n
        return sorted(buckets.items())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy: reason -> symbol -> n, and reason -> bucket ISO -> n."""
        by_time: dict[str, dict[str, int]] = {}
        for bucket, counts in self.held():
            label = bucket_label(bucket * self.bucket_seconds)
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
        self.newest = max(merged) if merged else None
        oldest_kept = (self.newest or 0) - self.max_buckets + 1
        self.prune_at = -math.inf if self.newest is None else self.newest + self.max_buckets
        self.counts = {
            b * SLOTS + REASON_NUMBER[reason]: n
            for b, counts in sorted(merged.items())
            if b >= oldest_kept
            for reason, n in counts.items()
        }
