"""Report metrics on hand-made journals, each figure worked out by hand from its definition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from execution.report.metrics import (
    daily_returns,
    drawdown,
    equity_stats,
    exposure,
    ratios,
    trade_stats,
)
from execution.report.tables import exit_reasons, per_symbol, veto_reasons
from report.journal_factory import HOUR, T0, four_trades


def test_four_round_trips_give_the_counts_averages_and_quality_figures_worked_by_hand() -> None:
    s = trade_stats(four_trades())  # net PnL 9, 0, -6, 6
    assert (s["trades"], s["wins"], s["draws"], s["losses"]) == (4, 2, 1, 1)
    assert s["win_rate"] == 0.5
    assert s["avg_trade"] == s["expectancy"] == pytest.approx(9 / 4)
    assert s["median_trade"] == pytest.approx(3.0)  # (0 + 6) / 2
    assert s["profit_factor"] == pytest.approx(15 / 6)
    # deviations from 2.25: 6.75, -2.25, -8.25, 3.75; squares sum 132.75; sample var 44.25
    assert s["sqn"] == pytest.approx(math.sqrt(4) * 2.25 / math.sqrt(132.75 / 3))
    assert (s["best_trade"], s["worst_trade"]) == (9.0, -6.0)
    assert (s["best_trade_pct"], s["worst_trade_pct"]) == (pytest.approx(9.0), pytest.approx(-6.0))
    assert s["expectancy_pct"] == pytest.approx((9 + 0 - 6 + 6) / 4)
    assert s["avg_duration_s"] == HOUR
    assert (s["fees"], s["gross_pnl"], s["realized_net_pnl"]) == (2.0, 11.0, 9.0)


def test_no_trades_leave_every_ratio_undefined_rather_than_zero() -> None:
    s = trade_stats([])
    assert s["trades"] == 0 and s["win_rate"] is None and s["profit_factor"] is None
    assert s["sqn"] is None and s["best_trade"] is None


def test_only_winning_trades_have_no_profit_factor() -> None:
    wins = [t for t in four_trades() if t.net_pnl > 0]
    assert trade_stats(wins)["profit_factor"] is None


def test_exposure_merges_overlapping_positions() -> None:
    # [0,1h] and [0.5h,1.5h] overlap: 1.5 h; then 1 h and 1 h: 3.5 h of a 10 h run.
    assert exposure(four_trades(), T0, T0 + 10 * HOUR) == pytest.approx(0.35)


def test_drawdown_is_the_deepest_fall_below_the_peak_and_lasts_until_the_peak_is_regained() -> None:
    dd = drawdown([0, 1, 2, 3, 4, 5], [100, 120, 90, 120, 130, 117])
    assert dd["max_drawdown_pct"] == pytest.approx(25.0)  # 90 / 120
    assert dd["max_drawdown_duration_s"] == 2.0  # peak at t=1, regained at t=3


def test_daily_returns_use_each_days_last_sample_and_skip_empty_days() -> None:
    day = 86_400.0
    ts = [T0, T0 + 0.5 * day, T0 + day + 10, T0 + 3 * day]  # no sample on day 2
    r = daily_returns(ts, [100.0, 110.0, 99.0, 108.9])
    assert r.tolist() == pytest.approx([99 / 110 - 1, 108.9 / 99 - 1])


def test_sharpe_sortino_calmar_follow_their_definitions_on_three_daily_returns() -> None:
    r = np.array([0.10, -0.05, 0.02])
    mean = (0.10 - 0.05 + 0.02) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 2)
    downside = math.sqrt(0.05**2 / 3)
    growth = 1.10 * 0.95 * 1.02
    got = ratios(r)
    assert got["sharpe"] == pytest.approx(mean / std * math.sqrt(365))
    assert got["sortino"] == pytest.approx(mean * math.sqrt(365) / downside)
    assert got["calmar"] == pytest.approx(
        (growth ** (365 / 3) - 1) / 0.05
    )  # worst fall 1.10->1.045


def test_ratios_equal_empyrical_reloaded_on_a_year_of_random_days() -> None:
    empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded (dev) not installed")
    r = np.random.default_rng(7).normal(0.0005, 0.02, 365)
    got = ratios(r)
    kw = {"period": "daily", "annualization": 365}
    assert got["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, **kw), rel=1e-9)
    assert got["sortino"] == pytest.approx(empyrical.sortino_ratio(r, **kw), rel=1e-9)
    assert got["calmar"] == pytest.approx(empyrical.calmar_ratio(r, **kw), rel=1e-9)


def test_equity_return_and_cagr_over_one_year() -> None:
    year = 365.25 * 86_400.0
    s = equity_stats([T0, T0 + year], [1000.0, 1100.0])
    assert s["return_pct"] == pytest.approx(10.0) and s["cagr"] == pytest.approx(0.10)


def test_breakdown_tables_group_by_symbol_and_exit_reason() -> None:
    by_symbol = per_symbol(four_trades(), {"BTCUSDT": 5.0, "SOLUSDT": -1.0})
    assert list(by_symbol) == ["ETHUSDT", "BTCUSDT", "SOLUSDT"]  # by net PnL: 6, 3, 0
    assert by_symbol["BTCUSDT"]["net_pnl"] == 3.0 and by_symbol["BTCUSDT"]["buy_hold_pct"] == 5.0
    assert by_symbol["SOLUSDT"]["trades"] == 0
    reasons = exit_reasons(four_trades())
    assert reasons["tp"]["trades"] == 2 and reasons["tp"]["net_pnl"] == 15.0
    assert reasons["sl"]["win_rate"] == 0.0


def test_veto_table_ranks_reasons_with_their_share_and_top_symbols() -> None:
    diag = {
        "veto_counters": {"by_reason": {"cooldown": 1, "tier_block": 3}},
        "heatmap": {"by_reason_symbol": {"tier_block": {"PEPEUSDT": 3}}},
    }
    rows = veto_reasons(diag)
    assert list(rows) == ["tier_block", "cooldown"]
    assert rows["tier_block"] == {"vetoes": 3, "share": 0.75, "top_symbols": {"PEPEUSDT": 3}}
    assert veto_reasons({}) == {}


def test_a_run_of_minutes_has_no_cagr_instead_of_an_overflow() -> None:
    from execution.report.metrics import equity_stats

    stats = equity_stats([0.0, 60.0, 120.0], [10_000.0, 10_500.0, 12_000.0])
    assert stats["cagr"] is None
    assert stats["return_pct"] == pytest.approx(20.0)
