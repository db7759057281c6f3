"""Veto counters and the rest of diagnostics_metrics (spec §8.1, DESIGN.md §4-5).

The counters, the snapshot, risk's records, the window (count and age bounds), the heatmap
(reason x symbol, reason x time) and bounded memory. Liveness: test_diagnostics_liveness.py;
the accounting identity, the engine clock, the disabled path and thread safety:
test_diagnostics_guarantees.py.
"""

from __future__ import annotations

import dataclasses

import pytest
from diagnostics_kit import T0, FakeClock, signal_ordered, signal_vetoed, use

from execution.config import RiskConfig
from execution.diagnostics.testing import capture_diagnostics
from execution.diagnostics_metrics import (
    DiagnosticsSettings,
    ExitPipelineStatus,
    RuntimeDiagnosticsSnapshot,
    VetoCounters,
    build_runtime_diagnostics_snapshot,
    get_exit_status,
    get_veto_counters,
    record_exit_scan_run,
    record_exit_trigger,
    record_order_failed,
    record_order_placed,
    record_risk_passed,
    record_signal_emitted,
    record_veto,
    update_exit_pipeline_status,
)
from execution.risk_limits import PortfolioView, RiskLimits, evaluate_intent
from execution.types import Intent, MarketRules, Side, VetoReason

# --- spec §8.1 --------------------------------------------------------------------------------


def test_record_veto_increments_counters_and_sets_the_timestamp(clock: FakeClock) -> None:
    vc = get_veto_counters()
    assert (vc.total_vetoes, vc.by_reason, vc.last_veto_ts) == (0, {}, None)

    record_veto("max_concurrent")

    vc = get_veto_counters()
    assert vc.total_vetoes == 1
    assert vc.by_reason == {"max_concurrent": 1}
    assert vc.last_veto_ts == "2024-01-01T00:00:00Z"
    assert (vc.total_signals, vc.total_orders) == (0, 0)
    assert (vc.last_signal_ts, vc.last_order_ts) == (None, None)

    clock.advance(90)
    record_veto("max_concurrent")
    assert get_veto_counters().total_vetoes == 2
    assert get_veto_counters().by_reason == {"max_concurrent": 2}
    assert get_veto_counters().last_veto_ts == "2024-01-01T00:01:30Z"


def test_multiple_reasons_accumulate_in_by_reason(clock: FakeClock) -> None:
    reasons = ["max_concurrent", "symbol_cap", "max_concurrent", "var_limit", "cvar_limit"]
    reasons += ["portfolio_dd_circuit", "max_concurrent", "symbol_cap", "tier_block"]
    for reason in reasons:
        record_veto(reason)

    vc = get_veto_counters()
    assert vc.by_reason == {
        "max_concurrent": 3,
        "symbol_cap": 2,
        "var_limit": 1,
        "cvar_limit": 1,
        "portfolio_dd_circuit": 1,
        "tier_block": 1,
    }
    assert vc.total_vetoes == len(reasons) == sum(vc.by_reason.values())


def test_record_signal_emitted_bumps_signals_and_its_timestamp(clock: FakeClock) -> None:
    record_signal_emitted()
    clock.advance(60)
    record_signal_emitted("ETHUSDT")
    vc = get_veto_counters()
    assert vc.total_signals == 2
    assert vc.last_signal_ts == "2024-01-01T00:01:00Z"
    assert (vc.total_orders, vc.total_vetoes, vc.last_order_ts, vc.last_veto_ts) == (
        0,
        0,
        None,
        None,
    )


def test_record_order_placed_bumps_orders_and_its_timestamp(clock: FakeClock) -> None:
    record_order_placed()
    clock.advance(3600)
    record_order_placed("exit", "BTCUSDT")
    vc = get_veto_counters()
    assert vc.total_orders == 2
    assert vc.last_order_ts == "2024-01-01T01:00:00Z"
    assert (vc.total_signals, vc.total_vetoes, vc.last_signal_ts) == (0, 0, None)
    orders_by_kind = build_runtime_diagnostics_snapshot().accounting["orders_by_kind"]
    assert orders_by_kind == {"entry": 1, "exit": 1}


