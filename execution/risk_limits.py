"""Risk: pure veto checks over an entry intent and a portfolio view (DESIGN.md §3).

``check_order`` runs the checks in the documented order (``CHECK_ORDER``) and the first failing
one is *the* veto. It is pure: no clock, no I/O, no memo kept between calls — ``now`` lives in
the portfolio view. ``evaluate_intent`` is the one place that turns a decision into diagnostics
events (``record_veto`` / ``record_risk_passed``). Reduce-only exits never come here. The VaR
numerics live in :mod:`execution.risk.var` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from execution.config import RiskConfig
from execution.diagnostics_metrics import is_enabled, record_risk_passed, record_veto
from execution.risk.var import VarEstimate, historical_cvar, historical_var, portfolio_var
from execution.rounding import round_qty
from execution.types import Intent, MarketRules, Side, VetoReason, VetoResult

__all__ = [
    "CHECK_ORDER",
    "Check",
    "Failure",
    "PortfolioView",
    "RiskLimits",
    "VarEstimate",
    "VetoReason",
    "VetoResult",
    "check_order",
    "evaluate_intent",
    "gating_flags",
    "historical_cvar",
    "historical_var",
    "portfolio_var",
    "post_trade_var",
]


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The risk config with the per-symbol facts the checks need (tiers, exchange rules)."""

    cfg: RiskConfig
    tiers: Mapping[str, str]
    rules: Mapping[str, MarketRules]


