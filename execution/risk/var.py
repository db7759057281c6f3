"""Historical VaR/CVaR of a book of signed notionals (docs/risk_vetoes.md, "VaR and CVaR").

Pure numerics: no view, no intent. ``risk_limits`` builds the post-trade book and judges the
estimate against the limits; ``state_snapshots`` publishes the current book's estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from execution.config import RiskConfig


def _percentile_linear(r: np.ndarray, pct: float) -> float:
    """Return ``np.percentile(r, pct)`` (default linear method), bit for bit, via one partition.

    VaR runs once per entry intent, and np.percentile's generic machinery dominates it; this
    replays its arithmetic (virtual index (n-1)*q, neighbours by partition, numpy's two-sided
    lerp) for a 1-d float array without NaNs, which is all VaR needs. Tests pin it to
    np.percentile exactly (timings in docs/performance.md).
    """
    n = len(r)
    if n == 0:
        return float(np.percentile(r, pct))  # numpy's own empty-input behaviour
    virtual = (n - 1) * (pct / 100.0)
    if virtual >= n - 1:  # numpy: both neighbours are the last (largest) value
        lo = hi = n - 1
        gamma = virtual + 1.0
    else:
        lo = math.floor(virtual)
        hi = lo + 1
        gamma = virtual - lo
    part = np.partition(r, (lo, hi)) if hi != lo else np.partition(r, lo)
    a, b = float(part[lo]), float(part[hi])
    diff = b - a
    return b - diff * (1.0 - gamma) if gamma >= 0.5 else a + diff * gamma


def _clean(returns: np.ndarray) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    return r[~np.isnan(r)]


def _var_cvar(r: np.ndarray, confidence: float) -> tuple[float, float]:
    """Return VaR and CVaR of NaN-free returns, sharing one percentile."""
    cut = _percentile_linear(r, 100.0 * (1.0 - confidence))
    tail = r[r <= cut]
    if len(tail) == 0 or tail.dtype != np.float64:
        return -cut, float(-tail.mean())  # numpy's own empty-slice warning and NaN
    # ndarray.mean() is this sum over this count; calling the ufunc skips its Python dispatch.
    return -cut, -(float(np.add.reduce(tail, axis=None)) / len(tail))


def historical_var(returns: np.ndarray, confidence: float) -> float:
    """Return historical VaR as a positive loss fraction: -percentile(r, 100*(1-confidence))."""
    return -_percentile_linear(_clean(returns), 100.0 * (1.0 - confidence))


def historical_cvar(returns: np.ndarray, confidence: float) -> float:
    """Return historical CVaR: -mean(r[r <= percentile(r, 100*(1-confidence))])."""
    return _var_cvar(_clean(returns), confidence)[1]


@dataclass(frozen=True, slots=True)
class VarEstimate:
    """A book's VaR and CVaR as loss fractions of NAV; ``None`` when there were too few returns."""

    var: float | None
    cvar: float | None
    n_returns: int
    status: str  # "ok" | "insufficient_data" | "flat"


def portfolio_var(
    positions: Mapping[str, float],
    returns: Callable[[str], np.ndarray | None] | None,
    nav: float,
    cfg: RiskConfig,
    *,
    nan_free: bool = False,
) -> VarEstimate:
    """Return the VaR/CVaR of a book: signed notional x each symbol's bar returns, over NAV.

    Bars where some symbol's return is NaN are dropped; ``nan_free`` says the windows hold only
    finite values (the engine's own return buffers keep nothing else) and the book's notionals
    are finite, so no NaN can arise short of a notional times a return overflowing 1e308: the
    search for NaN bars is skipped.
    """
    book = {s: n for s, n in positions.items() if n != 0.0}
    if not book:
        return VarEstimate(0.0, 0.0, 0, "flat")
    if returns is None or nav <= 0:
        return VarEstimate(None, None, 0, "insufficient_data")
    pnl = _pnl_over_nav(book, returns, nav, cfg)
    if isinstance(pnl, VarEstimate):
        return pnl
    if not nan_free:
        nan_bars = np.isnan(pnl)
        if np.count_nonzero(nan_bars):  # the masked copy only when there is a hole to drop
            pnl = pnl[~nan_bars]
    if len(pnl) < cfg.min_returns:
        return VarEstimate(None, None, len(pnl), "insufficient_data")
    var, cvar = _var_cvar(pnl, cfg.var_confidence)
    return VarEstimate(var, cvar, len(pnl), "ok")


def _pnl_over_nav(
    book: dict[str, float],
    returns: Callable[[str], np.ndarray | None],
    nav: float,
    cfg: RiskConfig,
) -> np.ndarray | VarEstimate:
    """Return the book's P&L per bar over NAV, or the estimate saying the returns are too few."""
    arrays: list[np.ndarray] = []
    for s in book:
        r = returns(s)
        if r is None:
            return VarEstimate(None, None, 0, "insufficient_data")
        arrays.append(r)
    n = min(min(map(len, arrays)), cfg.lookback_bars)
    if n < cfg.min_returns:
        return VarEstimate(None, None, n, "insufficient_data")
    if len(arrays) == 1:  # one position: the 1-row matmul, without building the matrix
        return _over_nav(_one_pnl(next(iter(book.values())), arrays[0][-n:]), nav)
    return _over_nav(_book_pnl(np.asarray(list(book.values())), [r[-n:] for r in arrays]), nav)


def _over_nav(pnl: np.ndarray, nav: float) -> np.ndarray:
    """Return ``pnl / nav``: in place when ``pnl`` is a fresh float64 array (no second copy)."""
    if type(pnl) is np.ndarray and pnl.dtype == np.float64:
        pnl /= nav
        return pnl
    return pnl / nav


def _one_pnl(notional: float, window: np.ndarray) -> np.ndarray:
    """Return ``np.asarray([notional]) @ window[None, :]``, bit for bit.

    The matmul adds each product into a zeroed output: ``0.0 + notional * w``, which is the
    product except that a negative zero comes out positive. The sum does the same.
    """
    if type(window) is not np.ndarray or window.ndim != 1 or window.dtype != np.float64:
        return _book_pnl(np.asarray([notional]), [window])
    pnl: np.ndarray = notional * window
    pnl += 0.0
    return pnl


def _book_pnl(notionals: np.ndarray, windows: list[np.ndarray]) -> np.ndarray:
    """Return ``notionals @ np.vstack(windows)``, bit for bit, without vstack's overhead.

    It stays a matmul: ``n * w`` differs in the sign of zero (the BLAS kernel adds each product
    into a zeroed output, so ``-1.0 * 0.0`` comes out ``+0.0``). A matmul over a 1-row view, or
    over ``np.array(windows)``, sees the same values in the same shape as over the vstack copy.
    """
    if len(windows) == 1:
        w = windows[0]
        if type(w) is np.ndarray and w.ndim == 1:
            return notionals @ w[None, :]
    try:
        matrix = np.array(windows)
    except ValueError:  # ragged: vstack's own rules decide whether it joins or raises
        matrix = np.vstack(windows)
    if matrix.ndim != 2:  # not a stack of 1-d windows: vstack joins them differently
        matrix = np.vstack(windows)
    return notionals @ matrix