def test_build_runtime_diagnostics_snapshot_has_the_spec_structure(clock: FakeClock) -> None:
    signal_vetoed("symbol_cap")
    signal_ordered()
    record_exit_scan_run()
    update_exit_pipeline_status(4, 3, 1, 1)

    snap = build_runtime_diagnostics_snapshot()

    assert isinstance(snap, RuntimeDiagnosticsSnapshot)
    assert isinstance(snap.veto_counters, VetoCounters)
    assert isinstance(snap.exit_pipeline_status, ExitPipelineStatus)
    assert [f.name for f in dataclasses.fields(VetoCounters)] == [
        "by_reason",
        "total_signals",
        "total_orders",
        "total_vetoes",
        "last_veto_ts",
        "last_order_ts",
        "last_signal_ts",
    ]
    assert [f.name for f in dataclasses.fields(ExitPipelineStatus)] == [
        "last_exit_scan_ts",
        "last_exit_trigger_ts",
        "open_positions_count",
        "tp_sl_registered_count",
        "tp_sl_missing_count",
        "underwater_without_tp_sl_count",
        # issue 19's one addition, after the spec's fields and with a default, so every
        # positional construction the spec shows still means what it says
        "liquidation_before_stop_count",
    ]
    assert ExitPipelineStatus(None, None, 0, 0, 0, 0).liquidation_before_stop_count == 0
    assert snap.veto_counters == VetoCounters(
        by_reason={"symbol_cap": 1},
        total_signals=2,
        total_orders=1,
        total_vetoes=1,
        last_veto_ts="2024-01-01T00:00:00Z",
        last_order_ts="2024-01-01T00:00:00Z",
        last_signal_ts="2024-01-01T00:00:00Z",
    )
    assert snap.exit_pipeline_status == ExitPipelineStatus(
        last_exit_scan_ts="2024-01-01T00:00:00Z",
        last_exit_trigger_ts=None,
        open_positions_count=4,
        tp_sl_registered_count=3,
        tp_sl_missing_count=1,
        underwater_without_tp_sl_count=1,
    )
    assert snap.enabled is True
    assert set(snap.window) >= {"window_signals", "window_seconds", "signals", "by_reason"}
    assert set(snap.heatmap) == {
        "bucket_seconds",
        "max_buckets",
        "by_reason_symbol",
        "by_reason_time",
    }
    assert set(snap.liveness) == {"loop_count", "last_loop", "stages", "gating"}
    assert snap.accounting["identity_ok"] is True


def test_the_snapshot_is_a_copy_that_later_records_do_not_change(clock: FakeClock) -> None:
    record_veto("var_limit")
    snap = build_runtime_diagnostics_snapshot()
    record_veto("var_limit")
    snap.veto_counters.by_reason["var_limit"] = 99
    assert build_runtime_diagnostics_snapshot().veto_counters.by_reason == {"var_limit": 2}
    assert snap.veto_counters.total_vetoes == 1


def test_get_exit_status_reports_the_last_scan_time(clock: FakeClock) -> None:
    record_exit_scan_run()
    clock.advance(5)
    record_exit_trigger("sl", "BTCUSDT")
    status = get_exit_status()
    assert status.last_exit_scan_ts == "2024-01-01T00:00:00Z"
    assert status.last_exit_trigger_ts == "2024-01-01T00:00:05Z"


# --- risk_limits integration: evaluate_intent is the record_veto point ------------------------


def _limits(**risk: object) -> RiskLimits:
    cfg = RiskConfig(**risk)  # type: ignore[arg-type]
    rules = {s: MarketRules(s) for s in ("BTCUSDT", "PEPEUSDT", "ETHUSDT")}
    return RiskLimits(cfg, {"BTCUSDT": "core", "ETHUSDT": "core", "PEPEUSDT": "blocked"}, rules)


def _view(positions: dict[str, float] | None = None) -> PortfolioView:
    marks = {"BTCUSDT": T0, "ETHUSDT": T0, "PEPEUSDT": T0}
    return PortfolioView(
        now=T0, nav=10_000.0, peak_nav=10_000.0, positions=positions or {}, last_mark_ts=marks
    )


