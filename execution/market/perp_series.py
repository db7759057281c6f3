"""A perpetual's own series beside its trade bars: mark-price bars and the funding-rate history.

Marks are known at bar resolution only: at time ``t`` inside a mark bar the engine knows that
bar's open, and after the bar its close (never a close before its bar has ended).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from execution.types import RejectCounts

FloatArray = NDArray[np.float64]
FUNDING_INTERVAL_SECONDS = 8 * 3600  # Binance USD-M: 00:00, 08:00, 16:00 UTC
MAX_ABS_FUNDING_RATE = 0.05  # beyond any exchange's cap: a unit error (percent), not data


@dataclass(frozen=True, slots=True, eq=False)
class FundingSeries:
    """Funding settlements of one instrument: epoch seconds and the rate (a fraction) of each."""

    ts: tuple[float, ...]
    rate: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.ts)

    def between(self, after: float, upto: float) -> list[tuple[float, float]]:
        """Return the (ts, rate) settlements with ``after < ts <= upto``, oldest first."""
        lo = bisect_right(self.ts, after)
        hi = bisect_right(self.ts, upto)
        return list(zip(self.ts[lo:hi], self.rate[lo:hi], strict=True))


@dataclass(frozen=True, slots=True, eq=False)
class MarkSeries:
    """Mark-price bars (epoch-second opens) and their length in seconds."""

    ts: Sequence[float]  # tuples or C arrays (``array('d')``): read by index and bisect
    open: Sequence[float]
    high: Sequence[float]
    low: Sequence[float]
    close: Sequence[float]
    timeframe_seconds: float

    def __len__(self) -> int:
        return len(self.ts)

    def at(self, t: float) -> float | None:
        """Return the mark known at ``t``: the open of the bar holding ``t``, else the last close."""
        i = bisect_right(self.ts, t) - 1
        if i < 0:
            return None
        if t < self.ts[i] + self.timeframe_seconds:
            return self.open[i]
        return self.close[i]

    def covers(self, t: float) -> bool:
        """Return True if ``t`` falls inside one of the series' bars' span."""
        return bool(self.ts) and self.ts[0] <= t < self.ts[-1] + self.timeframe_seconds

    def bar_at(self, ts: float) -> tuple[float, float] | None:
        """Return (high, low) of the mark bar opening exactly at ``ts``, if there is one."""
        i = bisect_right(self.ts, ts) - 1
        if i < 0 or self.ts[i] != ts:
            return None
        return self.high[i], self.low[i]


@dataclass(frozen=True, slots=True)
class PerpData:
    """What a replay knows of one perpetual beyond its trade bars (either part may be absent).

    ``marks`` holds the mark series of every timeframe the data has, finest first: a time a
    fine series does not cover is read from a coarser one.
    """

    marks: tuple[MarkSeries, ...] = ()
    funding: FundingSeries | None = None

    def mark_at(self, t: float) -> float | None:
        """Return the mark known at ``t`` from the finest series covering it (None if none)."""
        for m in self.marks:
            if m.covers(t):
                return m.at(t)
        known = [v for m in self.marks if (v := m.at(t)) is not None]
        return known[0] if known else None

    def mark_range(self, ts: float) -> tuple[float, float] | None:
        """Return (high, low) of the finest mark bar opening at ``ts`` (the bar being traded)."""
        for m in self.marks:
            if (hl := m.bar_at(ts)) is not None:
                return hl
        return None


def validate_funding(
    symbol: str, ts: FloatArray, rate: FloatArray, rejects: RejectCounts
) -> FundingSeries:
    """Drop non-finite, implausible (|rate| > 5 %) and out-of-order settlements, counted."""
    ok = np.isfinite(ts) & np.isfinite(rate)
    rejects.add(symbol, "nan", int((~ok).sum()))
    sane = ok & (np.abs(np.where(ok, rate, 0.0)) <= MAX_ABS_FUNDING_RATE)
    rejects.add(symbol, "implausible_funding_rate", int((ok & ~sane).sum()))
    keep_ts: list[float] = []
    keep_rate: list[float] = []
    last = -math.inf
    for t, r in zip(ts[sane].tolist(), rate[sane].tolist(), strict=True):
        if t <= last:
            rejects.add(symbol, "duplicate_ts" if t == last else "out_of_order_ts")
            continue
        keep_ts.append(t)
        keep_rate.append(r)
        last = t
    return FundingSeries(tuple(keep_ts), tuple(keep_rate))


def scheduled_funding_times(start: float, end: float) -> list[float]:
    """Return the exchange schedule's settlement times (00/08/16 UTC) in ``[start, end]``."""
    step = FUNDING_INTERVAL_SECONDS
    first = math.ceil(start / step) * step
    return [float(t) for t in range(int(first), int(end) + 1, step)]
