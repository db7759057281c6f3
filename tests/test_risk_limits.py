"""risk_limits.check_order: one scenario per veto reason, the documented order, diagnostics.

``build(faults)`` makes a case where every check passes except the ones named in ``faults``;
each fault can be switched on independently, so the order can be proven pair by pair. The order
itself is the table in docs/risk_vetoes.md, read from the document.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution import diagnostics_metrics as diag
from execution.config import RiskConfig
from execution.risk_limits import (
    CHECK_ORDER,
    PortfolioView,
    RiskLimits,
    VetoReason,
    check_min_notional,
    check_order,
    evaluate_intent,
    gating_flags,
    portfolio_var,
    post_trade_var,
)
from execution.rounding import round_qty
from execution.types import Intent, MarketRules, Side

R = VetoReason
RISK_VETOES_DOC = Path(__file__).resolve().parents[1] / "docs" / "risk_vetoes.md"
NOW = 1_700_000_000.0
NAV = 10_000.0
BTC, ETH = "BTCUSDT", "ETHUSDT"
NOTIONAL = 3_100.0  # 0.31 of NAV: above the faulted caps (0.10, 0.25), below the relaxed 0.5


def _returns(n: int = 200) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {BTC: rng.normal(0.0, 0.002, n), ETH: rng.normal(0.0, 0.002, n)}


def build(
    faults: Iterable[VetoReason] = (), *, returns: dict[str, np.ndarray] | None = None
) -> tuple[Intent, PortfolioView, RiskLimits]:
    """A long BTC entry of 3,100 USDT on a 10,000 NAV book holding 1,000 USDT of ETH."""
    f = set(faults)
    cfg: dict[str, Any] = {
        "trading_halted": R.TRADING_HALTED in f,
        "min_notional": 1e6 if R.MIN_NOTIONAL in f else 5.0,
        "per_trade_nav_pct": 0.10 if R.PER_TRADE_NAV_PCT in f else 0.5,
        "max_concurrent": 1 if R.MAX_CONCURRENT in f else 5,
        "symbol_cap_nav_pct": 0.25 if R.SYMBOL_CAP in f else 0.5,
        "dd_circuit_pct": 0.08,
        "var_limit_nav_pct": 1e-6 if R.VAR_LIMIT in f else 0.03,
        "cvar_limit_nav_pct": 1e-6 if R.CVAR_LIMIT in f else 0.045,
        "stale_mark_seconds": 300.0,
    }
    limits = RiskLimits(
        RiskConfig(**cfg),
        tiers={BTC: "blocked" if R.TIER_BLOCK in f else "core", ETH: "core"},
        rules={s: MarketRules(s, min_notional=5.0, qty_step=0.001) for s in (BTC, ETH)},
    )
    series = _returns() if returns is None else returns
    view = PortfolioView(
        now=NOW,
        nav=NAV,
        peak_nav=11_000.0 if R.PORTFOLIO_DD_CIRCUIT in f else NAV,  # drawdown 9.1% vs 8%
        positions={ETH: 1_000.0},
        last_mark_ts={BTC: NOW - (301.0 if R.STALE_MARK in f else 30.0), ETH: NOW - 30.0},
        cooldown_until={BTC: NOW + 60.0} if R.COOLDOWN in f else {},
        returns=series.get,
    )
    intent = Intent("BTCUSDT:1:long", BTC, Side.LONG, NOTIONAL, 100.0, 106.0, 96.0, NOW)
    return intent, view, limits


def documented_order() -> list[VetoReason]:
    """The reasons of the "checks, in order" table of docs/risk_vetoes.md, by their # column."""
    rows = re.findall(r"^\| (\d+) \| `([a-z_]+)` \|", RISK_VETOES_DOC.read_text(), re.MULTILINE)
    numbers = [int(n) for n, _ in rows]
    assert numbers == list(range(1, len(rows) + 1)), f"the table is not numbered 1..n: {numbers}"
    return [VetoReason(name) for _, name in rows]


ORDER = documented_order()


