"""Pure performance metrics over closed trades and an equity curve (no I/O).

Trade metrics are over round trips (one closed-trades row each), net of fees. Equity metrics are
over NAV samples. The annualized ratios are over daily returns with 365 periods a year (crypto
trades every day), defined as empyrical-reloaded defines them; the tests check them against it.
empyrical is not imported here: its scipy import alone takes longer than a 350k-bar replay, and
the end of every `v7 run --fast` prints these ratios. Formulas: docs/performance.md.
"""

from __future__ import annotations

import math
import statistics
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DAY_SECONDS = 86_400.0
PERIODS_PER_YEAR = 365  # crypto: every calendar day is a trading day
YEAR_DAYS = 365.25  # CAGR's year, as backtesting.py counts it


@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip as the journal keeps it (``net_pnl`` = ``pnl`` - ``fees``)."""

    symbol: str
    side: str
    entry_ts: float
    exit_ts: float
    entry_price: float
    exit_price: float
    qty: float
    exit_reason: str
    pnl: float
    fees: float
    tp: float | None = None
    sl: float | None = None

    @property
    def net_pnl(self) -> float:
        return self.pnl - self.fees

    @property
    def return_pct(self) -> float:
        """Net PnL as a percentage of the entry notional."""
        notional = abs(self.entry_price * self.qty)
        return self.net_pnl / notional * 100.0 if notional > 0 else 0.0

    @property
    def duration_s(self) -> float:
        return self.exit_ts - self.entry_ts


def trade_from_row(row: dict[str, Any]) -> Trade:
    """A Trade from a ``read_closed_trades`` row."""
    return Trade(
        str(row["symbol"]), str(row["side"]), float(row["entry_ts"]), float(row["exit_ts"]),
        float(row["entry_price"]), float(row["exit_price"]), float(row["qty"]),
        str(row["exit_reason"]), float(row["pnl"]), float(row["fees"]), row.get("tp"), row.get("sl"),
    )  # fmt: skip


def _finite(value: float | None) -> float | None:
    """None for NaN/inf: JSON has no such numbers and a reader should see "undefined"."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def profit_factor(pnls: Sequence[float]) -> float | None:
    """Gross profit / gross loss; None when there is no losing trade (undefined)."""
    gains = sum(p for p in pnls if p > 0)
    losses = -sum(p for p in pnls if p < 0)
    return gains / losses if losses > 0 else None


def sqn(pnls: Sequence[float]) -> float | None:
    """Van Tharp's System Quality Number: sqrt(n) * mean / sample std (None below 2 trades)."""
    if len(pnls) < 2:
        return None
    std = statistics.stdev(pnls)
    return math.sqrt(len(pnls)) * statistics.fmean(pnls) / std if std > 0 else None


def trade_stats(trades: Sequence[Trade]) -> dict[str, Any]:
    """Counts, win rate, average/median, profit factor, expectancy, SQN, best/worst, duration."""
    # One pass: ``trades`` may build each Trade as it is read (a TradeTable holds columns);
    # C arrays hold 8 bytes a value where a list holds a pointer and a 24-byte float.
    pnls, returns, durations = array("d"), array("d"), array("d")
    gross, fees = 0.0, 0.0
    for t in trades:
        pnls.append(t.net_pnl)
        returns.append(t.return_pct)
        durations.append(t.duration_s)
        gross += t.pnl
        fees += t.fees
    n = len(pnls)
    wins = sum(1 for p in pnls if p > 0)
    losses = sum(1 for p in pnls if p < 0)
    return {
        "trades": n,
        "wins": wins,
        "draws": n - wins - losses,
        "losses": losses,
        "win_rate": wins / n if n else None,
        "avg_trade": statistics.fmean(pnls) if n else None,
        "median_trade": statistics.median(pnls) if n else None,
        "profit_factor": _finite(profit_factor(pnls)),
        "expectancy": statistics.fmean(pnls) if n else None,
        "expectancy_pct": statistics.fmean(returns) if n else None,
        "sqn": _finite(sqn(pnls)),
        "best_trade": max(pnls) if n else None,
        "worst_trade": min(pnls) if n else None,
        "best_trade_pct": max(returns) if n else None,
        "worst_trade_pct": min(returns) if n else None,
        "avg_duration_s": statistics.fmean(durations) if n else None,
        "gross_pnl": gross if n else 0,
        "fees": fees if n else 0,
        "realized_net_pnl": sum(pnls),
    }


