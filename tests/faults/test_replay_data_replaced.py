"""An unfinished CSV replay resumes only over the data it began with.

Its identity was the data's path and --max-bars: a CSV replaced or edited under the same path
between a stop and the rerun resumed silently, mixing the first data's trades with the second's
in one journal. The data's digest is now part of the identity, so such a rerun is refused
(exit 2, the state dir byte-identical) and the original data resumes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from csv_kit import csv_dir

from execution.cli import main
from execution.cli import run as cli_run
from execution.clock import ReplayClock
from execution.config import load_config
from execution.run.runner import EngineRunner, RunOptions
from execution.store import read_memory
from faults.helpers import REPO, digest

CONFIG = REPO / "config" / "strategy_config.json"
BARS = 3_000


def _stopped_replay(data: Path, state: Path, loops: int) -> None:
    """Replay ``data`` as `v7 run --data` does, stopped after ``loops`` loops (as by a signal)."""
    args = argparse.Namespace(data=str(data), seed=None, max_bars=None)
    cfg, bars, rejects, source = cli_run._load_replay_data(load_config(CONFIG), args)
    clock = ReplayClock(bars.first_ts)
    runner = EngineRunner(cfg, RunOptions("replay", source, None, False), state, clock,
                          cli_run.paper_exchange_factory(cfg, clock), rejects)  # fmt: skip
    step, done = runner.executor.step, 0

    def counting(group: Any) -> None:
        nonlocal done
        step(group)
        done += 1
        runner.stop_requested = done >= loops

    runner.executor.step = counting  # type: ignore[method-assign]
    runner.run_replay(bars)
    runner.finish()


def _rerun(data: Path, state: Path) -> int:
    return main(["run", "--data", str(data), "--config", str(CONFIG), "--state-dir", str(state),
                 "--no-progress", "--json-summary"])  # fmt: skip


def test_an_unfinished_replay_rerun_over_edited_data_is_refused_and_resumes_over_its_own(
    tmp_path: Path, capsys: Any
) -> None:
    data, state = csv_dir(tmp_path, BARS), tmp_path / "state"
    _stopped_replay(data, state, 500)
    memory = read_memory(state)
    assert memory is not None and memory.progress["completed"] is False, "premise: unfinished"
    csv = data / "BTCUSDT.csv"
    original = csv.read_text()
    # One close changed in the middle of the file, its length kept.
    csv.write_text(
        original.replace("\n1704157200,104,105,103,104.5,", "\n1704157200,104,105,103,104.6,")
    )
    assert csv.read_text() != original and len(csv.read_text()) == len(original)
    before = digest(state)
    assert _rerun(data, state) == 2
    err = capsys.readouterr().err
    assert "engine.db" in err and "csv:" in err and "--fresh" in err, err
    assert digest(state) == before
    csv.write_text(original)
    assert _rerun(data, state) == 0, capsys.readouterr().err
    finished = read_memory(state)
    assert finished is not None and finished.progress["completed"] is True
    assert finished.progress["bars_processed"] == BARS
