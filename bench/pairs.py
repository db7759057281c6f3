"""Alternated pairs of timings and what their ratios allow one to say.

A shared machine's load moves between runs; a ratio taken inside one pair (v7 run, then
backtesting.py run, back to back) sees the same conditions on both sides. The figure is the
median of the pairs' ratios, shown with its spread; a verdict is given only when the spread
lies on one side of 1 (every pair, else the interquartile range).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

Timing = tuple[float, float]  # (wall s, cpu s)
MIN_PAIRS = 3  # fewer pairs than this say nothing about the spread


def alternate(
    ours: Callable[[], Timing], theirs: Callable[[], Timing], runs: int
) -> tuple[list[Timing], list[Timing]]:
    """Run ``ours`` then ``theirs``, ``runs`` times; both timing lists in pair order."""
    a: list[Timing] = []
    b: list[Timing] = []
    for _ in range(runs):
        a.append(ours())
        b.append(theirs())
    return a, b


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """The first and third quartile (inclusive method; the values themselves for n < 2)."""
    if len(values) < 2:
        return float(values[0]), float(values[0])
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def verdict(ratios: Sequence[float], faster: str, slower: str) -> str:
    """``faster`` / ``slower`` when the spread is on one side of 1, else "no verdict"."""
    if len(ratios) < MIN_PAIRS:
        return f"no verdict: {len(ratios)} pair(s)"
    if min(ratios) > 1:
        return f"{faster} (every pair)"
    if max(ratios) < 1:
        return f"{slower} (every pair)"
    q1, q3 = quartiles(ratios)
    if q1 > 1:
        return f"{faster} (IQR)"
    if q3 < 1:
        return f"{slower} (IQR)"
    return "no verdict: the spread straddles 1"


def budget_verdict(ratios: Sequence[float], budget_pct: float) -> str:
    """Whether a cost paired as on/off time ratios keeps within ``budget_pct`` percent.

    "within" only when the upper quartile of the pairs is at or under the budget, "over" only
    when the lower quartile is above it: a median inside a spread that straddles the budget
    says nothing either way on a machine this noisy.
    """
    if len(ratios) < MIN_PAIRS:
        return f"no verdict: {len(ratios)} pair(s)"
    limit = 1 + budget_pct / 100
    q1, q3 = quartiles(ratios)
    if q3 <= limit:
        return f"within {budget_pct:g}% (IQR)"
    if q1 > limit:
        return f"over {budget_pct:g}% (IQR)"
    return f"no verdict: the spread straddles {budget_pct:g}%"


def ratio_stats(ratios: Sequence[float], target: float | None = None) -> dict[str, Any]:
    """Median, IQR, min-max of speed ratios (>1: ours faster), the verdict, the target check."""
    q1, q3 = quartiles(ratios)
    out: dict[str, Any] = {
        "median": round(statistics.median(ratios), 3),
        "iqr": [round(q1, 3), round(q3, 3)],
        "min_max": [round(min(ratios), 3), round(max(ratios), 3)],
        "runs": [round(r, 3) for r in ratios],
        "verdict": verdict(ratios, "v7 faster", "backtesting.py faster"),
    }
    if target is not None:
        # Met only when the spread allows it: the lower quartile at or above the target.
        out["target"] = target
        out["target_met"] = q1 >= target
    return out


def speed_ratios(ours: Sequence[Timing], theirs: Sequence[Timing], cpu: bool) -> list[float]:
    """Per pair: their time / our time (> 1 means ours is faster)."""
    k = 1 if cpu else 0
    return [t[k] / o[k] for o, t in zip(ours, theirs, strict=True) if o[k] > 0]


def spread_text(stats: dict[str, Any]) -> str:
    """``1.23x (IQR 1.10-1.31, min-max 0.98-1.40)``: the median with its spread beside it."""
    q1, q3 = stats["iqr"]
    lo, hi = stats["min_max"]
    return f"{stats['median']:.2f}x (IQR {q1:.2f}-{q3:.2f}, min-max {lo:.2f}-{hi:.2f})"


def overhead_stats(ratios: Sequence[float]) -> dict[str, Any]:
    """The median, mean and interquartile range of on/off time ratios, as percent over 1."""
    q1, q3 = quartiles(ratios)
    return {
        "median_pct": round((statistics.median(ratios) - 1) * 100, 2),
        "mean_pct": round((statistics.fmean(ratios) - 1) * 100, 2),
        "iqr_pct": [round((q1 - 1) * 100, 2), round((q3 - 1) * 100, 2)],
        "ratios": [round(r, 4) for r in ratios],
    }