def _post_trade_estimate() -> tuple[float, float]:
    _, view, limits = build()
    est = portfolio_var({ETH: 1_000.0, BTC: NOTIONAL}, view.returns, NAV, limits.cfg)
    assert est.status == "ok" and est.var is not None and est.cvar is not None
    return est.var, est.cvar


# --- the closed enum and its order -----------------------------------------------------------


def test_check_order_runs_the_checks_in_the_order_docs_risk_vetoes_documents() -> None:
    assert [reason for reason, _ in CHECK_ORDER] == ORDER
    assert sorted(ORDER) == sorted(VetoReason) and len(ORDER) == 11  # each reason exactly once
    for reason, check in CHECK_ORDER:
        assert check.__name__ == f"check_{reason.value}"


def test_the_baseline_case_passes_every_check_and_computes_var() -> None:
    intent, view, limits = build()
    result = check_order(intent, view, limits, report_all=True)
    assert not result.vetoed and result.reason is None and result.also_failed == ()
    assert result.describe() == "ok" and result.detail == ""
    assert post_trade_var(intent, view, limits).status == "ok"


def test_var_and_cvar_judge_one_post_trade_estimate_per_decision() -> None:
    """Both VaR checks run on a pass; the returns of the two symbols are read once, not twice."""
    intent, view, limits = build()
    reads: list[str] = []
    series = _returns()

    def counted(symbol: str) -> np.ndarray | None:
        reads.append(symbol)
        return series.get(symbol)

    counting = PortfolioView(
        NOW, NAV, NAV, dict(view.positions), dict(view.last_mark_ts), returns=counted
    )
    assert not check_order(intent, counting, limits, report_all=True).vetoed
    assert sorted(reads) == [BTC, ETH]


# --- one scenario per reason -----------------------------------------------------------------

# reason -> (observed, limit); None where the check reports a detail instead of numbers.
EXPECTED: dict[VetoReason, tuple[float, float] | None] = {
    R.TRADING_HALTED: None,
    R.TIER_BLOCK: None,
    R.STALE_MARK: (301.0, 300.0),
    R.COOLDOWN: (60.0, 0.0),
    R.MIN_NOTIONAL: (NOTIONAL, 1e6),
    R.PER_TRADE_NAV_PCT: (0.31, 0.10),
    R.MAX_CONCURRENT: (2, 1),
    R.SYMBOL_CAP: (0.31, 0.25),
    R.PORTFOLIO_DD_CIRCUIT: (1 - NAV / 11_000.0, 0.08),
    R.VAR_LIMIT: (_post_trade_estimate()[0], 1e-6),
    R.CVAR_LIMIT: (_post_trade_estimate()[1], 1e-6),
}


@pytest.mark.parametrize("reason", list(VetoReason), ids=lambda r: r.value)
def test_each_reason_vetoes_alone_with_its_observed_value_and_limit(reason: VetoReason) -> None:
    intent, view, limits = build({reason})
    result = check_order(intent, view, limits, report_all=True)
    assert result.vetoed and result.reason is reason  # the enum member, not its text
    assert result.also_failed == ()
    expected = EXPECTED[reason]
    if expected is None:
        assert result.observed is None and result.limit is None and result.detail
        assert result.describe() == f"{reason.value}: {result.detail}"
    else:
        assert result.observed == pytest.approx(expected[0], rel=1e-12)
        assert result.limit == pytest.approx(expected[1])


def test_symbol_cap_describes_itself_as_observed_over_limit() -> None:
    intent, view, limits = build({R.SYMBOL_CAP})
    assert check_order(intent, view, limits).describe() == "symbol_cap: 0.31 > 0.25"


