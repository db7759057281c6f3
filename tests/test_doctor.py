"""`v7 doctor` on hand-made state dirs: one finding per scenario, exit codes, JSON shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import doctor_state_factory as f
import pytest

from doctor.cli import main, run_doctor
from doctor.model import reference_now

Mutator = Callable[[f.State], None]


def doctor_json(state_dir: Path, **kw: Any) -> tuple[int, dict[str, Any]]:
    code, text = run_doctor(state_dir, as_json=True, config_path=kw.pop("config", None), **kw)
    return code, json.loads(text)


def finding(report: dict[str, Any], check: str) -> dict[str, Any]:
    return next(x for x in report["findings"] if x["check"] == check)


def not_ok(report: dict[str, Any]) -> dict[str, str]:
    return {x["check"]: x["status"] for x in report["findings"] if x["status"] != "ok"}


def test_healthy_state_dir_is_all_ok_and_exits_0(tmp_path: Path) -> None:
    code, report = doctor_json(f.make_state(tmp_path))
    assert not_ok(report) == {}
    assert code == 0 and report["status"] == "ok"


@pytest.mark.parametrize(
    ("mutator", "check", "status"),
    [
        (f.underwater_without_tp_sl, "underwater_without_tp_sl", "critical"),
        (f.stale_exit_scanner, "exit_scanner", "critical"),
        (f.dominant_max_concurrent, "dominant_veto", "warn"),
        (f.blocked_by_caps, "blocked_by_caps", "warn"),
        (f.missing_tp_sl_above_water, "tp_sl_coverage", "warn"),
        (f.stage_failing, "stage_errors", "critical"),
        (f.stage_recovered, "stage_errors", "warn"),
        (f.zero_mark_price, "prices", "critical"),
        (f.ledger_missing_position, "ledger_consistency", "critical"),
        (f.risk_defensive, "risk_mode", "warn"),
        (f.dd_panic, "risk_mode", "critical"),
        (f.no_signals_for_two_hours, "no_signals", "warn"),
        (f.no_orders_for_a_day, "no_orders", "warn"),
        (f.unaccounted_signals, "accounting", "warn"),
    ],
)
def test_each_finding_is_reported_with_its_status(
    tmp_path: Path, mutator: Mutator, check: str, status: str
) -> None:
    code, report = doctor_json(f.make_state(tmp_path, mutator))
    got = finding(report, check)
    assert got["status"] == status, got
    assert got["hint"], "a finding that is not ok carries a recovery hint"
    assert got["evidence"], "a finding that is not ok carries its evidence"
    assert code == {"warn": 1, "critical": 2}[report["status"]]


def test_underwater_position_without_tp_sl_exits_2_and_names_it(tmp_path: Path) -> None:
    code, report = doctor_json(f.make_state(tmp_path, f.underwater_without_tp_sl))
    got = finding(report, "underwater_without_tp_sl")
    assert code == 2
    assert [p["symbol"] for p in got["evidence"]["positions"]] == ["SOLUSDT"]
    assert got["evidence"]["positions"][0]["unrealized_pnl_pct"] == pytest.approx(-0.05)
    assert "--sync-registry" in got["hint"]


def test_stale_exit_scanner_with_open_positions_exits_2_with_its_age(tmp_path: Path) -> None:
    code, report = doctor_json(f.make_state(tmp_path, f.stale_exit_scanner))
    got = finding(report, "exit_scanner")
    assert code == 2
    assert got["evidence"]["age_seconds"] == 3600
    assert got["evidence"]["open_positions"] == 2


def test_stale_exit_scanner_without_positions_is_fine(tmp_path: Path) -> None:
    def flat(state: f.State) -> None:
        state["positions_state.json"]["positions"] = []
        state["positions_ledger.json"]["positions"] = {}
        state["intel.json"]["runtime_diagnostics"]["exit_pipeline"]["open_positions_count"] = 0

    code, report = doctor_json(f.make_state(tmp_path, flat, f.stale_exit_scanner))
    assert finding(report, "exit_scanner")["status"] == "ok"
    assert code == 0


def test_dominant_max_concurrent_exits_1_with_reason_and_share(tmp_path: Path) -> None:
    code, report = doctor_json(f.make_state(tmp_path, f.dominant_max_concurrent))
    got = finding(report, "dominant_veto")
    assert code == 1
    assert got["evidence"]["reason"] == "max_concurrent"
    assert got["evidence"]["share_vetoed"] == pytest.approx(0.96)
    assert got["evidence"]["first_failing"] == 48
    assert "max_concurrent" in got["hint"]


def test_corrupt_file_is_reported_not_raised(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path)
    f.corrupt(state_dir, "positions_state.json")
    code, report = doctor_json(state_dir)
    got = finding(report, "state_files")
    assert got["status"] == "critical"
    assert got["evidence"]["positions_state.json"]["status"] == "corrupt"
    assert code == 2


@pytest.mark.parametrize("name", f.healthy_state().keys())
@pytest.mark.parametrize("text", ["", "[1, 2]", "{not json", "\x00\xff"])
def test_any_unreadable_file_gives_a_report(tmp_path: Path, name: str, text: str) -> None:
    state_dir = f.make_state(tmp_path)
    f.corrupt(state_dir, name, text)
    code, report = doctor_json(state_dir)
    assert code == 2 and finding(report, "state_files")["status"] == "critical"
    assert len(report["findings"]) > 1, "the other files are still checked"


def test_wrong_types_inside_a_file_never_crash_a_check(tmp_path: Path) -> None:
    def garbage(state: f.State) -> None:
        state["intel.json"]["runtime_diagnostics"]["window"] = "nope"
        state["intel.json"]["runtime_diagnostics"]["liveness"] = {"stages": {"risk": 3}}
        state["positions_state.json"]["positions"] = [None, {"symbol": "X", "mark_price": "a"}]
        state["positions_ledger.json"]["positions"] = ["BTCUSDT"]
        state["tp_sl_registry.json"]["entries"] = None

    code, report = doctor_json(f.make_state(tmp_path, garbage))
    assert code == 2
    state_dir = f.make_state(tmp_path / "nan")
    text = (state_dir / "positions_state.json").read_text().replace("60300.0", "NaN")
    (state_dir / "positions_state.json").write_text(text)
    code, report = doctor_json(state_dir)  # strict JSON out, even from NaN in
    assert finding(report, "prices")["status"] == "critical" and code == 2
    assert all("check failed" not in x["summary"] for x in report["findings"])


def test_empty_or_missing_state_dir_is_critical_no_state(tmp_path: Path) -> None:
    for state_dir in (tmp_path, tmp_path / "does-not-exist"):
        code, report = doctor_json(state_dir)
        assert code == 2
        assert [x["summary"] for x in report["findings"]] == ["no state: has the engine run?"]


def test_json_report_shape(tmp_path: Path) -> None:
    _, report = doctor_json(f.make_state(tmp_path, f.dominant_max_concurrent))
    assert set(report) == {
        "verdict", "status", "exit_code", "state_dir", "now", "now_source", "settings", "counts",
        "findings",
    }  # fmt: skip
    assert set(report["verdict"]) == {"trading", "protection", "severity"}
    assert report["verdict"]["trading"]["status"] == "slowed"
    assert report["verdict"]["trading"]["reason"] == "max_concurrent"
    assert report["now"] == f.T and report["now_source"].startswith("replay")
    assert report["counts"] == {"ok": len(report["findings"]) - 1, "warn": 1, "critical": 0}
    for x in report["findings"]:
        assert set(x) == {"check", "status", "summary", "evidence", "hint"}
        assert x["status"] in ("ok", "warn", "critical")
    assert report["settings"]["dominant_veto_share"] == 0.8


def test_table_lists_every_check_and_details_what_is_not_ok(tmp_path: Path) -> None:
    code, text = run_doctor(
        f.make_state(tmp_path, f.stale_exit_scanner), as_json=False, config_path=None
    )
    assert code == 2
    assert "CRITICAL  exit_scanner" in text
    assert "age_seconds: 3600" in text and "-> TP/SL are not being checked" in text
    assert text.rstrip().endswith("(exit 2)")


def test_live_mode_measures_ages_against_the_wall_clock(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, f.live_engine_hung)
    code, report = doctor_json(state_dir, wall=f.T_EPOCH + 7200)
    assert finding(report, "engine")["status"] == "critical"
    assert finding(report, "exit_scanner")["evidence"]["age_seconds"] == 7200
    assert code == 2
    code, report = doctor_json(state_dir, wall=f.T_EPOCH + 10)
    assert code == 0, not_ok(report)


def test_a_stopped_live_engine_is_critical_only_with_positions_open(tmp_path: Path) -> None:
    def stopped(state: f.State) -> None:
        state["intel.json"]["engine"].update(mode="live", running=False)

    _, report = doctor_json(f.make_state(tmp_path / "a", stopped), wall=f.T_EPOCH + 10)
    assert finding(report, "engine")["status"] == "critical"
    assert "2 open position(s)" in finding(report, "engine")["summary"]
    assert report["verdict"]["protection"]["status"] == "unprotected"
    assert report["verdict"]["protection"]["severity"] == "critical"

    def flat(state: f.State) -> None:
        state["positions_state.json"]["positions"] = []
        state["positions_ledger.json"]["positions"] = {}
        state["intel.json"]["runtime_diagnostics"]["exit_pipeline"]["open_positions_count"] = 0

    _, report = doctor_json(f.make_state(tmp_path / "b", stopped, flat), wall=f.T_EPOCH + 10)
    assert finding(report, "engine")["status"] == "ok"
    assert report["verdict"]["trading"]["status"] == "engine_down"
    assert report["verdict"]["protection"]["status"] == "protected"


def test_reference_now_is_bar_time_in_replay_and_wall_clock_otherwise() -> None:
    intel = {"updated_ts": f.T, "engine": {"mode": "replay"}}
    assert reference_now(intel, 5.0)[0] == f.T_EPOCH
    assert reference_now({**intel, "engine": {"mode": "live"}}, 5.0)[0] == 5.0
    assert reference_now({"engine": {"mode": "replay"}}, 5.0)[0] == 5.0


def test_config_file_thresholds_override_the_published_ones(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path / "s", f.no_signals_for_two_hours)
    config = json.loads(Path("config/strategy_config.json").read_text())
    config["doctor"] = {"no_signal_seconds": 10800}
    (tmp_path / "c.json").write_text(json.dumps(config))
    assert doctor_json(state_dir)[0] == 1
    code, report = doctor_json(state_dir, config=str(tmp_path / "c.json"))
    assert code == 0 and report["settings"]["no_signal_seconds"] == 10800


def test_cli_exit_codes_and_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = str(f.make_state(tmp_path, f.dominant_max_concurrent))
    assert main(["--state-dir", state_dir]) == 1
    assert "WARN      dominant_veto" in capsys.readouterr().out
    assert main(["--state-dir", state_dir, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["exit_code"] == 1
    (tmp_path / "bad.json").write_text('{"doctor": {"no_such_key": 1}}')
    assert main(["--state-dir", state_dir, "--config", str(tmp_path / "bad.json")]) == 2
    assert "v7 doctor:" in capsys.readouterr().err
    assert main(["--state-dir", state_dir, "--apply"]) == 2


def _v7() -> list[str]:
    script = Path(sys.executable).with_name("v7")
    return [str(script)] if script.exists() else [sys.executable, "-m", "execution.cli"]


def test_doctor_on_a_fifo_and_a_symlink_loop_exits_2_naming_both_files(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path / "state")
    (state_dir / "intel.json").unlink()
    os.mkfifo(state_dir / "intel.json")  # a blocking reader would wait for a writer forever
    (state_dir / "positions_state.json").unlink()
    (state_dir / "positions_state.json").symlink_to("positions_state.json")
    out = subprocess.run(
        [*_v7(), "doctor", "--state-dir", str(state_dir), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    files = finding(json.loads(out.stdout), "state_files")
    assert files["status"] == "critical"
    assert "intel.json" in files["summary"] and "positions_state.json" in files["summary"]
    assert "FIFO" in files["evidence"]["intel.json"]["error"]
    assert "symlink loop" in files["evidence"]["positions_state.json"]["error"]


NOT_PROTECTION = [float("nan"), float("inf"), "n/a", None, "missing"]


def _bad_level(value: object, level: str = "sl_price") -> Mutator:
    def mutate(state: f.State) -> None:
        entry = state["tp_sl_registry.json"]["entries"]["BTCUSDT"]
        if value == "missing":
            del entry[level]
        else:
            entry[level] = value

    return mutate


def _btc_underwater(state: f.State) -> None:
    for pos in state["positions_state.json"]["positions"]:
        if pos["symbol"] == "BTCUSDT":  # a long at 60000
            pos["mark_price"], pos["unrealized_pnl_pct"] = 58000.0, -0.0333


@pytest.mark.parametrize("value", NOT_PROTECTION, ids=str)
def test_a_registry_entry_whose_level_is_not_a_price_is_no_protection(
    tmp_path: Path, value: object
) -> None:
    code, report = doctor_json(f.make_state(tmp_path, _bad_level(value), _btc_underwater))
    coverage = finding(report, "tp_sl_coverage")
    assert coverage["status"] == "warn" and coverage["evidence"]["missing"] == ["BTCUSDT"]
    underwater = finding(report, "underwater_without_tp_sl")
    assert underwater["status"] == "critical" and "BTCUSDT" in underwater["summary"]
    assert code == 2
