"""`v7 run` in real time stops cleanly on Ctrl-C / SIGTERM: exit 0, state flushed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from execution.store import read_memory


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_realtime_run_stops_cleanly_and_flushes_state(tmp_path: Path, sig: int) -> None:
    cmd = [sys.executable, "-m", "execution.cli", "run", "--state-dir", str(tmp_path),
           "--pace", "0.01"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    intel = tmp_path / "intel.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not intel.exists():
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "v7 run summary" in out
    state = json.loads(intel.read_text())
    assert state["engine"]["running"] is False
    assert state["engine"]["mode"] == "realtime"
    assert state["engine"]["bars_processed"] > 0
    memory = read_memory(tmp_path)  # the engine's memory outlives the stop: nothing to resume lost
    assert memory is not None
    assert memory.progress["bars_processed"] == state["engine"]["bars_processed"]
    assert memory.identity["mode"] == "realtime"


# A plug-in strategy that breaks inside the loop: a replay stops on it (strict), the run ends.
BREAKING_STRATEGY = """
class Breaks:
    name = "breaks"

    def __init__(self, cfg):
        self.bars = 0

    def on_bar(self, bar):
        self.bars += 1
        if self.bars > 10:
            raise RuntimeError("the strategy broke on its 11th bar")
        return None

    def state(self):
        return {"bars": self.bars}

    def load_state(self, state):
        self.bars = state["bars"]
"""


def test_a_runtime_failure_is_exit_1_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "breaks.py").write_text(BREAKING_STRATEGY)
    cfg = json.loads(Path("examples/donchian_breakout.json").read_text())
    cfg["strategy"] = {"name": "breaks:Breaks", "notional_nav_pct": 0.05, "params": {}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    cmd = [sys.executable, "-m", "execution.cli", "run", "--fast", "--max-bars", "50",
           "--config", str(tmp_path / "config.json"), "--state-dir", str(tmp_path / "state"),
           "--no-progress"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    assert "runtime failure" in out.stderr
    assert "the strategy broke on its 11th bar" in out.stderr
    assert "Traceback" not in out.stderr