@dataclass(frozen=True, slots=True)
class PortfolioView:
    """What risk sees of the book at decision time (a snapshot; risk never mutates it)."""

    now: float
    nav: float
    peak_nav: float
    positions: Mapping[str, float]  # symbol -> signed notional at mark
    last_mark_ts: Mapping[str, float] = field(default_factory=dict)
    marks: Mapping[str, float] = field(default_factory=dict)
    cooldown_until: Mapping[str, float] = field(default_factory=dict)
    halted: bool = False
    returns: Callable[[str], np.ndarray | None] | None = None
    returns_nan_free: bool = False  # the windows ``returns`` gives hold only finite values

    @property
    def drawdown_pct(self) -> float:
        if self.peak_nav <= 0:
            return 0.0
        return max(0.0, 1.0 - self.nav / self.peak_nav)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failing check: its reason and the numbers (or the text) it compared."""

    reason: VetoReason
    observed: float | None = None
    limit: float | None = None
    detail: str = ""


Check = Callable[[Intent, PortfolioView, RiskLimits], Failure | None]


# --- the checks, in documented order -------------------------------------------------------------


def check_trading_halted(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    if limits.cfg.trading_halted or view.halted:
        return Failure(VetoReason.TRADING_HALTED, detail="kill switch or drawdown panic")
    return None


def check_tier_block(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    tier = limits.tiers.get(intent.symbol, "unknown")
    if tier in limits.cfg.blocked_tiers:
        return Failure(VetoReason.TIER_BLOCK, detail=f"tier {tier!r} is blocked")
    return None


def check_stale_mark(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    last = view.last_mark_ts.get(intent.symbol)
    age = float("inf") if last is None else view.now - last
    limit = limits.cfg.stale_mark_seconds
    if age > limit:
        return Failure(VetoReason.STALE_MARK, age, limit, "mark age s")
    return None


def check_cooldown(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    until = view.cooldown_until.get(intent.symbol)
    if until is not None and view.now < until:
        left = until - view.now
        return Failure(VetoReason.COOLDOWN, left, 0.0, f"{left:.0f}s left")
    return None


def check_min_notional(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    # The exchange fills the qty rounded down to its step, so that is what must clear the floor.
    rules = limits.rules.get(intent.symbol)
    step = rules.qty_step if rules else 0.0
    raw_qty = intent.notional / intent.ref_price
    floor = max(limits.cfg.min_notional, rules.min_notional if rules else 0.0)
    # Rounding down loses less than 1.5 steps (half a step to the step's decimals) and a
    # relative float error far below 1e-9: an order above the floor by more clears it, and
    # round_qty, most of what this check costs, is left out.
    if (raw_qty * (1.0 - 1e-9) - 2.0 * step) * intent.ref_price >= floor:
        return None
    qty = round_qty(raw_qty, step) if step > 0 else raw_qty
    notional = qty * intent.ref_price
    if notional < floor:
        return Failure(VetoReason.MIN_NOTIONAL, notional, floor, "order notional below minimum")
    return None


def check_per_trade_nav_pct(
    intent: Intent, view: PortfolioView, limits: RiskLimits
) -> Failure | None:
    frac = intent.notional / view.nav if view.nav > 0 else float("inf")
    if frac > limits.cfg.per_trade_nav_pct:
        return Failure(VetoReason.PER_TRADE_NAV_PCT, frac, limits.cfg.per_trade_nav_pct)
    return None


def check_max_concurrent(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    # A symbol the view lists at 0.0 notional is flat: it is not an open position.
    held = len(view.positions) - list(view.positions.values()).count(0.0)
    opens_new = view.positions.get(intent.symbol, 0.0) == 0.0
    if opens_new and held >= limits.cfg.max_concurrent:
        return Failure(VetoReason.MAX_CONCURRENT, held + 1, limits.cfg.max_concurrent)
    return None


def check_symbol_cap(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    after = abs(view.positions.get(intent.symbol, 0.0) + intent.side.sign * intent.notional)
    frac = after / view.nav if view.nav > 0 else float("inf")
    if frac > limits.cfg.symbol_cap_nav_pct:
        return Failure(VetoReason.SYMBOL_CAP, frac, limits.cfg.symbol_cap_nav_pct)
    return None


def check_portfolio_dd_circuit(
    intent: Intent, view: PortfolioView, limits: RiskLimits
) -> Failure | None:
    dd = view.drawdown_pct
    if dd >= limits.cfg.dd_circuit_pct:
        return Failure(VetoReason.PORTFOLIO_DD_CIRCUIT, dd, limits.cfg.dd_circuit_pct)
    return None


def post_trade_var(intent: Intent, view: PortfolioView, limits: RiskLimits) -> VarEstimate:
    """Return the VaR/CVaR of the book as it would be with ``intent`` filled."""
    book = dict(view.positions)
    book[intent.symbol] = book.get(intent.symbol, 0.0) + intent.side.sign * intent.notional
    return portfolio_var(book, view.returns, view.nav, limits.cfg, nan_free=view.returns_nan_free)


def _var_over_limit(estimate: VarEstimate, limits: RiskLimits) -> Failure | None:
    if estimate.var is not None and estimate.var > limits.cfg.var_limit_nav_pct:
        return Failure(VetoReason.VAR_LIMIT, estimate.var, limits.cfg.var_limit_nav_pct)
    return None


def _cvar_over_limit(estimate: VarEstimate, limits: RiskLimits) -> Failure | None:
    if estimate.cvar is not None and estimate.cvar > limits.cfg.cvar_limit_nav_pct:
        return Failure(VetoReason.CVAR_LIMIT, estimate.cvar, limits.cfg.cvar_limit_nav_pct)
    return None


def check_var_limit(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    return _var_over_limit(post_trade_var(intent, view, limits), limits)


def check_cvar_limit(intent: Intent, view: PortfolioView, limits: RiskLimits) -> Failure | None:
    return _cvar_over_limit(post_trade_var(intent, view, limits), limits)


CHECK_ORDER: tuple[tuple[VetoReason, Check], ...] = (
    (VetoReason.TRADING_HALTED, check_trading_halted),
    (VetoReason.TIER_BLOCK, check_tier_block),
    (VetoReason.STALE_MARK, check_stale_mark),
    (VetoReason.COOLDOWN, check_cooldown),
    (VetoReason.MIN_NOTIONAL, check_min_notional),
    (VetoReason.PER_TRADE_NAV_PCT, check_per_trade_nav_pct),
    (VetoReason.MAX_CONCURRENT, check_max_concurrent),
    (VetoReason.SYMBOL_CAP, check_symbol_cap),
    (VetoReason.PORTFOLIO_DD_CIRCUIT, check_portfolio_dd_circuit),
    (VetoReason.VAR_LIMIT, check_var_limit),
    (VetoReason.CVAR_LIMIT, check_cvar_limit),
)

# The post-trade estimate is the expensive part of a decision and both VaR checks judge the same
# one: check_order computes it once per call and hands it to these halves of the two checks.
_JUDGES_OF_POST_TRADE_VAR: dict[VetoReason, Callable[[VarEstimate, RiskLimits], Failure | None]] = {
    VetoReason.VAR_LIMIT: _var_over_limit,
    VetoReason.CVAR_LIMIT: _cvar_over_limit,
}
# The table check_order walks: (reason, check, the judge of the post-trade estimate or None).
_STEPS = tuple(
    (reason, check, _JUDGES_OF_POST_TRADE_VAR.get(reason)) for reason, check in CHECK_ORDER
)


# A pass that skipped nothing: every such decision is this one immutable result.
_PASSED = VetoResult(vetoed=False)


def check_order(
    intent: Intent,
    portfolio: PortfolioView,
    limits: RiskLimits,
    *,
    report_all: bool = False,
    price_vetoed: bool = True,
) -> VetoResult:
    """Decide on an entry intent: the first failing check in CHECK_ORDER is the veto.

    With ``report_all`` the remaining checks are also run and listed in ``also_failed``; they
    never change the decision. ``price_vetoed=False`` leaves the VaR/CVaR pair out of that list
    for an intent an earlier check vetoed (the post-trade estimate costs more than every other
    check together). A pass whose VaR/CVaR checks were skipped for lack of returns says so in
    ``detail``.
    """
    first: Failure | None = None
    others: list[VetoReason] = []
    estimate: VarEstimate | None = None
    for _, check, judge in _STEPS:
        if judge is None:
            failure = check(intent, portfolio, limits)
        else:
            if estimate is None:
                if first is not None and not price_vetoed:
                    continue
                estimate = post_trade_var(intent, portfolio, limits)
            failure = judge(estimate, limits)
        if failure is None:
            continue
        if first is None:
            first = failure
            if not report_all:
                break
        else:
            others.append(failure.reason)
    if first is None:
        if estimate is not None and estimate.status == "insufficient_data":
            return VetoResult(vetoed=False, detail=_skipped_note(estimate, limits))
        return _PASSED
    return VetoResult(
        vetoed=True,
        reason=first.reason,
        observed=first.observed,
        limit=first.limit,
        detail=first.detail,
        also_failed=tuple(others),
    )


def _skipped_note(estimate: VarEstimate, limits: RiskLimits) -> str:
    """Say that a pass skipped the VaR/CVaR checks for lack of returns (never a silent pass)."""
    return (
        f"var_limit, cvar_limit skipped: insufficient_data "
        f"({estimate.n_returns} < min_returns {limits.cfg.min_returns})"
    )


def evaluate_intent(intent: Intent, portfolio: PortfolioView, limits: RiskLimits) -> VetoResult:
    """Run check_order and record the outcome in diagnostics (the spec's record_veto point).

    With diagnostics on, a veto also records every other failing check (the veto causes); the
    VaR/CVaR pair is judged only for an intent no earlier check vetoed, so the post-trade
    estimate still runs at most once per intent and only where the decision needs it.
    """
    result = check_order(intent, portfolio, limits, report_all=is_enabled(), price_vetoed=False)
    if result.vetoed and result.reason is not None:
        observed = (result.observed, result.limit)
        record_veto(result.reason, intent.symbol, result.also_failed, observed)
    else:
        record_risk_passed(intent.symbol)
    return result


# Checks that depend on the symbol and the book, not on the intent's size: the gating flags.
_GATING: tuple[Check, ...] = (
    check_trading_halted,
    check_tier_block,
    check_stale_mark,
    check_cooldown,
    check_max_concurrent,
    check_portfolio_dd_circuit,
)


def gating_flags(symbol: str, portfolio: PortfolioView, limits: RiskLimits) -> list[str]:
    """Return every symbol-level check that would block a new entry on ``symbol`` right now."""
    # A zero-size probe: the size-dependent checks are not in _GATING, so it cannot fail them.
    probe = Intent(f"gate:{symbol}", symbol, Side.LONG, 0.0, 1.0, 0.0, 0.0, portfolio.now)
    flags = [f.reason.value for c in _GATING if (f := c(probe, portfolio, limits)) is not None]
    # symbol_cap is size-dependent too; flag it only once the held notional alone is at the cap.
    held = abs(portfolio.positions.get(symbol, 0.0))
    if portfolio.nav > 0 and held / portfolio.nav >= limits.cfg.symbol_cap_nav_pct:
        flags.append(VetoReason.SYMBOL_CAP.value)
    return flags
