"""AppTest on the state dir of a real short replay: `v7 run --fast --max-bars 3000`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from apptest_helpers import assert_clean, metrics, run_app

ROOT = Path(__file__).resolve().parents[2]
V7 = ROOT / ".venv" / "bin" / "v7"


def engine_command(state_dir: Path) -> list[str]:
    base = [str(V7)] if V7.exists() else [sys.executable, "-m", "execution.cli"]
    return [*base, "run", "--fast", "--max-bars", "3000", "--state-dir", str(state_dir)]


@pytest.fixture(scope="module")
def engine_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state_dir = tmp_path_factory.mktemp("engine") / "state"
    done = subprocess.run(
        engine_command(state_dir), cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return state_dir


def test_the_dashboard_shows_what_a_short_replay_published(
    monkeypatch: pytest.MonkeyPatch, engine_state_dir: Path
) -> None:
    published = json.loads((engine_state_dir / "intel.json").read_text())
    counters = published["runtime_diagnostics"]["veto_counters"]
    exits = published["runtime_diagnostics"]["exit_pipeline"]
    at = run_app(monkeypatch, engine_state_dir)
    assert_clean(at)
    assert not at.warning or all("State file" not in w.value for w in at.warning)
    assert [h.value for h in at.header] == ["Risk Diagnostics"]
    shown = metrics(at)
    assert shown["Signals"] == f"{counters['total_signals']:,}"
    assert shown["Vetoes"] == f"{counters['total_vetoes']:,}"
    assert shown["Open positions"] == str(exits["open_positions_count"])
    since_start = at.table[-1].value
    assert dict(zip(since_start["Reason"], since_start["Count"], strict=True)) == {
        reason: n for reason, n in counters["by_reason"].items() if n
    }
    assert len(at.get("vega_lite_chart")) >= 2  # the two veto heatmaps, plus the trades panel's
    assert any(
        str(e.value).startswith("**Trading: ") for e in [*at.success, *at.warning, *at.error]
    )
