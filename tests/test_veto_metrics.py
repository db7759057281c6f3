"""Veto counters and the rest of diagnostics_metrics (spec §8.1, DESIGN.md §4-5).

The counters, the window (count and age bounds), the heatmap (reason x symbol, reason x time),
liveness, the accounting identity, the engine clock, the disabled path, bounded memory and
thread safety.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from execution import diagnostics_metrics as dm
from execution.clock import to_iso
from execution.config import RiskConfig
from execution.diagnostics.testing import capture_diagnostics
from execution.diagnostics_metrics import (
    DiagnosticsSettings,
    ExitPipelineStatus,
    RuntimeDiagnosticsSnapshot,
    VetoCounters,
    build_runtime_diagnostics_snapshot,
    configure,
    get_exit_status,
    get_veto_counters,
    record_exit_scan_run,
    record_exit_trigger,
    record_loop_end,
    record_loop_start,
    record_order_failed,
    record_order_placed,
    record_risk_passed,
    record_signal_emitted,
    record_stage_error,
    record_stage_success,
    record_stages_success,
    record_veto,
    set_gating_flags,
    update_exit_pipeline_status,
)
from execution.risk_limits import PortfolioView, RiskLimits, evaluate_intent
from execution.types import Intent, MarketRules, Side, VetoReason

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


class FakeClock:
    """The engine clock as diagnostics sees it: an epoch-seconds callable, moved by hand."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    """Diagnostics on a hand-driven engine clock with the default settings."""
    c = FakeClock()
    configure(DiagnosticsSettings(), clock=c)
    return c


def use(clock: FakeClock, **overrides: Any) -> DiagnosticsSettings:
    settings = dataclasses.replace(DiagnosticsSettings(), **overrides)
    configure(settings, clock=clock)
    return settings


def signal_vetoed(reason: str, symbol: str | None = "BTCUSDT") -> None:
    record_signal_emitted(symbol)
    record_veto(reason, symbol)


def signal_ordered(symbol: str = "BTCUSDT") -> None:
    record_signal_emitted(symbol)
    record_risk_passed(symbol)
    record_order_placed("entry", symbol)


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


# --- liveness ---------------------------------------------------------------------------------


def test_liveness_counts_loops_and_the_last_loop(clock: FakeClock) -> None:
    assert build_runtime_diagnostics_snapshot().liveness["last_loop"] == {}
    record_loop_start()
    signal_vetoed("cooldown")
    record_loop_end()
    clock.advance(60)  # the next bar
    record_loop_start()
    signal_ordered()
    signal_ordered()
    record_order_placed("exit", "ETHUSDT")
    record_exit_trigger("tp", "ETHUSDT")
    record_loop_end()

    liveness = build_runtime_diagnostics_snapshot().liveness
    assert liveness["loop_count"] == 2
    assert liveness["last_loop"] == {"signals": 2, "vetoes": 0, "orders": 3, "exits": 1}

    clock.advance(60)
    record_loop_start()  # a quiet loop
    record_loop_end()
    liveness = build_runtime_diagnostics_snapshot().liveness
    assert liveness["loop_count"] == 3
    assert liveness["last_loop"] == {"signals": 0, "vetoes": 0, "orders": 0, "exits": 0}


def test_records_inside_a_loop_carry_the_loop_time(clock: FakeClock) -> None:
    record_loop_start()
    clock.advance(0.25)  # the clock is read once per loop
    record_veto("var_limit", "BTCUSDT")
    record_exit_scan_run()
    record_stages_success(("screener", "risk"))
    record_loop_end()
    clock.advance(10)
    record_signal_emitted("BTCUSDT")  # outside a loop: the clock now

    snap = build_runtime_diagnostics_snapshot()
    assert snap.veto_counters.last_veto_ts == "2024-01-01T00:00:00Z"
    assert snap.exit_pipeline_status.last_exit_scan_ts == "2024-01-01T00:00:00Z"
    assert snap.liveness["stages"]["risk"]["last_success_ts"] == "2024-01-01T00:00:00Z"
    assert snap.veto_counters.last_signal_ts == "2024-01-01T00:00:10.250000Z"


def test_a_stage_that_fails_during_a_loop_is_not_vouched_for_by_that_loop(
    clock: FakeClock,
) -> None:
    record_loop_start()  # a clean loop at T0: every loop stage alive
    clock.advance(60)
    record_loop_start()  # the next loop: the router fails in it
    record_stage_error("router", RuntimeError("exchange down"))

    stages = build_runtime_diagnostics_snapshot().liveness["stages"]
    assert stages["router"]["last_success_ts"] == to_iso(T0)
    assert stages["router"]["last_error_ts"] == to_iso(T0 + 60)
    assert stages["screener"]["last_success_ts"] == to_iso(T0 + 60)

    clock.advance(60)
    record_loop_start()  # a loop after the error vouches for the router again
    stages = build_runtime_diagnostics_snapshot().liveness["stages"]
    assert stages["router"]["last_success_ts"] == to_iso(T0 + 120)
    assert stages["router"]["error_count"] == 1


def test_stage_success_and_error_are_timestamped_from_the_engine_clock(clock: FakeClock) -> None:
    record_stages_success(["screener", "risk"])
    clock.advance(10)
    record_stage_success("state_publish")
    record_stage_error("router", ValueError("exchange said no"))
    clock.advance(10)
    record_stage_error("router", "plain text error")

    stages = build_runtime_diagnostics_snapshot().liveness["stages"]
    assert list(stages) == list(dm.STAGES)
    assert stages["screener"]["last_success_ts"] == "2024-01-01T00:00:00Z"
    assert stages["risk"]["last_success_ts"] == "2024-01-01T00:00:00Z"
    assert stages["state_publish"]["last_success_ts"] == "2024-01-01T00:00:10Z"
    assert stages["router"] == {
        "last_success_ts": None,
        "last_error": "plain text error",
        "last_error_ts": "2024-01-01T00:00:20Z",
        "error_count": 2,
    }
    assert stages["exit_scanner"] == {
        "last_success_ts": None,
        "last_error": None,
        "last_error_ts": None,
        "error_count": 0,
    }


def test_a_stage_error_names_the_exception_type_and_is_truncated(clock: FakeClock) -> None:
    record_stage_error("risk", ValueError("x" * 1000))
    error = build_runtime_diagnostics_snapshot().liveness["stages"]["risk"]["last_error"]
    assert error.startswith("ValueError: x")
    assert len(error) == 300


def test_gating_flags_are_published_per_symbol_as_copies(clock: FakeClock) -> None:
    flags = {"BTCUSDT": ["max_concurrent"], "ETHUSDT": [], "PEPEUSDT": ["tier_block"]}
    set_gating_flags(flags)
    flags["BTCUSDT"].append("mutated later")
    gating = build_runtime_diagnostics_snapshot().liveness["gating"]
    assert gating == {"BTCUSDT": ["max_concurrent"], "ETHUSDT": [], "PEPEUSDT": ["tier_block"]}


# --- the accounting identity ------------------------------------------------------------------


def test_every_signal_outcome_keeps_the_accounting_identity(clock: FakeClock) -> None:
    signal_vetoed("symbol_cap")
    signal_vetoed("var_limit")
    signal_ordered()
    record_signal_emitted("ETHUSDT")
    record_risk_passed("ETHUSDT")
    record_order_failed("insufficient_funds", "entry", "ETHUSDT")
    record_signal_emitted("SOLUSDT")
    record_risk_passed("SOLUSDT")  # still at the exchange: in flight
    record_order_placed("exit", "BTCUSDT")  # exits are counted apart
    record_order_failed("rejected", "exit", "BTCUSDT")

    acc = build_runtime_diagnostics_snapshot().accounting
    assert acc == {
        "total_signals": 5,
        "total_vetoes": 2,
        "entry_orders": 1,
        "order_failures": 1,
        "in_flight": 1,
        "unaccounted": 0,
        "identity_ok": True,
        "orders_by_kind": {"entry": 1, "exit": 1},
        "order_failures_by_kind": {"entry": 1, "exit": 1},
        "order_failures_by_error": {"insufficient_funds": 1, "rejected": 1},
    }
    assert get_veto_counters().total_orders == 2  # entries and exits


def test_a_signal_with_no_outcome_breaks_the_identity(clock: FakeClock) -> None:
    signal_ordered()
    record_signal_emitted("ETHUSDT")  # never reached risk
    acc = build_runtime_diagnostics_snapshot().accounting
    assert (acc["unaccounted"], acc["identity_ok"]) == (1, False)


# --- engine clock and settings ----------------------------------------------------------------


def test_every_timestamp_comes_from_the_configured_engine_clock(clock: FakeClock) -> None:
    clock.t = T0 + 86_400 * 365  # a replayed bar a year later, not the wall clock
    signal_vetoed("tier_block")
    signal_ordered()
    record_exit_scan_run()
    record_exit_trigger("tp")
    record_stage_success("screener")

    snap = build_runtime_diagnostics_snapshot()
    expected = to_iso(clock.t)
    assert expected == "2024-12-31T00:00:00Z"
    vc, es = snap.veto_counters, snap.exit_pipeline_status
    assert vc.last_signal_ts == vc.last_order_ts == vc.last_veto_ts == expected
    assert es.last_exit_scan_ts == es.last_exit_trigger_ts == expected
    assert snap.liveness["stages"]["screener"]["last_success_ts"] == expected
    assert list(snap.heatmap["by_reason_time"]["tier_block"]) == [expected]


def test_configure_resets_counters_and_applies_settings(clock: FakeClock) -> None:
    signal_vetoed("cooldown")
    settings = use(clock, window_signals=7, window_seconds=120.0)
    snap = build_runtime_diagnostics_snapshot()
    assert snap.veto_counters == VetoCounters()
    assert (snap.window["window_signals"], snap.window["window_seconds"]) == (7, 120.0)
    assert dm.get_settings() == settings


# --- the disabled path ------------------------------------------------------------------------

ALL_RECORDS: list[Callable[[], None]] = [
    lambda: record_signal_emitted("BTCUSDT"),
    lambda: record_risk_passed("BTCUSDT"),
    lambda: record_order_placed("entry", "BTCUSDT"),
    lambda: record_order_failed("rejected", "entry", "BTCUSDT"),
    lambda: record_veto("max_concurrent", "BTCUSDT"),
    record_exit_scan_run,
    lambda: record_exit_trigger("sl", "BTCUSDT"),
    lambda: update_exit_pipeline_status(3, 2, 1, 1),
    lambda: record_stage_success("risk"),
    lambda: record_stages_success(["screener", "router"]),
    lambda: record_stage_error("risk", RuntimeError("x")),
    record_loop_start,
    record_loop_end,
    lambda: set_gating_flags({"BTCUSDT": ["tier_block"]}),
    lambda: dm.restore_cumulative(
        {"veto_counters": {"total_signals": 5}, "accounting": {"orders_by_kind": {"entry": 5}}}
    ),
]


def internals() -> dict[str, Any]:
    """Everything diagnostics hold, as they export it."""
    return dm.export_state()


def test_disabled_diagnostics_make_every_record_a_no_op(clock: FakeClock) -> None:
    use(clock, enabled=False)
    fresh_internals = internals()
    assert dm.is_enabled() is False
    for record in ALL_RECORDS:
        record()

    snap = build_runtime_diagnostics_snapshot()
    assert snap.enabled is False
    assert snap.veto_counters == VetoCounters()
    assert snap.exit_pipeline_status == ExitPipelineStatus()
    assert (snap.window, snap.heatmap, snap.liveness, snap.accounting) == ({}, {}, {}, {})
    assert internals() == fresh_internals  # nothing internal was touched either


def test_every_record_changes_something_when_enabled(clock: FakeClock) -> None:
    """The counterpart of the disabled test: each call there really is a recording call."""
    for record in ALL_RECORDS:
        before = internals()
        clock.advance(1)
        record()
        assert internals() != before, record


# --- thread safety ----------------------------------------------------------------------------


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Make the interpreter switch threads very often, to shake out lost updates."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def test_eight_threads_hammering_record_calls_give_exact_totals(
    clock: FakeClock, busy_switching: None
) -> None:
    n_threads, n = 8, 3_000
    reasons = ["max_concurrent", "symbol_cap", "var_limit"]
    barrier = threading.Barrier(n_threads)

    def worker(k: int) -> None:
        symbol = f"SYM{k}"
        barrier.wait()
        for i in range(n):
            record_signal_emitted(symbol)
            if i % 2 == 0:
                record_veto(reasons[i % 3], symbol)
            elif i % 4 == 1:
                record_risk_passed(symbol)
                record_order_placed("entry", symbol)
            else:
                record_risk_passed(symbol)
                record_order_failed("transient", "entry", symbol)
            record_order_placed("exit", symbol)
            record_exit_trigger("tp", symbol)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    snap = build_runtime_diagnostics_snapshot()
    vc, acc = snap.veto_counters, snap.accounting
    vetoes_per_thread = {r: sum(1 for i in range(0, n, 2) if reasons[i % 3] == r) for r in reasons}
    assert vc.total_signals == n_threads * n
    assert vc.total_vetoes == n_threads * n // 2
    assert vc.by_reason == {r: n_threads * c for r, c in vetoes_per_thread.items()}
    assert vc.total_orders == n_threads * (n // 4 + n)
    assert acc["orders_by_kind"] == {"entry": n_threads * n // 4, "exit": n_threads * n}
    assert acc["order_failures_by_error"] == {"transient": n_threads * n // 4}
    assert (acc["in_flight"], acc["unaccounted"], acc["identity_ok"]) == (0, 0, True)
    assert snap.exit_triggers_by_kind == {"tp": n_threads * n}
    assert snap.heatmap["by_reason_symbol"] == {
        r: {f"SYM{k}": c for k in range(n_threads)} for r, c in vetoes_per_thread.items()
    }
    assert sum(snap.heatmap["by_reason_time"][r]["2024-01-01T00:00:00Z"] for r in reasons) == (
        vc.total_vetoes
    )
