"""One instrument's validated OHLCV bars (``BarSeries``) and the checks that make them valid."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from execution.market.perp_series import PerpData
from execution.types import RejectCounts

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# In the order they are tested: a rejected bar is counted once, for the first that applies.
REJECT_REASONS = (
    "malformed_line",
    "nan",
    "non_positive",
    "high_below_low",
    "open_outside_range",
    "close_outside_range",
    "ts_far_ahead",
    "duplicate_ts",
    "out_of_order_ts",
)
# A bar dated this many median spacings after the bar that follows it is a lone bad timestamp.
FAR_AHEAD_SPACINGS = 100
_TIMEFRAMES = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600}
_TIMEFRAMES |= {"2h": 7200, "4h": 14_400, "6h": 21_600, "8h": 28_800, "12h": 43_200}
_TIMEFRAMES |= {"1d": 86_400}
_FIELDS = ("ts", "open", "high", "low", "close", "volume")


def timeframe_seconds(tf: str) -> int:
    """Return the length in seconds of a timeframe such as "1m", "4h" or "1d"."""
    try:
        return _TIMEFRAMES[tf]
    except KeyError:
        raise ValueError(f"unknown timeframe {tf!r} (known: {', '.join(_TIMEFRAMES)})") from None


def timeframe_seconds_or_none(tf: str | None) -> float | None:
    """Return the seconds of a known timeframe, None for an unknown one or None."""
    return float(_TIMEFRAMES[tf]) if tf in _TIMEFRAMES else None


@dataclass(frozen=True, slots=True, eq=False)
class BarSeries:
    """One symbol's bars as parallel float64 arrays; ts is epoch seconds (UTC) of the bar open."""

    symbol: str
    ts: FloatArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    perp: PerpData | None = None  # mark and funding series of a perpetual, when the data has them

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in _FIELDS:
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if arr.ndim != 1 or len(arr) != n:
                raise ValueError(f"BarSeries {self.symbol}: {name} must be 1-D of length {n}")
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls, symbol: str) -> BarSeries:
        """Return a series with no bars."""
        e = np.empty(0, dtype=np.float64)
        return cls(symbol, e, e, e, e, e, e)

    def equals(self, other: BarSeries) -> bool:
        """Return True if both series have the same symbol and bit-identical arrays."""
        return self.symbol == other.symbol and all(
            np.array_equal(getattr(self, f), getattr(other, f), equal_nan=True) for f in _FIELDS
        )


def concat_series(parts: Sequence[BarSeries]) -> BarSeries:
    """Join consecutive pieces of one symbol's series (no validation, no reordering)."""
    if not parts:
        raise ValueError("concat_series needs at least one part")
    symbol = parts[0].symbol
    if any(p.symbol != symbol for p in parts):
        raise ValueError(f"concat_series: parts of different symbols (first is {symbol})")
    ts, o, h, lo, c, v = (np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS)
    return BarSeries(symbol, ts, o, h, lo, c, v, parts[0].perp)


def validate_bars(
    symbol: str,
    ts: NDArray[np.floating] | Sequence[float],
    o: NDArray[np.floating] | Sequence[float],
    h: NDArray[np.floating] | Sequence[float],
    l: NDArray[np.floating] | Sequence[float],  # noqa: E741 - the conventional OHLC letter
    c: NDArray[np.floating] | Sequence[float],
    v: NDArray[np.floating] | Sequence[float],
    rejects: RejectCounts,
) -> BarSeries:
    """Drop bad bars, count each once under its first failing reason, return the rest.

    Value checks come first; the time checks then see only value-valid bars, keeping bar i iff
    its ts is above every earlier value-valid ts, so the result is strictly increasing in ts.
    """
    t, op, hi, lo, cl, vo = _columns(symbol, (ts, o, h, l, c, v))
    alive, value_rejects = value_checks(t, op, hi, lo, cl, vo)
    for reason, n in value_rejects:
        rejects.add(symbol, reason, n)
    idx = np.flatnonzero(alive)
    far = _lone_bars_far_ahead(t[idx])
    rejects.add(symbol, "ts_far_ahead", int(far.sum()))
    idx = idx[~far]
    tv = t[idx]
    prev_max = np.full(len(tv), -np.inf)
    if len(tv) > 1:
        prev_max[1:] = np.maximum.accumulate(tv)[:-1]
    rejects.add(symbol, "duplicate_ts", int((tv == prev_max).sum()))
    rejects.add(symbol, "out_of_order_ts", int((tv < prev_max).sum()))
    keep = idx[tv > prev_max]
    if len(keep) == len(t):  # every bar kept: no copy (a 4.5M-bar file is 216 MB of columns)
        return BarSeries(symbol, t, op, hi, lo, cl, vo)
    return BarSeries(symbol, t[keep], op[keep], hi[keep], lo[keep], cl[keep], vo[keep])


def value_checks(
    t: FloatArray, op: FloatArray, hi: FloatArray, lo: FloatArray, cl: FloatArray, vo: FloatArray
) -> tuple[BoolArray, list[tuple[str, int]]]:
    """Which bars pass the value checks, and how many each check rejects (the first that
    applies counts): they look at one bar at a time, so a chunk of a file gives its own part."""
    finite = np.isfinite(t) & np.isfinite(op) & np.isfinite(hi) & np.isfinite(lo)
    finite &= np.isfinite(cl) & np.isfinite(vo)
    checks: list[tuple[str, BoolArray]] = [
        ("nan", ~finite),
        ("non_positive", (op <= 0) | (hi <= 0) | (lo <= 0) | (cl <= 0) | (vo < 0)),
        ("high_below_low", hi < lo),
        ("open_outside_range", (op < lo) | (op > hi)),
        ("close_outside_range", (cl < lo) | (cl > hi)),
    ]
    alive = np.ones(len(t), dtype=np.bool_)
    counts = []
    for reason, bad in checks:
        hit = bad & alive
        counts.append((reason, int(hit.sum())))
        alive &= ~hit
    return alive, counts


def _lone_bars_far_ahead(tv: FloatArray) -> BoolArray:
    """Flag each bar dated far after the bar that follows it while the bar before it is not.

    Such a bar (one row dated 20 years ahead) would otherwise raise the running maximum and
    make every later, good bar out of order; dropping it instead keeps them. Rows that are
    merely swapped, or replayed from the past, are left to the order checks.
    """
    far = np.zeros(len(tv), dtype=np.bool_)
    if len(tv) < 3:
        return far
    steps = np.diff(tv)
    spacing = float(np.median(steps[steps > 0])) if (steps > 0).any() else 0.0
    if spacing <= 0:
        return far
    ahead = -steps > FAR_AHEAD_SPACINGS * spacing  # bar i after bar i + 1 by that much
    before_is_in_order = np.r_[True, tv[:-2] < tv[2:]]  # bar i - 1 precedes bar i + 1
    far[:-1] = ahead & before_is_in_order
    return far


def _columns(symbol: str, cols: Sequence[object]) -> list[FloatArray]:
    arrs = [np.asarray(col, dtype=np.float64) for col in cols]
    n = len(arrs[0])
    if any(a.ndim != 1 or len(a) != n for a in arrs):
        raise ValueError(f"validate_bars {symbol}: ts/o/h/l/c/v must be 1-D of equal length")
    return arrs


def c_array(typecode: str, values: np.ndarray) -> array[Any]:
    """``values`` as a C array of ``typecode`` (8-byte floats or ints), copied once."""
    out = array(typecode)
    out.frombytes(values.astype(np.float64 if typecode == "d" else np.int64).tobytes())
    return out
