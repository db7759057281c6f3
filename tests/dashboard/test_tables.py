"""Positions, risk limits, liveness, gating, accounting and bad-bar tables."""

from __future__ import annotations

import pytest
from state_factory import NOW, iso, positions_files, risk_snapshot

from dashboard.tables import (
    PERP_COLUMNS,
    POSITION_COLUMNS,
    accounting_summary,
    bad_bars_frame,
    count_frame,
    distance_pct,
    gating_frame,
    gating_summary,
    liveness_frame,
    positions_frame,
    risk_limits_frame,
)


@pytest.mark.parametrize(
    ("side", "level", "kind", "expected"),
    [("long", 110.0, "tp", 10.0), ("long", 95.0, "sl", 5.0), ("short", 90.0, "tp", 10.0),
     ("short", 105.0, "sl", 5.0), ("long", 90.0, "sl", -10.0 * -1), ("long", 101.0, "sl", -1.0)],
)  # fmt: skip
def test_distance_to_tp_and_sl_is_the_move_needed_negative_once_crossed(
    side: str, level: float, kind: str, expected: float
) -> None:
    assert distance_pct(side, 100.0, level, kind) == pytest.approx(expected)


def test_distance_is_unknown_without_a_level_or_a_mark() -> None:
    assert distance_pct("long", 100.0, None, "tp") is None
    assert distance_pct("long", None, 1.0, "tp") is None


def test_positions_frame_shows_levels_distances_and_protection() -> None:
    positions = positions_files(NOW)["positions_state.json"]["positions"]
    ordered = positions_frame(positions, underwater_threshold_pct=-0.02)
    assert ordered["Symbol"].tolist() == ["ETHUSDT", "XRPUSDT", "BTCUSDT", "SOLUSDT"]
    frame = ordered.set_index("Symbol")
    assert list(frame.reset_index().columns) == POSITION_COLUMNS
    btc = frame.loc["BTCUSDT"]
    prices = (btc["Entry"], btc["Mark"], btc["TP"], btc["SL"])
    assert prices == ("60,000.00", "60,500.00", "61,800.00", "58,800.00")
    assert btc["PnL %"] == pytest.approx(0.8333, abs=1e-3)
    assert btc["To TP %"] == pytest.approx(2.1488, abs=1e-3)
    assert btc["To SL %"] == pytest.approx(2.8099, abs=1e-3)
    assert frame.loc["SOLUSDT", "To TP %"] == pytest.approx(5.0505, abs=1e-3)  # short
    assert frame.loc["ETHUSDT", "Protection"] == "🔴 no TP/SL, underwater"
    assert frame.loc["XRPUSDT", "Protection"] == "🟠 no SL"


def test_positions_frame_survives_garbage_rows_and_computes_missing_pnl() -> None:
    rows = ["x", None, {"symbol": "A", "side": "short", "entry_price": 100.0, "mark_price": 90.0}]
    frame = positions_frame(rows)
    assert len(frame) == 1 and frame.loc[0, "PnL %"] == pytest.approx(10.0)
    assert positions_frame("x").empty


def test_a_cheap_coin_keeps_its_digits_and_a_missing_level_is_a_dash_not_none() -> None:
    nxt = {"symbol": "NXTBTC", "side": "long", "qty": 1e5, "entry_price": 0.00003123,
           "mark_price": 0.00003187, "tp_price": 0.00003217, "sl_price": None}  # fmt: skip
    btc = {"symbol": "BTCUSDT", "side": "long", "qty": 0.01, "entry_price": 60000.0,
           "mark_price": 60500.0, "tp_price": 61800.0, "sl_price": 58800.0}  # fmt: skip
    frame = positions_frame([nxt, btc]).set_index("Symbol")
    row = frame.loc["NXTBTC"]
    assert (row["Entry"], row["Mark"], row["TP"], row["SL"]) == (
        "0.00003123", "0.00003187", "0.00003217", "—",
    )  # fmt: skip
    assert frame.loc["BTCUSDT", "Entry"] == "60,000.00"  # its own precision, not NXTBTC's
    assert "None" not in frame.to_string()
    assert list(frame.reset_index().columns) == POSITION_COLUMNS  # spot: no perpetual columns


def test_perpetual_positions_show_leverage_liquidation_distance_and_funding() -> None:
    btc = {"symbol": "BTCUSDT", "side": "long", "qty": 0.01, "entry_price": 60000.0,
           "mark_price": 60500.0, "tp_price": 61800.0, "sl_price": 58800.0, "leverage": 10.0,
           "liquidation_price": 54300.0, "liquidation_distance_pct": 0.10248, "funding": -0.42}  # fmt: skip
    eth = {"symbol": "ETHUSDT", "side": "long", "qty": 0.2, "entry_price": 3000.0,
           "mark_price": 3010.0, "tp_price": 3090.0, "sl_price": 2940.0, "leverage": 50.0,
           "liquidation_price": 2955.0, "liquidation_distance_pct": 0.01827, "funding": 0.0}  # fmt: skip
    ordered = positions_frame([btc, eth])
    assert list(ordered.columns) == POSITION_COLUMNS + PERP_COLUMNS
    assert ordered["Symbol"].tolist() == ["ETHUSDT", "BTCUSDT"]  # liquidated first: on top
    frame = ordered.set_index("Symbol")
    assert frame.loc["ETHUSDT", "Protection"] == "🔴 liquidation before SL"
    assert frame.loc["BTCUSDT", "Protection"] == "TP+SL"
    b = frame.loc["BTCUSDT"]
    assert (b["Leverage"], b["Liq. price"], b["Funding"]) == (10.0, "54,300.00", -0.42)
    assert b["To liq. %"] == pytest.approx(10.248)