def exposure(trades: Sequence[Trade], start: float, end: float) -> float | None:
    """Fraction of [start, end] with at least one position open (intervals merged)."""
    if end <= start:
        return None
    entries, exits = array("d"), array("d")  # one pass: a TradeTable builds each Trade read
    for t in trades:
        entries.append(t.entry_ts)
        exits.append(t.exit_ts)
    covered, reach = 0.0, start
    for i in np.argsort(np.frombuffer(entries), kind="stable").tolist():  # as sorted() did
        lo, hi = max(entries[i], reach), min(exits[i], end)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return covered / (end - start)


def drawdown(ts: Sequence[float], nav: Sequence[float]) -> dict[str, Any]:
    """Max drawdown (fraction below the running peak) and the longest peak-to-recovery time.

    A drawdown lasts from the sample at its peak to the next sample back at that peak (or the
    last sample, when it never recovers), as backtesting.py measures it.
    """
    if not nav:
        return {"max_drawdown_pct": None, "max_drawdown_duration_s": None}
    values = np.asarray(nav, dtype=float)
    peak = np.maximum.accumulate(values)
    dd = 1.0 - values / peak
    at_peak = np.flatnonzero(dd == 0)
    ends = np.unique(np.r_[at_peak, len(values) - 1])
    times = np.asarray(ts, dtype=float)
    gaps = [times[b] - times[a] for a, b in zip(ends[:-1], ends[1:], strict=True) if b > a + 1]
    return {
        "max_drawdown_pct": float(dd.max()) * 100.0,
        "max_drawdown_duration_s": float(max(gaps)) if gaps else 0.0,
    }


def daily_returns(ts: Sequence[float], nav: Sequence[float]) -> np.ndarray:
    """NAV at each UTC day's last sample, as simple day-over-day returns (days without a sample
    are skipped, as pandas' ``resample("D").last().dropna().pct_change()`` does)."""
    if len(nav) < 2:
        return np.empty(0)
    day = np.floor_divide(np.asarray(ts, dtype=float), DAY_SECONDS)
    last_of_day = np.r_[day[1:] != day[:-1], True]
    closes = np.asarray(nav, dtype=float)[last_of_day]
    return closes[1:] / closes[:-1] - 1.0


def ratios(days: np.ndarray, periods: int = PERIODS_PER_YEAR) -> dict[str, float | None]:
    """Annualized Sharpe, Sortino and Calmar of daily returns, as empyrical-reloaded defines them
    (risk-free rate 0): ``mean / std(ddof=1) * sqrt(P)``; ``mean * sqrt(P) / sqrt(mean(min(r,
    0)^2))``; ``((prod(1 + r))^(P / n) - 1) / max drawdown of [1, cumprod(1 + r)]``."""
    if len(days) < 2:
        return {"sharpe": None, "sortino": None, "calmar": None}
    mean, std = float(days.mean()), float(days.std(ddof=1))
    downside = math.sqrt(float(np.mean(np.minimum(days, 0.0) ** 2)))
    curve = np.r_[1.0, np.cumprod(1.0 + days)]
    worst = float(np.min(curve / np.maximum.accumulate(curve) - 1.0))
    annual = curve[-1] ** (periods / len(days)) - 1.0 if curve[-1] > 0 else None
    return {
        "sharpe": mean / std * math.sqrt(periods) if std > 0 else None,
        "sortino": mean * math.sqrt(periods) / downside if downside > 0 else None,
        "calmar": _finite(annual / -worst) if annual is not None and worst < 0 else None,
    }


def _annualized(growth: float, years: float) -> float | None:
    """Return the yearly rate behind ``growth`` over ``years``; None where it cannot be told."""
    if years <= 0:
        return None
    try:
        return float(growth ** (1.0 / years) - 1.0)
    except OverflowError:  # minutes of data compounded to a year exceed a float
        return None


def equity_stats(ts: Sequence[float], nav: Sequence[float]) -> dict[str, Any]:
    """Return, CAGR, drawdown, and the annualized Sharpe / Sortino / Calmar of the NAV curve."""
    if not nav:
        return {"return_pct": None, "cagr": None, "sharpe": None, "sortino": None,
                "calmar": None, **drawdown(ts, nav)}  # fmt: skip
    first, last = float(nav[0]), float(nav[-1])
    years = (ts[-1] - ts[0]) / DAY_SECONDS / YEAR_DAYS
    cagr = _annualized(last / first, years) if first > 0 and last > 0 else None
    return {
        "return_pct": (last / first - 1.0) * 100.0 if first else None,
        "cagr": _finite(cagr),
        **ratios(daily_returns(ts, nav)),
        **drawdown(ts, nav),
    }
