"""Loading the state dir: per-file status, shape checks, the staleness reference time."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from state_factory import NOW, Shape, build_state_dir, intel, iso

from dashboard.state import (
    DEFAULT_EXIT_SCAN_STALE_SECONDS,
    DEFAULT_REFRESH_SECONDS,
    DashboardState,
    Settings,
    age_seconds,
    load_dashboard_state,
    publish_age,
    reference_time,
    refresh_interval,
    settings_from_intel,
    shape_problems,
)
from execution.state_v7 import STATE_FILES


def test_a_complete_state_dir_reads_ok_everywhere(full_state_dir: Path) -> None:
    state = load_dashboard_state(full_state_dir, clock=lambda: 123.0)
    assert state.now == 123.0
    assert [f.status for f in state.files.values()] == ["ok"] * 5
    assert state.problems() == []
    assert state.diagnostics["veto_counters"]["total_vetoes"] > 0


def test_an_empty_dir_reports_every_file_missing_by_name(tmp_path: Path) -> None:
    state = load_dashboard_state(tmp_path)
    assert set(state.files) == set(STATE_FILES)
    assert all(f.status == "missing" for f in state.files.values())
    assert "intel.json: missing" in state.files["intel.json"].message()


def test_state_dir_falls_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    monkeypatch.setenv("V7_STATE_DIR", str(full_state_dir))
    assert load_dashboard_state().state_dir == str(full_state_dir)


@pytest.mark.parametrize(
    ("content", "status"),
    [
        ("", "empty"),
        ('{"schema_version": 1, "posi', "corrupt"),
        ("\x00garbage", "corrupt"),
        ("[1, 2]", "corrupt"),
    ],
)
def test_unreadable_files_are_classified(full_state_dir: Path, content: str, status: str) -> None:
    (full_state_dir / "positions_state.json").write_text(content)
    state = load_dashboard_state(full_state_dir)
    assert state.files["positions_state.json"].status == status
    assert state.positions_state == {}
    assert state.files["intel.json"].ok  # one bad file never hides the others


def test_valid_json_with_wrong_types_is_partial_and_names_the_key(full_state_dir: Path) -> None:
    (full_state_dir / "positions_state.json").write_text('{"schema_version": 1, "positions": "x"}')
    status = load_dashboard_state(full_state_dir).files["positions_state.json"]
    assert status.status == "partial"
    assert "'positions' should be a list, got str" in (status.error or "")


def test_shape_problems_cover_missing_keys_versions_and_diagnostic_sections() -> None:
    assert shape_problems("tp_sl_registry.json", {"schema_version": 1}) == ["'entries' is missing"]
    assert (
        "schema_version 2"
        in shape_problems("tp_sl_registry.json", {"schema_version": 2, "entries": {}})[0]
    )
    assert shape_problems("risk_snapshot.json", {"nav": True, "limits": {}}) == [
        "'nav' should be a number, got bool"
    ]
    bad = {"engine": {}, "runtime_diagnostics": {"heatmap": [1]}}
    assert shape_problems("intel.json", bad) == [
        "'runtime_diagnostics.heatmap' should be an object, got list"
    ]
    assert shape_problems("intel.json", intel(Shape())) == []


def test_replay_ages_are_measured_against_the_last_published_bar() -> None:
    replay = {"updated_ts": iso(NOW), "engine": {"mode": "replay"}}
    assert reference_time(replay, wall_now=NOW + 10**8) == NOW
    assert publish_age(replay, NOW + 10**8) is None


def test_live_ages_are_measured_against_the_wall_clock() -> None:
    live = {"updated_ts": iso(NOW), "engine": {"mode": "live"}}
    assert reference_time(live, wall_now=NOW + 60) == NOW + 60
    assert publish_age(live, NOW + 60) == 60
    assert reference_time({"engine": {"mode": "replay"}, "updated_ts": "garbage"}, 5.0) == 5.0


def test_age_is_never_negative_and_unknown_without_a_timestamp() -> None:
    assert age_seconds(iso(NOW), NOW - 10) == 0.0
    assert age_seconds(None, NOW) is None


def test_settings_come_from_engine_config_with_defaults_for_bad_values() -> None:
    config = {
        "exit_scan_stale_seconds": 60,
        "dashboard_refresh_seconds": 0,
        "tp_sl_underwater_threshold_pct": -0.05,
    }
    assert settings_from_intel({"engine": {"config": config}}) == Settings(60.0, 0.0, -0.05)
    bad = {
        "exit_scan_stale_seconds": -1,
        "dashboard_refresh_seconds": "3",
        "tp_sl_underwater_threshold_pct": 0.5,
    }
    assert settings_from_intel({"engine": {"config": bad}}) == Settings()
    assert settings_from_intel({}).exit_scan_stale_seconds == DEFAULT_EXIT_SCAN_STALE_SECONDS


def test_refresh_override_wins_and_zero_disables_auto_refresh() -> None:
    assert refresh_interval(None, Settings()) == DEFAULT_REFRESH_SECONDS
    assert refresh_interval(10.0, Settings()) == 10.0
    assert refresh_interval(0.0, Settings()) is None
    assert refresh_interval(None, Settings(refresh_seconds=0.0)) is None


def test_factory_state_round_trips_as_strict_json(tmp_path: Path) -> None:
    build_state_dir(tmp_path)
    for name in STATE_FILES:
        assert json.loads((tmp_path / name).read_text())["schema_version"] == 1


def test_a_fifo_and_a_symlink_loop_are_reported_corrupt_by_name_without_blocking(
    full_state_dir: Path,
) -> None:
    (full_state_dir / "intel.json").unlink()
    os.mkfifo(full_state_dir / "intel.json")  # a blocking open would wait for a writer forever
    loop = full_state_dir / "positions_state.json"
    loop.unlink()
    loop.symlink_to(loop.name)
    box: dict[str, DashboardState] = {}
    reader = threading.Thread(
        target=lambda: box.setdefault("state", load_dashboard_state(full_state_dir)), daemon=True
    )
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "load_dashboard_state blocked on a FIFO"
    files = box["state"].files
    assert files["intel.json"].status == "corrupt" and "FIFO" in files["intel.json"].message()
    assert files["positions_state.json"].status == "corrupt"
    assert "symlink loop" in files["positions_state.json"].message()
    assert files["tp_sl_registry.json"].ok, "one bad file hid the others"
