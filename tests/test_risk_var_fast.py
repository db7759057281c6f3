"""The fast portfolio VaR path is the straightforward computation, bit for bit.

``portfolio_var`` skips vstack for one window, skips the NaN mask when the series is clean and
takes the CVaR mean without ndarray.mean's dispatch. Every estimate must equal the plain
vstack / matmul / mask / mean version exactly, down to the sign of a zero.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.config import RiskConfig
from execution.risk.var import (
    VarEstimate,
    _percentile_linear,
    _var_cvar,
    portfolio_var,
)


def reference_portfolio_var(
    positions: Mapping[str, float],
    returns: Callable[[str], np.ndarray | None] | None,
    nav: float,
    cfg: RiskConfig,
) -> VarEstimate:
    book = {s: n for s, n in positions.items() if n != 0.0}
    if not book:
        return VarEstimate(0.0, 0.0, 0, "flat")
    if returns is None or nav <= 0:
        return VarEstimate(None, None, 0, "insufficient_data")
    series = [returns(s) for s in book]
    if any(r is None for r in series):
        return VarEstimate(None, None, 0, "insufficient_data")
    arrays = [r for r in series if r is not None]
    n = min(min(len(r) for r in arrays), cfg.lookback_bars)
    if n < cfg.min_returns:
        return VarEstimate(None, None, n, "insufficient_data")
    matrix = np.vstack([r[-n:] for r in arrays])
    pnl = np.asarray(list(book.values())) @ matrix / nav
    pnl = pnl[~np.isnan(pnl)]
    if len(pnl) < cfg.min_returns:
        return VarEstimate(None, None, len(pnl), "insufficient_data")
    var, cvar = reference_var_cvar(pnl, cfg.var_confidence)
    return VarEstimate(var, cvar, len(pnl), "ok")


def reference_var_cvar(r: np.ndarray, confidence: float) -> tuple[float, float]:
    cut = _percentile_linear(r, 100.0 * (1.0 - confidence))  # pinned to np.percentile
    return -cut, float(-r[r <= cut].mean())


def same_bits(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def assert_same_estimate(got: VarEstimate, want: VarEstimate) -> None:
    assert (got.status, got.n_returns) == (want.status, want.n_returns)
    assert same_bits(got.var, want.var), (got, want)
    assert same_bits(got.cvar, want.cvar), (got, want)


# --- strategies -------------------------------------------------------------------------------

# Exact zeros of both signs, NaN holes and the odd infinity exercise the edges of each shortcut.
bar_returns = st.one_of(
    st.floats(-0.5, 0.5, allow_nan=False),
    st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, -5e-324]),
)
notionals = st.one_of(
    st.floats(-1e7, 1e7, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5]),
)
windows = st.lists(st.one_of(st.floats(-0.05, 0.05, allow_nan=False), bar_returns), max_size=90)


@st.composite
def books(
    draw: st.DrawFn,
) -> tuple[dict[str, float], dict[str, np.ndarray | None], float, RiskConfig]:
    k = draw(st.integers(1, 5))
    symbols = [f"S{j}USDT" for j in range(k)]
    positions = {s: draw(notionals) for s in symbols}
    series: dict[str, np.ndarray | None] = {}
    for s in symbols:
        if draw(st.integers(0, 19)) == 0:
            series[s] = None  # a symbol without returns yet
            continue
        w = np.asarray(draw(windows), dtype=float)
        if draw(st.booleans()):  # a strided view, as a slice of a wider buffer would be
            w = np.repeat(w, 2)[::2]
        series[s] = w
    nav = draw(st.one_of(st.floats(1e-3, 1e9), st.sampled_from([1.0, 0.0, -5.0])))
    lookback = draw(st.integers(10, 100))
    cfg = RiskConfig(
        lookback_bars=lookback,
        min_returns=draw(st.integers(2, lookback)),
        var_confidence=draw(st.sampled_from([0.6, 0.9, 0.95, 0.99]) | st.floats(0.51, 0.999)),
    )
    return positions, series, nav, cfg


@contextmanager
def quiet() -> Iterator[None]:
    """Both sides compute on the same odd inputs (inf, NaN, empty tails): silence numpy."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=1500, deadline=None)
@given(books())
def test_portfolio_var_is_bit_identical_to_the_vstack_matmul_mask_reference(
    case: tuple[dict[str, float], dict[str, np.ndarray | None], float, RiskConfig],
) -> None:
    positions, series, nav, cfg = case
    with quiet():
        want = reference_portfolio_var(positions, series.get, nav, cfg)
        got = portfolio_var(positions, series.get, nav, cfg)
    assert_same_estimate(got, want)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["S0USDT", "S1USDT"]), notionals, windows, st.floats(1e-3, 1e9))
def test_a_single_position_matches_the_reference_for_any_notional_and_window(
    symbol: str, notional: float, window: list[float], nav: float
) -> None:
    # The single-window shortcut must not turn into ``notional * window``: that product keeps a
    # negative zero where the matmul gives a positive one.
    series = {symbol: np.asarray(window, dtype=float)}
    cfg = RiskConfig(lookback_bars=10, min_returns=2)
    with quiet():
        want = reference_portfolio_var({symbol: notional}, series.get, nav, cfg)
        got = portfolio_var({symbol: notional}, series.get, nav, cfg)
    assert_same_estimate(got, want)


@settings(max_examples=1000, deadline=None)
@given(st.lists(bar_returns.filter(lambda x: not math.isnan(x)), min_size=1, max_size=300))
def test_var_cvar_matches_percentile_and_ndarray_mean_exactly(values: list[float]) -> None:
    r = np.asarray(values, dtype=float)
    for confidence in (0.6, 0.95, 0.99):
        with quiet():
            got, want = _var_cvar(r, confidence), reference_var_cvar(r, confidence)
        assert same_bits(got[0], want[0]) and same_bits(got[1], want[1]), (got, want)


def test_a_long_book_on_a_flat_bar_keeps_the_positive_zero_of_the_matmul() -> None:
    r = np.array([0.0, -0.01, 0.02, -0.0, 0.0, -0.03, 0.01, 0.0, 0.0, 0.0])
    cfg = RiskConfig(lookback_bars=10, min_returns=2, var_confidence=0.6)
    for notional in (-1_000.0, 1_000.0):
        got = portfolio_var({"X": notional}, {"X": r}.get, 10_000.0, cfg)
        want = reference_portfolio_var({"X": notional}, {"X": r}.get, 10_000.0, cfg)
        assert_same_estimate(got, want)


@settings(max_examples=500, deadline=None)
@given(books())
def test_nan_free_skips_only_a_search_that_finds_nothing(
    case: tuple[dict[str, float], dict[str, np.ndarray | None], float, RiskConfig],
) -> None:
    """``nan_free=True`` changes no result on what the engine's buffers hold: finite returns."""
    positions, series, nav, cfg = case
    clean = {s: None if w is None else w[np.isfinite(w)] for s, w in series.items()}
    with quiet():
        want = portfolio_var(positions, clean.get, nav, cfg)
        got = portfolio_var(positions, clean.get, nav, cfg, nan_free=True)
    assert_same_estimate(got, want)