def _intent(symbol: str, notional: float = 100.0) -> Intent:
    return Intent(f"{symbol}:1", symbol, Side.LONG, notional, 100.0, 110.0, 95.0, T0)


def test_evaluate_intent_records_each_veto_with_its_reason_and_symbol(clock: FakeClock) -> None:
    limits = _limits(max_concurrent=1)
    assert evaluate_intent(_intent("PEPEUSDT"), _view(), limits).reason == "tier_block"
    held = _view({"ETHUSDT": 200.0})
    assert evaluate_intent(_intent("BTCUSDT"), held, limits).reason == "max_concurrent"
    assert evaluate_intent(_intent("BTCUSDT", 2_000.0), _view(), limits).reason == (
        "per_trade_nav_pct"
    )
    passed = evaluate_intent(_intent("BTCUSDT"), _view(), limits)

    assert not passed.vetoed
    snap = build_runtime_diagnostics_snapshot()
    assert snap.veto_counters.by_reason == {
        "tier_block": 1,
        "max_concurrent": 1,
        "per_trade_nav_pct": 1,
    }
    assert snap.heatmap["by_reason_symbol"] == {
        "tier_block": {"PEPEUSDT": 1},
        "max_concurrent": {"BTCUSDT": 1},
        "per_trade_nav_pct": {"BTCUSDT": 1},
    }
    assert snap.accounting["in_flight"] == 1  # passed risk, not yet at the exchange


# --- the window: last window_signals outcomes, no older than window_seconds -------------------


def test_the_window_keeps_only_the_last_window_signals_outcomes(clock: FakeClock) -> None:
    use(clock, window_signals=5)
    for reason in ["cooldown"] * 3 + ["var_limit"] * 2:
        signal_vetoed(reason)
    signal_ordered()
    signal_ordered()
    record_signal_emitted()
    record_risk_passed()
    record_order_failed("transient")

    window = build_runtime_diagnostics_snapshot().window
    # 8 outcomes; the first three (the cooldown vetoes) fell out of the count bound.
    assert window["window_signals"] == 5
    assert (window["signals"], window["vetoes"], window["orders"]) == (5, 2, 2)
    assert window["order_failures"] == 1
    assert window["by_reason"] == {"var_limit": 2}
    assert get_veto_counters().by_reason == {"cooldown": 3, "var_limit": 2}  # cumulative: all


def test_the_window_drops_outcomes_older_than_window_seconds(clock: FakeClock) -> None:
    use(clock, window_seconds=60.0)
    signal_vetoed("cooldown")
    clock.advance(30)
    signal_vetoed("var_limit")
    signal_ordered()

    window = build_runtime_diagnostics_snapshot().window
    assert window["by_reason"] == {"cooldown": 1, "var_limit": 1}
    assert window["window_seconds"] == 60.0

    clock.advance(45)  # the cooldown veto is 75 s old, the var_limit one 45 s
    window = build_runtime_diagnostics_snapshot().window
    assert window["by_reason"] == {"var_limit": 1}
    assert (window["signals"], window["vetoes"], window["orders"]) == (2, 1, 1)

    clock.advance(60)
    window = build_runtime_diagnostics_snapshot().window
    assert (window["signals"], window["by_reason"]) == (0, {})
    assert get_veto_counters().by_reason == {"cooldown": 1, "var_limit": 1}


def test_exit_orders_are_not_window_outcomes(clock: FakeClock) -> None:
    record_order_placed("exit", "BTCUSDT")
    record_order_failed("rejected", "exit", "BTCUSDT")
    window = build_runtime_diagnostics_snapshot().window
    assert (window["signals"], window["orders"], window["order_failures"]) == (0, 0, 0)


# --- the heatmap ------------------------------------------------------------------------------


