"""A state dir that holds the engine's files but no engine.db is refused, never written over.

engine.db deleted by hand (or a state dir restored from a backup of its JSON files, or one
written by a v7 that predates the store): the files still hold a position, its TP/SL and the
paper account. Before, `v7 run` started a fresh engine there with exit 0, and its first
publish overwrote positions_ledger.json, tp_sl_registry.json and paper_exchange.json with an
empty book: the last record of the position was gone.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from execution.state_v7 import PAPER_EXCHANGE_FILE, POSITIONS_LEDGER_FILE
from faults.helpers import HOLDING_BARS as BARS
from faults.helpers import digest, paced, run_v7


def _without_store(holding_state: Path, tmp_path: Path) -> Path:
    state = tmp_path / "state"
    subprocess.run(["cp", "-a", str(holding_state), str(state)], check=True)
    for db in state.glob("engine.db*"):
        db.unlink()
    return state


def _positions(state: Path) -> dict[str, object]:
    ledger = json.loads((state / POSITIONS_LEDGER_FILE).read_text())
    positions: dict[str, object] = ledger["positions"]
    return positions


@pytest.mark.parametrize("mode", [(), ("--fast", "--no-progress")], ids=["paced", "replay"])
def test_the_engines_files_without_their_store_are_refused_and_left_byte_identical(
    holding_state: Path, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    state = _without_store(holding_state, tmp_path)
    assert _positions(state), "premise: the files hold the position"
    before = digest(state)
    out = paced(state, BARS + 700, "--pace", "0") if not mode else _replay(state, mode)
    assert out.returncode == 2, out.stderr
    for word in ("engine.db", POSITIONS_LEDGER_FILE, "--fresh"):
        assert word in out.stderr, out.stderr
    assert digest(state) == before


def _replay(state: Path, mode: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return run_v7(["run", *mode, "--state-dir", str(state), "--max-bars", "700"])


def test_fresh_moves_the_storeless_files_into_a_backup_and_starts(
    holding_state: Path, tmp_path: Path
) -> None:
    state = _without_store(holding_state, tmp_path)
    held = _positions(state)
    out = paced(state, 70, "--pace", "0", "--fresh")
    assert out.returncode == 0, out.stderr
    (backup,) = state.glob("backup-*")
    assert _positions(backup) == held
    assert (backup / PAPER_EXCHANGE_FILE).exists()
