"""What diagnostics guarantee: the accounting identity, every time from the engine clock, the
disabled path a no-op, exact totals under eight threads."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from diagnostics_kit import T0, FakeClock, signal_ordered, signal_vetoed, use

from execution import diagnostics_metrics as dm
from execution.clock import to_iso
from execution.diagnostics_metrics import (
    ExitPipelineStatus,
    VetoCounters,
    build_runtime_diagnostics_snapshot,
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
