"""Risk: pure veto checks over an entry intent and a portfolio view (DESIGN.md §3).

``check_order`` runs the checks in the documented order (``CHECK_ORDER``) and the first failing
one is *the* veto. It is pure: no clock, no I/O — ``now`` lives in the portfolio view.
``evaluate_intent`` is the one place that turns a decision into diagnostics events
(``record_veto`` / ``record_risk_passed``). Reduce-only exits never come here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from execution.config import RiskConfig
from execution.diagnostics_metrics import record_risk_passed, record_veto
from execution.rounding import round_qty
from execution.types import Intent, MarketRules, Side, VetoReason, VetoResult


@dataclass(frozen=True, slots=True)
class RiskLimits:
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
    # Post-trade VaR/CVaR per intent id: var_limit and cvar_limit share one computation.
    var_cache: dict[str, VarEstimate] = field(default_factory=dict)

    @property
    def drawdown_pct(self) -> float:
        if self.peak_nav <= 0:
            return 0.0
        return max(0.0, 1.0 - self.nav / self.peak_nav)


@dataclass(frozen=True, slots=True)
class Failure:
    reason: VetoReason
    observed: float | None = None
    limit: float | None = None
    detail: str = ""


Check = Callable[[Intent, PortfolioView, RiskLimits], Failure | None]


# --- VaR / CVaR -------------------------------------------------------------------------------


def _percentile_linear(r: np.ndarray, pct: float) -> float:
    """Return ``np.percentile(r, pct)`` (default linear method), bit for bit, via one partition.

    np.percentile's generic machinery costs ~25 µs on 500 values; this replays its arithmetic
    (virtual index (n-1)*q, neighbours by partition, numpy's two-sided lerp) for a 1-d float
    array without NaNs, which is all VaR needs. Tests pin it to np.percentile exactly.
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
    """VaR and CVaR of NaN-free returns, sharing one percentile."""
    cut = _percentile_linear(r, 100.0 * (1.0 - confidence))
    tail = r[r <= cut]
    if len(tail) == 0 or tail.dtype != np.float64:
        return -cut, float(-tail.mean())  # numpy's own empty-slice warning and NaN
    # ndarray.mean() is this sum over this count plus ~2 µs of Python dispatch.
    return -cut, -(float(np.add.reduce(tail, axis=None)) / len(tail))


def historical_var(returns: np.ndarray, confidence: float) -> float:
    """Return historical VaR as a positive loss fraction: -percentile(r, 100*(1-confidence))."""
    return -_percentile_linear(_clean(returns), 100.0 * (1.0 - confidence))


def historical_cvar(returns: np.ndarray, confidence: float) -> float:
    """Return historical CVaR: -mean(r[r <= percentile(r, 100*(1-confidence))])."""
    return _var_cvar(_clean(returns), confidence)[1]


@dataclass(frozen=True, slots=True)
class VarEstimate:
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
    """VaR/CVaR of a book: sum of signed notional x each symbol's bar returns, over NAV.

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
    series = [returns(s) for s in book]
    arrays: list[np.ndarray] = []
    for r in series:
        if r is None:
            return VarEstimate(None, None, 0, "insufficient_data")
        arrays.append(r)
    n = min(min(map(len, arrays)), cfg.lookback_bars)
    if n < cfg.min_returns:
        return VarEstimate(None, None, n, "insufficient_data")
    if len(arrays) == 1:  # one position: the 1-row matmul, without building the matrix
        pnl = _one_pnl(next(iter(book.values())), arrays[0][-n:]) / nav
    else:
        pnl = _book_pnl(np.asarray(list(book.values())), [r[-n:] for r in arrays]) / nav
    if not nan_free:
        nan_bars = np.isnan(pnl)
        if np.count_nonzero(nan_bars):  # the masked copy only when there is a hole to drop
            pnl = pnl[~nan_bars]
    if len(pnl) < cfg.min_returns:
        return VarEstimate(None, None, len(pnl), "insufficient_data")
    var, cvar = _var_cvar(pnl, cfg.var_confidence)
    return VarEstimate(var, cvar, len(pnl), "ok")


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
    except ValueError:  # ragged: let vstack accept or reject it, as before
        matrix = np.vstack(windows)
    if matrix.ndim != 2:  # not a stack of 1-d windows: vstack joins them differently
        matrix = np.vstack(windows)
    return notionals @ matrix


# --- the checks, in documented order -------------------------------------------------------------


def check_trading_halted(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    if lim.cfg.trading_halted or p.halted:
        return Failure(VetoReason.TRADING_HALTED, detail="kill switch or drawdown panic")
    return None


def check_tier_block(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    tier = lim.tiers.get(i.symbol, "unknown")
    if tier in lim.cfg.blocked_tiers:
        return Failure(VetoReason.TIER_BLOCK, detail=f"tier {tier!r} is blocked")
    return None


def check_stale_mark(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    last = p.last_mark_ts.get(i.symbol)
    age = float("inf") if last is None else p.now - last
    if age > lim.cfg.stale_mark_seconds:
        return Failure(VetoReason.STALE_MARK, age, lim.cfg.stale_mark_seconds, "mark age s")
    return None


def check_cooldown(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    until = p.cooldown_until.get(i.symbol)
    if until is not None and p.now < until:
        return Failure(VetoReason.COOLDOWN, until - p.now, 0.0, f"{until - p.now:.0f}s left")
    return None


def check_min_notional(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    rules = lim.rules.get(i.symbol)
    step = rules.qty_step if rules else 0.0
    qty = round_qty(i.notional / i.ref_price, step) if step > 0 else i.notional / i.ref_price
    notional = qty * i.ref_price
    floor = max(lim.cfg.min_notional, rules.min_notional if rules else 0.0)
    if notional < floor:
        return Failure(VetoReason.MIN_NOTIONAL, notional, floor, "order notional below minimum")
    return None


def check_per_trade_nav_pct(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    frac = i.notional / p.nav if p.nav > 0 else float("inf")
    if frac > lim.cfg.per_trade_nav_pct:
        return Failure(VetoReason.PER_TRADE_NAV_PCT, frac, lim.cfg.per_trade_nav_pct)
    return None


def check_max_concurrent(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    held = len(p.positions) - list(p.positions.values()).count(0.0)  # the non-flat ones
    opens_new = p.positions.get(i.symbol, 0.0) == 0.0
    if opens_new and held >= lim.cfg.max_concurrent:
        return Failure(VetoReason.MAX_CONCURRENT, held + 1, lim.cfg.max_concurrent)
    return None


def check_symbol_cap(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    after = abs(p.positions.get(i.symbol, 0.0) + i.side.sign * i.notional)
    frac = after / p.nav if p.nav > 0 else float("inf")
    if frac > lim.cfg.symbol_cap_nav_pct:
        return Failure(VetoReason.SYMBOL_CAP, frac, lim.cfg.symbol_cap_nav_pct)
    return None


def check_portfolio_dd_circuit(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    dd = p.drawdown_pct
    if dd >= lim.cfg.dd_circuit_pct:
        return Failure(VetoReason.PORTFOLIO_DD_CIRCUIT, dd, lim.cfg.dd_circuit_pct)
    return None


def _post_trade_var(i: Intent, p: PortfolioView, lim: RiskLimits) -> VarEstimate:
    cached = p.var_cache.get(i.intent_id)
    if cached is None:
        book = dict(p.positions)
        book[i.symbol] = book.get(i.symbol, 0.0) + i.side.sign * i.notional
        cached = p.var_cache[i.intent_id] = portfolio_var(
            book, p.returns, p.nav, lim.cfg, nan_free=p.returns_nan_free
        )
    return cached


def check_var_limit(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    est = _post_trade_var(i, p, lim)
    if est.var is not None and est.var > lim.cfg.var_limit_nav_pct:
        return Failure(VetoReason.VAR_LIMIT, est.var, lim.cfg.var_limit_nav_pct)
    return None


def check_cvar_limit(i: Intent, p: PortfolioView, lim: RiskLimits) -> Failure | None:
    est = _post_trade_var(i, p, lim)
    if est.cvar is not None and est.cvar > lim.cfg.cvar_limit_nav_pct:
        return Failure(VetoReason.CVAR_LIMIT, est.cvar, lim.cfg.cvar_limit_nav_pct)
    return None


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


def check_order(
    intent: Intent, portfolio: PortfolioView, limits: RiskLimits, *, report_all: bool = False
) -> VetoResult:
    """Decide on an entry intent: the first failing check in CHECK_ORDER is the veto.

    With ``report_all`` the remaining checks are also run and listed in ``also_failed``; they
    never change the decision. A pass whose VaR/CVaR checks were skipped for lack of returns
    says so in ``detail``.
    """
    first: Failure | None = None
    others: list[str] = []
    for _, check in CHECK_ORDER:
        failure = check(intent, portfolio, limits)
        if failure is None:
            continue
        if first is None:
            first = failure
            if not report_all:
                break
        else:
            others.append(failure.reason.value)
    if first is None:
        return VetoResult(vetoed=False, detail=_skipped_note(intent, portfolio, limits))
    return VetoResult(
        vetoed=True,
        reason=first.reason.value,
        observed=first.observed,
        limit=first.limit,
        detail=first.detail,
        also_failed=tuple(others),
    )


def _skipped_note(i: Intent, p: PortfolioView, lim: RiskLimits) -> str:
    """Say so when a pass skipped the VaR/CVaR checks for lack of returns (never a silent pass)."""
    est = p.var_cache.get(i.intent_id)
    if est is None or est.status != "insufficient_data":
        return ""
    return (
        f"var_limit, cvar_limit skipped: insufficient_data "
        f"({est.n_returns} < min_returns {lim.cfg.min_returns})"
    )


def evaluate_intent(intent: Intent, portfolio: PortfolioView, limits: RiskLimits) -> VetoResult:
    """Run check_order and record the outcome in diagnostics (the spec's record_veto point)."""
    result = check_order(intent, portfolio, limits)
    if result.vetoed and result.reason is not None:
        record_veto(result.reason, intent.symbol)
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
    probe = Intent(f"gate:{symbol}", symbol, Side.LONG, 0.0, 1.0, 0.0, 0.0, portfolio.now)
    flags = [f.reason.value for c in _GATING if (f := c(probe, portfolio, limits)) is not None]
    held = abs(portfolio.positions.get(symbol, 0.0))
    if portfolio.nav > 0 and held / portfolio.nav >= limits.cfg.symbol_cap_nav_pct:
        flags.append(VetoReason.SYMBOL_CAP.value)
    return flags
