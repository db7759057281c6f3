"""`v7 doctor` on the state a real replay leaves behind (the engine, end to end)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.cli import run_doctor
from doctor.sync import sync_registry

ROOT = Path(__file__).resolve().parents[1]


def v7(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("v7", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "execution.cli"]
    return subprocess.run(
        [*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture(scope="module")
def replay_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state_dir = tmp_path_factory.mktemp("replay") / "state"
    run = v7("run", "--fast", "--max-bars", "3000", "--no-progress", "--state-dir", str(state_dir))
    assert run.returncode == 0, run.stderr
    return state_dir


def test_healthy_replay_state_passes_every_check(replay_state: Path) -> None:
    code, text = run_doctor(replay_state, as_json=True, config_path=None)
    report = json.loads(text)
    problems = [f for f in report["findings"] if f["status"] != "ok"]
    assert problems == [] and code == 0
    assert report["now_source"].startswith("replay")


def test_v7_doctor_command_on_the_replay(replay_state: Path) -> None:
    table = v7("doctor", "--state-dir", str(replay_state))
    assert table.returncode == 0, table.stdout + table.stderr
    assert "OK        exit_scanner" in table.stdout
    as_json = v7("doctor", "--state-dir", str(replay_state), "--json")
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    assert json.loads(as_json.stdout)["exit_code"] == 0


def test_sync_restores_a_dropped_registry_entry_of_a_replay(
    replay_state: Path, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    shutil.copytree(replay_state, state_dir)
    registry_path = state_dir / "tp_sl_registry.json"
    registry = json.loads(registry_path.read_text())
    assert registry["entries"], "the replay ends with open, protected positions"
    dropped = sorted(registry["entries"])[0]
    del registry["entries"][dropped]
    registry_path.write_text(json.dumps(registry))
    assert run_doctor(state_dir, as_json=False, config_path=None)[0] >= 1

    report = sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=0.0)
    assert report.applied and [e["symbol"] for e in report.planned] == [dropped]
    entry = json.loads(registry_path.read_text())["entries"][dropped]
    assert entry["source"] == "sync" and entry["tp_price"] > 0 and entry["sl_price"] > 0