def test_a_position_without_a_liquidation_price_is_not_judged_on_it() -> None:
    row = {"symbol": "XRPUSDT", "side": "short", "qty": 100.0, "entry_price": 0.5,
           "mark_price": 0.49, "tp_price": 0.48, "sl_price": 0.51, "leverage": None,
           "liquidation_price": None, "liquidation_distance_pct": None, "funding": 0.03}  # fmt: skip
    frame = positions_frame([row]).set_index("Symbol")
    assert frame.loc["XRPUSDT", "Protection"] == "TP+SL"
    assert frame.loc["XRPUSDT", "Liq. price"] == "—"


def test_risk_limits_compare_drawdown_var_and_cvar_to_their_limits() -> None:
    frame = risk_limits_frame(risk_snapshot(NOW)).set_index("Metric")
    assert frame.loc["NAV", "Value"] == "10,123.40 USDT"
    assert frame.loc["Drawdown", "Use of limit (%)"] == pytest.approx(9.4)
    assert frame.loc["VaR (95%)", "Limit"] == "0.40 %" and frame.loc["VaR (95%)", "Status"] == "ok"
    assert frame.loc["CVaR (95%)", "Use of limit (%)"] == pytest.approx(120.0)
    assert frame.loc["CVaR (95%)", "Status"] == "🔴 over limit"


def test_risk_limits_say_insufficient_data_and_flag_drawdown_breaches() -> None:
    snap = {"nav": 1.0, "var": None, "cvar": None, "var_status": "insufficient_data", "drawdown_pct": 0.09,
            "dd_state": "warn", "limits": {"dd_warn_pct": 0.05, "dd_circuit_pct": 0.08}}  # fmt: skip
    frame = risk_limits_frame(snap).set_index("Metric")
    assert frame.loc["VaR", "Status"] == "insufficient data"
    assert frame.loc["Drawdown", "Status"] == "🔴 warn (circuit)"
    assert len(risk_limits_frame("garbage")) == 4


def test_liveness_reports_seconds_since_success_and_status_per_stage() -> None:
    ok = {
        "last_success_ts": iso(NOW - 5),
        "last_error": None,
        "last_error_ts": None,
        "error_count": 0,
    }
    stages = {
        "exit_scanner": {**ok, "last_success_ts": iso(NOW - 900)},
        "screener": ok,
        "router": {**ok, "last_error": "boom", "last_error_ts": iso(NOW - 1), "error_count": 2},
        "custom": {},
    }
    frame = liveness_frame({"stages": stages}, NOW, 300.0).set_index("Stage")
    assert list(frame.index) == ["screener", "router", "exit_scanner", "custom"]
    assert (
        frame.loc["screener", "Seconds since"] == 5.0 and frame.loc["screener", "Status"] == "🟢 ok"
    )
    assert frame.loc["exit_scanner", "Status"] == "🟠 stale"
    assert frame.loc["router", "Status"] == "🔴 failing" and frame.loc["router", "Errors"] == 2
    assert frame.loc["custom", "Status"] == "⚪ never ran"


def test_liveness_redacts_secrets_in_error_text() -> None:
    stage = {
        "last_success_ts": iso(NOW),
        "last_error": "401 apiKey=SECRET123",
        "last_error_ts": None,
    }
    frame = liveness_frame({"stages": {"router": stage}}, NOW, 300.0)
    assert "SECRET123" not in frame.loc[0, "Last error"]


def test_gating_lists_blocked_symbols_first_with_their_flags() -> None:
    gating = {
        "BTCUSDT": ["max_concurrent"],
        "ETHUSDT": [],
        "PEPEUSDT": ["tier_block", "stale_mark"],
        "X": "bad",
    }
    frame = gating_frame(gating)
    assert frame["Symbol"].tolist() == ["BTCUSDT", "PEPEUSDT", "ETHUSDT", "X"]
    assert frame.loc[1, "Blocked by"] == "tier_block, stale_mark"
    summary = gating_summary(gating)
    assert (summary.blocked, summary.total) == (2, 4)
    assert (
        summary.sentence()
        == "Blocked right now: 2 of 4 symbols (max_concurrent ×1, stale_mark ×1, tier_block ×1)."
    )
    assert gating_summary({}).sentence() == "No gating flags published."
    assert gating_summary({"A": []}).sentence() == "All 1 symbols can trade right now."


def test_accounting_identity_is_recomputed_not_trusted() -> None:
    acc = {"total_signals": 80, "total_vetoes": 52, "entry_orders": 27, "order_failures": 0,
           "in_flight": 0, "identity_ok": True}  # fmt: skip
    summary = accounting_summary(acc)
    assert summary is not None and summary.unaccounted == 1 and not summary.ok
    assert (
        summary.equation() == "80 signals = 52 vetoes + 27 entry orders + 0 failures + 0 in flight"
    )
    assert accounting_summary({}) is None


def test_count_and_bad_bar_frames_sort_largest_first() -> None:
    assert count_frame({"tp": 9, "sl": 11}, "Kind")["Kind"].tolist() == ["sl", "tp"]
    frame = bad_bars_frame({"total": 3, "by_symbol": {"BTCUSDT": {"nan": 1, "duplicate_ts": 2}}})
    assert frame.values.tolist() == [["BTCUSDT", "duplicate_ts", 2], ["BTCUSDT", "nan", 1]]
    assert bad_bars_frame("x").empty
