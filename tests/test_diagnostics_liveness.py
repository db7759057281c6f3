"""Diagnostics liveness: loops counted, records carrying the loop's time, stages vouched for by a
loop unless they failed in it, stage errors named and truncated, gating flags."""

from __future__ import annotations

from diagnostics_kit import T0, FakeClock, signal_ordered, signal_vetoed

from execution import diagnostics_metrics as dm
from execution.clock import to_iso
from execution.diagnostics_metrics import (
    build_runtime_diagnostics_snapshot,
    record_exit_scan_run,
    record_exit_trigger,
    record_loop_end,
    record_loop_start,
    record_order_placed,
    record_signal_emitted,
    record_stage_error,
    record_stage_success,
    record_stages_success,
    record_veto,
    set_gating_flags,
)

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
