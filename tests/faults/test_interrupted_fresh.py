"""`v7 run --fresh` killed while it moves the memory aside: nothing is split, nothing is lost.

The engine's last commits live in engine.db-wal until a checkpoint, so engine.db moved without
its WAL is an older memory. A kill between the two renames must leave one backup-to-be that the
next `--fresh` completes, and a plain run must refuse, naming it, with the state dir untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from doctor.cli import run_doctor
from execution.state_v7 import PAPER_EXCHANGE_FILE, STATE_FILES
from execution.store import read_memory
from faults.helpers import REPO, digest, paced

COMMITS = 6
VIEWS = (*STATE_FILES, PAPER_EXCHANGE_FILE)
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join((str(REPO), str(REPO / "tests"))))

# An engine that commits COMMITS loops (each with a fill) and is then killed: the commits are in
# engine.db-wal only (no checkpoint ran), the views beside them.
_KILLED_ENGINE = f"""
import os, signal, sys
from pathlib import Path
from execution.store import EngineLock, Store
from store.helpers import loop_batch, memory_at
state = Path(sys.argv[1])
lock = EngineLock(state).acquire()
store = Store.open(state, durable=True)
for n in range(1, {COMMITS} + 1):
    store.commit(memory_at(n), loop_batch(n))
for name in {VIEWS!r}:
    (state / name).write_text('{{"view": "' + name + '"}}')
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_engine(state: Path) -> None:
    state.mkdir(parents=True)
    out = subprocess.run(
        [sys.executable, "-c", _KILLED_ENGINE, str(state)], env=ENV, cwd=REPO, timeout=60
    )
    assert out.returncode == -signal.SIGKILL


def _committed(state: Path, scratch: Path) -> int | None:
    """The bars_processed of the memory in ``state``, read from a copy (reading may tidy up)."""
    shutil.copytree(state, scratch)
    memory = read_memory(scratch)
    return None if memory is None else int(memory.progress["bars_processed"])


def _fresh_killed_after_renaming(state: Path, name: str) -> subprocess.CompletedProcess[str]:
    script = Path(__file__).with_name("killpoint.py")
    args = ["run", "--fresh", "--state-dir", str(state), "--pace", "0", "--max-bars", "5"]
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120,
        env={**ENV, "V7_KILL_AFTER_RENAME": name}, cwd=REPO,
    )  # fmt: skip


def _without_lock(state: Path) -> dict[str, str]:
    # The lock file holds only the PID of the last engine to take it: never memory.
    return {k: v for k, v in digest(state).items() if k != "engine.lock"}


def test_a_fresh_killed_between_the_database_and_its_wal_is_finished_by_the_next_fresh(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    _killed_engine(state)
    assert (state / "engine.db-wal").exists()
    assert _committed(state, tmp_path / "whole") == COMMITS
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(state / "engine.db", alone)
    assert _committed(alone, tmp_path / "alone-copy") is None, "premise: the commits are in the WAL"

    out = _fresh_killed_after_renaming(state, "engine.db")
    assert out.returncode == -signal.SIGKILL, out.stderr[-2000:]
    assert "killpoint: after rename engine.db" in out.stderr

    # A plain run refuses: it names the half-moved backup and the way out, and changes nothing.
    before = _without_lock(state)
    plain = paced(state, 5)
    assert plain.returncode == 2, plain.stderr[-2000:]
    assert "interrupted --fresh" in plain.stderr and "--fresh" in plain.stderr
    (half,) = state.glob("backup-*")
    assert half.name in plain.stderr
    assert _without_lock(state) == before
    # The doctor says why the engine will not start, whatever the views left from before say.
    code, text = run_doctor(state, as_json=True, config_path=None)
    report = json.loads(text)
    (finding,) = [f for f in report["findings"] if f["check"] == "memory"]
    assert finding["status"] == "critical" and half.name in finding["summary"], finding
    assert "v7 run --fresh" in finding["hint"] and code == 2
    assert _without_lock(state) == before, "the doctor reads, never writes"

    # The command the refusal names finishes the move into that same backup.
    again = paced(state, 5, "--fresh")
    assert again.returncode == 0, again.stderr[-2000:]
    (backup,) = state.glob("backup-*")
    assert backup.name in again.stderr and half.name.startswith(backup.name)
    assert {p.name for p in backup.iterdir()} >= {"engine.db", "engine.db-wal", *VIEWS}
    assert _committed(backup, tmp_path / "backup-copy") == COMMITS
    with sqlite3.connect(backup / "engine.db") as conn:
        (fills,) = conn.execute("SELECT count(*) FROM fills").fetchone()
    assert fills == COMMITS, "every committed fill is in the one backup"
    new = read_memory(state)
    assert new is not None and new.progress["bars_processed"] >= 5, "the fresh run ran"


def test_a_fresh_killed_after_moving_everything_is_finished_by_the_next_fresh(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    _killed_engine(state)
    out = _fresh_killed_after_renaming(state, PAPER_EXCHANGE_FILE)  # the last file it moves
    assert out.returncode == -signal.SIGKILL, out.stderr[-2000:]
    assert not (state / "engine.db").exists()
    plain = paced(state, 5)
    assert plain.returncode == 2 and "interrupted --fresh" in plain.stderr, plain.stderr[-2000:]
    assert not (state / "engine.db").exists(), "the refused run began no memory"

    again = paced(state, 5, "--fresh")
    assert again.returncode == 0, again.stderr[-2000:]
    (backup,) = state.glob("backup-*")
    assert _committed(backup, tmp_path / "backup-copy") == COMMITS