def test_symbol_cap_counts_the_position_already_held_in_the_symbol() -> None:
    intent, view, limits = build({R.SYMBOL_CAP})
    small = Intent("BTCUSDT:2:long", BTC, Side.LONG, 500.0, 100.0, 106.0, 96.0, NOW)
    held = PortfolioView(
        NOW, NAV, NAV, {BTC: 2_600.0}, dict(view.last_mark_ts), returns=view.returns
    )
    result = check_order(small, held, limits)
    assert (result.reason, result.observed) == ("symbol_cap", pytest.approx(0.31))
    short = Intent("BTCUSDT:3:short", BTC, Side.SHORT, 500.0, 100.0, 94.0, 104.0, NOW)
    assert not check_order(short, held, limits).vetoed  # it shrinks the position: 0.21


def test_trading_halted_also_fires_for_the_halt_file_or_drawdown_panic_flag() -> None:
    intent, view, limits = build()
    halted = PortfolioView(
        NOW, NAV, NAV, dict(view.positions), dict(view.last_mark_ts), halted=True
    )
    assert check_order(intent, halted, limits).reason == "trading_halted"


def test_a_symbol_never_marked_is_stale_with_infinite_age() -> None:
    intent, view, limits = build()
    blind = PortfolioView(NOW, NAV, NAV, dict(view.positions), {ETH: NOW}, returns=view.returns)
    result = check_order(intent, blind, limits)
    assert result.reason == "stale_mark" and result.observed == float("inf")


def test_min_notional_uses_the_qty_after_rounding_and_the_stricter_floor() -> None:
    intent, view, limits = build()
    rules = {BTC: MarketRules(BTC, min_notional=20.0, qty_step=0.1)}
    strict = RiskLimits(limits.cfg, limits.tiers, rules)
    # 19.9 USDT at 10.0 is 1.99 units -> floored to 1.9 -> 19.0 < max(5, 20)
    tiny = Intent("BTCUSDT:4:long", BTC, Side.LONG, 19.9, 10.0, 11.0, 9.5, NOW)
    result = check_order(tiny, view, strict)
    assert result.reason == "min_notional"
    assert result.observed == pytest.approx(19.0) and result.limit == 20.0


@settings(max_examples=400, deadline=None)
@given(
    notional=st.floats(1e-3, 1e7),
    ref_price=st.floats(1e-6, 1e6),
    step=st.sampled_from([0.0, 1e-8, 0.001, 0.1, 1.0, 2.5, 10.0]),
    floor=st.floats(0.0, 1e4),
    near=st.booleans(),
)
def test_min_notional_vetoes_exactly_when_the_rounded_order_is_below_the_floor(
    notional: float, ref_price: float, step: float, floor: float, near: bool
) -> None:
    if near:  # orders within a few steps of the floor, where the rounding decides
        notional = floor + step * ref_price * (notional % 3.0)
    intent = Intent("BTCUSDT:5:long", BTC, Side.LONG, notional, ref_price, 2 * ref_price, 1.0, NOW)
    _, view, limits = build()
    cfg = limits.cfg.model_copy(update={"min_notional": floor})
    rules = {BTC: MarketRules(BTC, min_notional=0.0, qty_step=step)} if step else {}
    raw = notional / ref_price
    rounded = (round_qty(raw, step) if step else raw) * ref_price
    failure = check_min_notional(intent, view, RiskLimits(cfg, limits.tiers, rules))
    assert (failure is not None) == (rounded < floor)


def test_adding_to_an_open_symbol_is_not_a_new_concurrent_position() -> None:
    _, view, limits = build({R.MAX_CONCURRENT})
    more_eth = Intent("ETHUSDT:1:long", ETH, Side.LONG, 500.0, 100.0, 106.0, 96.0, NOW)
    assert not check_order(more_eth, view, limits).vetoed


# --- ordering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    list(itertools.combinations(ORDER, 2)),
    ids=lambda r: r.value,
)
def test_a_case_failing_two_checks_reports_the_earlier(first: R, second: R) -> None:
    intent, view, limits = build({first, second})
    assert check_order(intent, view, limits).reason is first
    both = check_order(intent, view, limits, report_all=True)
    assert both.reason is first and both.also_failed == (second,)
    assert all(type(r) is VetoReason for r in both.also_failed)


