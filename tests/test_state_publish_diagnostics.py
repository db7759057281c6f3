"""State publishing of runtime diagnostics (spec §8.3, §5): the block, intel.json, the loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from execution import state_publish
from execution.diagnostics_metrics import (
    DiagnosticsSettings,
    configure,
    record_exit_scan_run,
    record_exit_trigger,
    record_order_placed,
    record_risk_passed,
    record_signal_emitted,
    record_stage_success,
    record_veto,
    set_gating_flags,
    update_exit_pipeline_status,
)
from execution.state_publish import compute_and_write_intel_state, write_runtime_diagnostics_state
from execution.state_v7 import INTEL_FILE, STATE_DIR_ENV, load_runtime_diagnostics_state

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
ISO0 = "2024-01-01T00:00:00Z"

VETO_COUNTER_KEYS = [
    "by_reason",
    "total_signals",
    "total_orders",
    "total_vetoes",
    "last_signal_ts",
    "last_order_ts",
    "last_veto_ts",
]
EXIT_PIPELINE_KEYS = [
    "last_exit_scan_ts",
    "last_exit_trigger_ts",
    "open_positions_count",
    "tp_sl_registered_count",
    "tp_sl_missing_count",
    "underwater_without_tp_sl_count",
    "liquidation_before_stop_count",  # the engine's: liquidation comes before the stop
]
ENGINE = {"mode": "replay", "running": True, "pid": 1, "symbols": ["BTCUSDT", "ETHUSDT"]}
BAD_BARS = {"total": 1, "by_symbol": {"BTCUSDT": {"nan": 1}}}


@pytest.fixture
def synthetic_updates() -> None:
    """Some activity on the engine clock: 3 signals (2 vetoed, 1 ordered), one exit."""
    configure(DiagnosticsSettings(), clock=lambda: T0)
    for symbol, reason in (("BTCUSDT", "max_concurrent"), ("ETHUSDT", "symbol_cap")):
        record_signal_emitted(symbol)
        record_veto(reason, symbol)
    record_signal_emitted("BTCUSDT")
    record_risk_passed("BTCUSDT")
    record_order_placed("entry", "BTCUSDT")
    record_exit_scan_run()
    record_exit_trigger("tp", "ETHUSDT")
    record_order_placed("exit", "ETHUSDT")
    update_exit_pipeline_status(3, 2, 1, 1)
    record_stage_success("screener")
    set_gating_flags({"BTCUSDT": ["max_concurrent"], "ETHUSDT": []})


def test_write_runtime_diagnostics_state_adds_the_spec_block(synthetic_updates: None) -> None:
    state: dict[str, Any] = {"unrelated": 1}
    write_runtime_diagnostics_state(state)

    assert "runtime_diagnostics" in state
    assert "veto_counters" in state["runtime_diagnostics"]
    assert "exit_pipeline" in state["runtime_diagnostics"]
    assert state["unrelated"] == 1
    rd = state["runtime_diagnostics"]
    assert list(rd["veto_counters"]) == VETO_COUNTER_KEYS
    assert list(rd["exit_pipeline"]) == EXIT_PIPELINE_KEYS
    assert rd["veto_counters"] == {
        "by_reason": {"max_concurrent": 1, "symbol_cap": 1},
        "total_signals": 3,
        "total_orders": 2,
        "total_vetoes": 2,
        "last_signal_ts": ISO0,
        "last_order_ts": ISO0,
        "last_veto_ts": ISO0,
    }
    assert rd["exit_pipeline"] == {
        "last_exit_scan_ts": ISO0,
        "last_exit_trigger_ts": ISO0,
        "open_positions_count": 3,
        "tp_sl_registered_count": 2,
        "tp_sl_missing_count": 1,
        "underwater_without_tp_sl_count": 1,
        "liquidation_before_stop_count": 0,
    }


def test_the_block_carries_the_veto_causes_in_the_shape_the_verdict_reads() -> None:
    configure(DiagnosticsSettings(), clock=lambda: T0)
    record_signal_emitted("BTCUSDT")
    record_veto("per_trade_nav_pct", "BTCUSDT", ["portfolio_dd_circuit"])
    record_signal_emitted("ETHUSDT")
    record_veto("portfolio_dd_circuit", "ETHUSDT")
    state: dict[str, Any] = {}
    write_runtime_diagnostics_state(state)

    assert state["runtime_diagnostics"]["veto_causes"] == {
        "all_failing": {
            "per_trade_nav_pct": {"BTCUSDT": 1},
            "portfolio_dd_circuit": {"BTCUSDT": 1, "ETHUSDT": 1},
        },
        "sole": {"portfolio_dd_circuit": {"ETHUSDT": 1}},
        "window": {
            "all_failing": {"per_trade_nav_pct": 1, "portfolio_dd_circuit": 2},
            "sole": {"portfolio_dd_circuit": 1},
            "vetoed": 2,
        },
    }
    assert state["runtime_diagnostics"]["veto_counters"]["by_reason"] == {
        "per_trade_nav_pct": 1,
        "portfolio_dd_circuit": 1,
    }


def test_the_block_carries_window_heatmap_liveness_and_accounting(synthetic_updates: None) -> None:
    state: dict[str, Any] = {}
    write_runtime_diagnostics_state(state)
    rd = state["runtime_diagnostics"]

    assert set(rd) == {
        "enabled",
        "veto_counters",
        "exit_pipeline",
        "window",
        "heatmap",
        "liveness",
        "accounting",
        "exit_triggers_by_kind",
        "veto_causes",
        "veto_timeline",
        "veto_observed",
    }
    assert rd["enabled"] is True
    assert rd["window"] == {
        "window_signals": 500,
        "window_seconds": 3600.0,
        "signals": 3,
        "vetoes": 2,
        "orders": 1,
        "order_failures": 0,
        "by_reason": {"max_concurrent": 1, "symbol_cap": 1},
    }
    assert rd["heatmap"]["by_reason_symbol"] == {
        "max_concurrent": {"BTCUSDT": 1},
        "symbol_cap": {"ETHUSDT": 1},
    }
    assert rd["heatmap"]["by_reason_time"] == {
        "max_concurrent": {ISO0: 1},
        "symbol_cap": {ISO0: 1},
    }
    assert rd["liveness"]["stages"]["screener"]["last_success_ts"] == ISO0
    assert rd["liveness"]["gating"] == {"BTCUSDT": ["max_concurrent"], "ETHUSDT": []}
    acc = rd["accounting"]
    assert (acc["total_signals"], acc["total_vetoes"], acc["entry_orders"]) == (3, 2, 1)
    assert (acc["in_flight"], acc["unaccounted"], acc["identity_ok"]) == (0, 0, True)
    assert acc["orders_by_kind"] == {"entry": 1, "exit": 1}
    assert rd["exit_triggers_by_kind"] == {"tp": 1}


def test_the_block_is_a_copy_and_json_ready(synthetic_updates: None) -> None:
    state: dict[str, Any] = {}
    write_runtime_diagnostics_state(state)
    state["runtime_diagnostics"]["veto_counters"]["by_reason"]["max_concurrent"] = 1000
    state["runtime_diagnostics"]["liveness"]["gating"]["BTCUSDT"].append("mutated")

    again: dict[str, Any] = {}
    write_runtime_diagnostics_state(again)
    rd = again["runtime_diagnostics"]
    assert rd["veto_counters"]["by_reason"]["max_concurrent"] == 1
    assert rd["liveness"]["gating"]["BTCUSDT"] == ["max_concurrent"]
    assert json.loads(json.dumps(rd, allow_nan=False)) == rd


def test_disabled_diagnostics_publish_only_enabled_false() -> None:
    configure(DiagnosticsSettings(enabled=False), clock=lambda: T0)
    record_signal_emitted("BTCUSDT")
    record_veto("max_concurrent", "BTCUSDT")
    state: dict[str, Any] = {}
    write_runtime_diagnostics_state(state)
    assert state == {"runtime_diagnostics": {"enabled": False}}


def test_compute_and_write_intel_state_round_trips_through_the_loader(
    synthetic_updates: None, tmp_path: Path
) -> None:
    written = compute_and_write_intel_state(ENGINE, BAD_BARS, T0, tmp_path)

    on_disk = json.loads((tmp_path / INTEL_FILE).read_text())
    assert on_disk == written
    assert on_disk["schema_version"] == 1
    assert on_disk["updated_ts"] == ISO0
    assert on_disk["engine"] == ENGINE
    assert on_disk["bad_bars"] == BAD_BARS
    loaded = load_runtime_diagnostics_state(tmp_path)
    assert loaded == written["runtime_diagnostics"]
    assert list(loaded["veto_counters"]) == VETO_COUNTER_KEYS
    assert list(loaded["exit_pipeline"]) == EXIT_PIPELINE_KEYS
    assert loaded["veto_counters"]["total_signals"] == 3
    assert loaded["exit_pipeline"]["underwater_without_tp_sl_count"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [INTEL_FILE]  # atomic: no temp file left


def test_a_new_publish_replaces_the_previous_block(synthetic_updates: None, tmp_path: Path) -> None:
    compute_and_write_intel_state(ENGINE, BAD_BARS, T0, tmp_path)
    record_veto("var_limit", "BTCUSDT")
    compute_and_write_intel_state(ENGINE, BAD_BARS, T0 + 60, tmp_path)
    loaded = load_runtime_diagnostics_state(tmp_path)
    assert loaded["veto_counters"]["by_reason"]["var_limit"] == 1
    assert loaded["veto_counters"]["total_vetoes"] == 3


@pytest.mark.parametrize(
    "content",
    [
        None,  # missing
        "",  # empty
        "{not json",  # corrupt
        '{"schema_version": 1, "updat',  # truncated
        "[1, 2, 3]",  # not an object
        '{"schema_version": 1}',  # no block
        '{"runtime_diagnostics": [1]}',  # block of the wrong type
        '{"runtime_diagnostics": null}',
    ],
    ids=["missing", "empty", "corrupt", "truncated", "list", "no-block", "block-list", "null"],
)
def test_the_loader_returns_empty_for_unreadable_state(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / INTEL_FILE).write_text(content)
    assert load_runtime_diagnostics_state(tmp_path) == {}


def test_the_loader_returns_empty_for_undecodable_bytes(tmp_path: Path) -> None:
    (tmp_path / INTEL_FILE).write_bytes(b"\xff\xfe\x00garbage")
    assert load_runtime_diagnostics_state(tmp_path) == {}


def test_the_loader_returns_empty_when_the_state_dir_does_not_exist(tmp_path: Path) -> None:
    assert load_runtime_diagnostics_state(tmp_path / "nowhere") == {}


def test_v7_state_dir_is_honoured_by_writer_and_loader(
    synthetic_updates: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = tmp_path / "from-env"
    env_dir.mkdir()
    monkeypatch.setenv(STATE_DIR_ENV, str(env_dir))
    monkeypatch.chdir(tmp_path)  # the default logs/state must not be used

    compute_and_write_intel_state(ENGINE, BAD_BARS, T0)

    assert (env_dir / INTEL_FILE).exists()
    assert not (tmp_path / "logs").exists()
    loaded = load_runtime_diagnostics_state()
    assert loaded["veto_counters"]["total_signals"] == 3
    # An explicit state dir wins over the environment.
    other = tmp_path / "explicit"
    other.mkdir()
    assert load_runtime_diagnostics_state(other) == {}


def test_without_v7_state_dir_the_default_is_logs_state(
    synthetic_updates: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs" / "state").mkdir(parents=True)
    compute_and_write_intel_state(ENGINE, BAD_BARS, T0)
    assert (tmp_path / state_publish.INTEL_STATE_PATH).exists()
    assert load_runtime_diagnostics_state()["veto_counters"]["total_vetoes"] == 2
