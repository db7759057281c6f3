"""An unfinished replay resumed with another universe is refused, not resumed at the wrong bar.

A replay resumes at a bar count over the merged bars of its universe. With a symbol removed,
the same count lands hours later in the data (the bars of six symbols, not seven), and a
position held in the removed symbol never saw a bar again: the start said "its exits are
managed", the replay ran to its end and left the position open with its TP/SL untouched.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from execution.store import StoreError, read_memory
from faults.helpers import (
    REPO,
    digest,
    frequent_publish_config,
    run_v7,
    v7_command,
)


def _replay(cfg: Path, state: Path) -> list[str]:
    # No --max-bars: a default replay is 50,000 bars per symbol, so its data source reads the
    # same whatever the universe's size (with --max-bars N it would differ and be refused).
    return ["run", "--fast", "--config", str(cfg), "--state-dir", str(state), "--no-progress",
            "--json-summary"]  # fmt: skip


def _committed_bars(state: Path) -> int:
    try:
        memory = read_memory(state)
    except StoreError:  # not created yet
        return 0
    return 0 if memory is None else int(memory.progress["bars_processed"])


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, state dir) of a replay stopped by SIGTERM after its first commits."""
    root = tmp_path_factory.mktemp("replay")
    cfg = frequent_publish_config(root / "config.json", every_bars=500)
    state = root / "state"
    proc = subprocess.Popen(
        [*v7_command(), *_replay(cfg, state)], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while _committed_bars(state) < 2_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # interrupted, resumable
    return cfg, state


def _edited(cfg: Path, path: Path, edit: str) -> Path:
    doc = json.loads(cfg.read_text())
    universe = doc["universe"]
    doc["universe"] = universe[1:] if edit == "removed" else list(reversed(universe))
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("edit", ["removed", "reordered"])
def test_an_unfinished_replay_resumed_with_another_universe_is_refused(
    interrupted: tuple[Path, Path], tmp_path: Path, edit: str
) -> None:
    cfg, original = interrupted
    state = tmp_path / "state"
    subprocess.run(["cp", "-a", str(original), str(state)], check=True)
    before = digest(state)
    out = run_v7(_replay(_edited(cfg, tmp_path / "edited.json", edit), state))
    assert out.returncode == 2, out.stderr
    assert "engine.db" in out.stderr and "universe" in out.stderr, out.stderr
    assert digest(state) == before
    # The universe it began with resumes it.
    again = run_v7(_replay(cfg, state))
    assert again.returncode == 0, again.stderr