def test_fixing_checks_one_by_one_walks_the_whole_order() -> None:
    for k, reason in enumerate(ORDER):
        intent, view, limits = build(ORDER[k:])
        result = check_order(intent, view, limits, report_all=True)
        assert result.reason is reason
        assert result.also_failed == tuple(ORDER[k + 1 :])


def test_report_all_never_changes_the_decision() -> None:
    for faults in itertools.combinations(ORDER, 3):
        a = check_order(*build(faults))
        b = check_order(*build(faults), report_all=True)
        assert (a.vetoed, a.reason, a.observed, a.limit) == (
            b.vetoed,
            b.reason,
            b.observed,
            b.limit,
        )


# --- VaR skipped for lack of data: never a silent pass ----------------------------------------


def test_insufficient_returns_skip_var_and_cvar_and_the_pass_says_so() -> None:
    short = {s: r[:20] for s, r in _returns().items()}  # 20 < min_returns (50)
    intent, view, limits = build({R.VAR_LIMIT, R.CVAR_LIMIT}, returns=short)
    result = check_order(intent, view, limits, report_all=True)
    assert not result.vetoed
    assert post_trade_var(intent, view, limits).status == "insufficient_data"
    assert "skipped: insufficient_data" in result.detail
    assert "20 < min_returns 50" in result.detail


def test_a_symbol_without_return_history_skips_var_too() -> None:
    only_eth = {ETH: _returns()[ETH]}
    intent, view, limits = build({R.VAR_LIMIT}, returns=only_eth)
    result = check_order(intent, view, limits)
    assert not result.vetoed and "insufficient_data" in result.detail


def _inputs(intent: Intent, view: PortfolioView, limits: RiskLimits) -> tuple[Any, ...]:
    """A deep copy of everything check_order reads, to compare before and after a call."""
    windows = {s: np.array(view.returns(s)) for s in (BTC, ETH)} if view.returns else {}
    return (
        intent,
        (view.now, view.nav, view.peak_nav, view.halted, view.returns_nan_free),
        (dict(view.positions), dict(view.last_mark_ts), dict(view.cooldown_until)),
        {s: w.tobytes() for s, w in windows.items()},
        (limits.cfg, dict(limits.tiers), dict(limits.rules)),
    )


@pytest.mark.parametrize(
    "faults",
    [(), (R.VAR_LIMIT,), (R.CVAR_LIMIT,), (R.SYMBOL_CAP, R.CVAR_LIMIT)],
    ids=["pass", "var_limit", "cvar_limit", "symbol_cap+cvar_limit"],
)
def test_check_order_is_pure_the_same_inputs_give_the_same_decision_and_stay_unchanged(
    faults: tuple[VetoReason, ...],
) -> None:
    intent, view, limits = build(faults)
    before = _inputs(intent, view, limits)
    first = check_order(intent, view, limits, report_all=True)
    again = check_order(intent, view, limits, report_all=True)
    assert again == first
    assert _inputs(intent, view, limits) == before


# --- diagnostics and gating -------------------------------------------------------------------


def test_evaluate_intent_records_one_veto_per_reason_and_passes_as_in_flight() -> None:
    diag.reset_diagnostics()
    for reason in ORDER:
        assert evaluate_intent(*build({reason})).reason is reason
    assert not evaluate_intent(*build()).vetoed
    snap = diag.build_runtime_diagnostics_snapshot()
    assert snap.veto_counters.by_reason == {r.value: 1 for r in ORDER}
    assert snap.veto_counters.total_vetoes == len(ORDER)
    assert snap.accounting["in_flight"] == 1


def test_gating_flags_list_every_symbol_level_block_at_once() -> None:
    faults = {R.TRADING_HALTED, R.TIER_BLOCK, R.STALE_MARK, R.COOLDOWN, R.PORTFOLIO_DD_CIRCUIT}
    _, view, limits = build(faults)
    assert gating_flags(BTC, view, limits) == [
        "trading_halted",
        "tier_block",
        "stale_mark",
        "cooldown",
        "portfolio_dd_circuit",
    ]
    _, clean, limits = build()
    assert gating_flags(BTC, clean, limits) == []