def test_heatmap_counts_reason_by_symbol_and_by_time_bucket(clock: FakeClock) -> None:
    use(clock, heatmap_bucket_seconds=300.0, heatmap_max_buckets=10)
    record_veto("max_concurrent", "BTCUSDT")
    record_veto("max_concurrent", "ETHUSDT")
    clock.advance(299)
    record_veto("max_concurrent", "ETHUSDT")
    clock.advance(1)  # the next 5-minute bucket
    record_veto("var_limit", None)
    record_veto("max_concurrent", "ETHUSDT")

    heatmap = build_runtime_diagnostics_snapshot().heatmap
    assert heatmap["bucket_seconds"] == 300.0
    assert heatmap["max_buckets"] == 10
    assert heatmap["by_reason_symbol"] == {
        "max_concurrent": {"BTCUSDT": 1, "ETHUSDT": 3},
        "var_limit": {"_portfolio": 1},
    }
    assert heatmap["by_reason_time"] == {
        "max_concurrent": {"2024-01-01T00:00:00Z": 3, "2024-01-01T00:05:00Z": 1},
        "var_limit": {"2024-01-01T00:05:00Z": 1},
    }


def test_heatmap_time_buckets_are_bounded_and_drop_the_oldest(clock: FakeClock) -> None:
    use(clock, heatmap_bucket_seconds=60.0, heatmap_max_buckets=3)
    for _ in range(5):
        record_veto("cooldown", "BTCUSDT")
        clock.advance(60)

    heatmap = build_runtime_diagnostics_snapshot().heatmap
    assert heatmap["by_reason_time"] == {
        "cooldown": {
            "2024-01-01T00:02:00Z": 1,
            "2024-01-01T00:03:00Z": 1,
            "2024-01-01T00:04:00Z": 1,
        }
    }
    assert heatmap["by_reason_symbol"] == {"cooldown": {"BTCUSDT": 5}}  # cumulative


def test_a_clock_stepping_back_keeps_the_buckets_bounded_and_in_time_order(
    clock: FakeClock,
) -> None:
    use(clock, heatmap_bucket_seconds=60.0, heatmap_max_buckets=3)
    for minutes in (0, 1, 2, 3, -5, 1, 4):  # a live clock adjusted backwards, then forward
        clock.t = T0 + 60 * minutes
        record_veto("cooldown", "BTCUSDT")

    by_time = build_runtime_diagnostics_snapshot().heatmap["by_reason_time"]["cooldown"]
    # The bucket opened in the past was the oldest, so it made way at once; then 00:04 pushed
    # out 00:01 (two vetoes).
    assert by_time == {
        "2024-01-01T00:02:00Z": 1,
        "2024-01-01T00:03:00Z": 1,
        "2024-01-01T00:04:00Z": 1,
    }


def test_memory_stays_bounded_however_long_it_runs(clock: FakeClock) -> None:
    settings = DiagnosticsSettings(
        window_signals=50, heatmap_bucket_seconds=60.0, heatmap_max_buckets=24
    )
    reasons = ["max_concurrent", "symbol_cap", "var_limit", "cvar_limit"]
    symbols = [f"S{i}" for i in range(10)]
    with capture_diagnostics(settings, clock) as diagnostics:
        for i in range(20_000):
            record_signal_emitted(symbols[i % 10])
            record_veto(reasons[i % 4], symbols[i % 10])
            clock.advance(7)

        snap = diagnostics.snapshot()
        assert snap.veto_counters.total_vetoes == 20_000
        assert snap.window["signals"] <= 50
        assert all(len(buckets) <= 24 for buckets in snap.heatmap["by_reason_time"].values())
        assert all(len(per) <= 10 for per in snap.heatmap["by_reason_symbol"].values())
        # What diagnostics hold stays bounded, not just what the snapshot shows.
        assert len(diagnostics.window()) == 50
        assert len(diagnostics.heatmap_buckets()) == 24


def test_record_veto_takes_a_veto_reason_or_its_value(clock: FakeClock) -> None:
    record_veto(VetoReason.VAR_LIMIT, "BTCUSDT")
    record_veto("var_limit", "BTCUSDT")
    by_reason = get_veto_counters().by_reason
    assert by_reason == {"var_limit": 2}
    assert [type(k) for k in by_reason] == [str]  # published as the plain value


def test_record_veto_refuses_an_unknown_reason_and_names_the_valid_ones(
    clock: FakeClock,
) -> None:
    with pytest.raises(ValueError, match="'too_risky'") as err:
        record_veto("too_risky", "BTCUSDT")
    assert all(reason.value in str(err.value) for reason in VetoReason)
    assert get_veto_counters() == VetoCounters()  # nothing was counted
