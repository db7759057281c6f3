"""execution.risk.var: historical VaR / CVaR and the post-trade portfolio VaR (DESIGN.md §3).

VaR = -np.percentile(r, 100*(1-a)) with numpy's linear interpolation;
CVaR = -mean(r[r <= that percentile]). NaNs are dropped; too few returns is a reported skip.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from execution.config import RiskConfig
from execution.risk.var import (
    _percentile_linear,
    historical_cvar,
    historical_var,
    portfolio_var,
)

FIXED = np.array([0.010, -0.020, 0.005, -0.031, 0.000, 0.012, -0.007, -0.045, 0.021, -0.002])


def direct_var(r: np.ndarray, a: float) -> float:
    return float(-np.percentile(r, 100 * (1 - a)))


def direct_cvar(r: np.ndarray, a: float) -> float:
    cut = np.percentile(r, 100 * (1 - a))
    return float(-r[r <= cut].mean())


# --- fixed arrays -----------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.6, 0.8, 0.9, 0.95, 0.99])
def test_var_and_cvar_equal_the_direct_numpy_computation(confidence: float) -> None:
    assert historical_var(FIXED, confidence) == direct_var(FIXED, confidence)
    assert historical_cvar(FIXED, confidence) == direct_cvar(FIXED, confidence)


def test_worked_example_at_90_percent_interpolates_between_the_two_worst_returns() -> None:
    # sorted: -0.045, -0.031, ...; virtual index 0.1 * 9 = 0.9 -> -0.045 + 0.9 * 0.014
    assert historical_var(FIXED, 0.90) == pytest.approx(0.0324)
    assert historical_cvar(FIXED, 0.90) == pytest.approx(0.045)  # only -0.045 is <= -0.0324
    # 80%: index 1.8 -> -0.031 + 0.8 * 0.011 = -0.0222; tail {-0.045, -0.031} -> mean -0.038
    assert historical_var(FIXED, 0.80) == pytest.approx(0.0222)
    assert historical_cvar(FIXED, 0.80) == pytest.approx(0.038)


def test_nans_are_dropped_before_the_percentile() -> None:
    holed = np.insert(FIXED, [0, 3, 7], np.nan)
    assert historical_var(holed, 0.95) == historical_var(FIXED, 0.95)
    assert historical_cvar(holed, 0.95) == historical_cvar(FIXED, 0.95)


def test_inputs_are_not_reordered() -> None:
    r = FIXED.copy()
    historical_var(r, 0.95)
    historical_cvar(r, 0.95)
    assert np.array_equal(r, FIXED)


# --- properties -------------------------------------------------------------------------------

# Non-zero returns stay far from subnormals, so scaling by powers of two is exact.
returns_lists = st.lists(
    st.floats(-0.5, 0.5, allow_nan=False, allow_subnormal=False).filter(
        lambda x: x == 0.0 or abs(x) >= 1e-12
    ),
    min_size=1,
    max_size=300,
)
confidences = st.floats(0.5, 0.999)


def _tol(x: float) -> float:
    """Room for float rounding only: a mean of k copies of x can land one ulp beyond x."""
    return 1e-12 * max(1.0, abs(x))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=600), st.floats(0, 100))
def test_the_fast_percentile_is_bit_identical_to_numpy(values: list[float], pct: float) -> None:
    r = np.array(values)
    assert _percentile_linear(r, pct) == float(np.percentile(r, pct))


@settings(max_examples=300, deadline=None)
@given(returns_lists, confidences)
def test_cvar_is_at_least_var(values: list[float], a: float) -> None:
    r = np.array(values)
    var, cvar = historical_var(r, a), historical_cvar(r, a)
    assert cvar >= var - _tol(var)


@settings(max_examples=300, deadline=None)
@given(returns_lists, confidences, confidences)
def test_var_and_cvar_are_non_decreasing_in_confidence(
    values: list[float], a: float, b: float
) -> None:
    lo, hi = sorted((a, b))
    r = np.array(values)
    assert historical_var(r, hi) >= historical_var(r, lo) - _tol(historical_var(r, lo))
    assert historical_cvar(r, hi) >= historical_cvar(r, lo) - _tol(historical_cvar(r, lo))


@settings(max_examples=300, deadline=None)
@given(returns_lists, confidences, st.integers(-6, 6))
def test_var_and_cvar_scale_exactly_with_the_returns_by_powers_of_two(
    values: list[float], a: float, j: int
) -> None:
    r = np.array(values)
    k = 2.0**j
    assert historical_var(r * k, a) == k * historical_var(r, a)
    assert historical_cvar(r * k, a) == k * historical_cvar(r, a)


@settings(max_examples=300, deadline=None)
@given(returns_lists, confidences, st.floats(0.01, 100.0))
def test_var_and_cvar_scale_with_the_returns(values: list[float], a: float, k: float) -> None:
    r = np.array(values)
    assume(np.all(np.isfinite(r * k)))
    assert math.isclose(
        historical_var(r * k, a), k * historical_var(r, a), rel_tol=1e-9, abs_tol=1e-15
    )
    assert math.isclose(
        historical_cvar(r * k, a), k * historical_cvar(r, a), rel_tol=1e-9, abs_tol=1e-15
    )


# --- portfolio VaR of the post-trade book ----------------------------------------------------

CFG = RiskConfig(var_confidence=0.95, lookback_bars=100, min_returns=50)
NAV = 20_000.0


def _series(n: int, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"A": rng.normal(0, 0.003, n), "B": rng.normal(0, 0.001, n), "C": rng.normal(0, 0.01, n)}


def test_portfolio_var_is_var_of_signed_notional_times_returns_summed_per_bar_over_nav() -> None:
    series = _series(100)
    book = {"A": 2_000.0, "B": -5_000.0}
    pnl = (2_000.0 * series["A"] - 5_000.0 * series["B"]) / NAV
    est = portfolio_var(book, series.get, NAV, CFG)
    assert est.status == "ok" and est.n_returns == 100
    assert est.var == pytest.approx(direct_var(pnl, 0.95), rel=1e-12)
    assert est.cvar == pytest.approx(direct_cvar(pnl, 0.95), rel=1e-12)


def test_only_the_last_lookback_bars_count_and_windows_are_aligned_at_the_end() -> None:
    long, short = _series(400), _series(150, seed=12)
    series = {"A": long["A"], "B": short["B"]}  # A has 400 returns, B 150: use the last 100
    pnl = (1_000.0 * series["A"][-100:] + 3_000.0 * series["B"][-100:]) / NAV
    est = portfolio_var({"A": 1_000.0, "B": 3_000.0}, series.get, NAV, CFG)
    assert est.n_returns == 100
    assert est.var == pytest.approx(direct_var(pnl, 0.95), rel=1e-12)


def test_nan_bars_are_dropped_from_the_portfolio_series() -> None:
    series = _series(100)
    series["A"] = series["A"].copy()
    series["A"][[5, 50]] = np.nan
    est = portfolio_var({"A": 1_000.0, "C": 1_000.0}, series.get, NAV, CFG)
    assert est.status == "ok" and est.n_returns == 98


def test_a_short_position_profits_from_the_left_tail_of_its_symbol() -> None:
    r = np.concatenate([np.full(90, 0.001), np.full(10, -0.05)])  # a crash in 10% of bars
    long = portfolio_var({"A": 10_000.0}, {"A": r}.get, NAV, CFG)
    short = portfolio_var({"A": -10_000.0}, {"A": r}.get, NAV, CFG)
    assert long.var is not None and short.var is not None
    assert long.var > 0.02 > short.var


@pytest.mark.parametrize(
    ("n", "nan_count", "expected_n"),
    [(49, 0, 49), (0, 0, 0), (60, 11, 49)],
    ids=["too-short", "empty", "too-many-nans"],
)
def test_fewer_than_min_returns_is_insufficient_data_not_a_number(
    n: int, nan_count: int, expected_n: int
) -> None:
    r = np.full(n, 0.01)
    r[:nan_count] = np.nan
    est = portfolio_var({"A": 1_000.0}, {"A": r}.get, NAV, CFG)
    assert (est.var, est.cvar, est.status, est.n_returns) == (
        None,
        None,
        "insufficient_data",
        expected_n,
    )


def test_unknown_returns_or_no_nav_is_insufficient_data_and_a_flat_book_is_zero() -> None:
    series = _series(100)
    assert portfolio_var({"Z": 1.0}, series.get, NAV, CFG).status == "insufficient_data"
    assert portfolio_var({"A": 1.0}, None, NAV, CFG).status == "insufficient_data"
    assert portfolio_var({"A": 1.0}, series.get, 0.0, CFG).status == "insufficient_data"
    flat = portfolio_var({"A": 0.0}, series.get, NAV, CFG)
    assert (flat.var, flat.cvar, flat.status) == (0.0, 0.0, "flat")


def test_the_var_numerics_stay_importable_from_risk_limits_as_the_spec_names_them() -> None:
    import execution.risk.var as var
    import execution.risk_limits as risk_limits

    for name in ("VarEstimate", "historical_var", "historical_cvar", "portfolio_var"):
        assert getattr(risk_limits, name) is getattr(var, name)
