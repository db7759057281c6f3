"""An engine.lock that is a link to another file: taking the lock must never write through it.

Taking the lock truncates the lock file and writes the PID into it. Through a symlink or a hard
link to engine.db, that wiped the whole memory (a 188 KB store left at 0 bytes); through a link
to any other file, the engine overwrote that file. A linked lock file is refused instead, and
the file it points at keeps its bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from execution.store import LOCK_FILE, EngineLock, JournalBatch, Store, StoreError, read_memory

from .helpers import ROOT, memory_at


def _store_with_memory(state: Path) -> bytes:
    with Store.open(state, durable=True) as store:
        store.commit(memory_at(3), JournalBatch())
    return (state / "engine.db").read_bytes()


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_lock_file_linked_to_the_store_is_refused_and_the_store_keeps_every_byte(
    tmp_path: Path, link: str
) -> None:
    stored = _store_with_memory(tmp_path)
    lock = tmp_path / LOCK_FILE
    if link == "symlink":
        lock.symlink_to("engine.db")
    else:
        os.link(tmp_path / "engine.db", lock)
    with pytest.raises(StoreError, match=LOCK_FILE):
        EngineLock(tmp_path).acquire()
    assert (tmp_path / "engine.db").read_bytes() == stored
    memory = read_memory(tmp_path)
    assert memory is not None and memory.progress["bars_processed"] == 3


def test_a_lock_file_linked_outside_the_state_dir_never_writes_there(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("an operator's file\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / LOCK_FILE).symlink_to(precious)
    with pytest.raises(StoreError, match="link"):
        EngineLock(state).acquire()
    assert precious.read_text() == "an operator's file\n"


def test_a_dangling_symlink_in_place_of_the_lock_creates_nothing_at_its_target(
    tmp_path: Path,
) -> None:
    target = tmp_path / "elsewhere" / "made-by-v7"
    target.parent.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    (state / LOCK_FILE).symlink_to(target)
    with pytest.raises(StoreError, match="link"):
        EngineLock(state).acquire()
    assert not target.exists()


def test_v7_run_on_a_lock_file_linked_to_the_store_exits_2_and_changes_nothing(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    stored = _store_with_memory(state)
    (state / LOCK_FILE).symlink_to("engine.db")
    out = subprocess.run(
        [sys.executable, "-m", "execution.cli", "run", "--state-dir", str(state), "--pace", "0",
         "--max-bars", "14"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert LOCK_FILE in out.stderr and "Nothing was changed" in out.stderr
    assert (state / "engine.db").read_bytes() == stored
    assert sorted(p.name for p in state.iterdir()) == ["engine.db", LOCK_FILE]


def test_v7_run_beside_a_lock_held_by_a_process_that_is_not_v7_names_the_file_not_pid_none(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    _store_with_memory(state)
    holder = subprocess.Popen(  # flocks engine.lock the way flock(1) does: no PID written
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(state / LOCK_FILE)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        out = subprocess.run(
            [sys.executable, "-m", "execution.cli", "run", "--state-dir", str(state), "--pace",
             "0", "--max-bars", "14"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        holder.communicate("", timeout=10)
    assert out.returncode == 2, out.stderr
    assert "pid None" not in out.stderr and str(state / LOCK_FILE) in out.stderr, out.stderr
