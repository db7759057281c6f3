"""A start on a full disk: the engine cannot even write its PID into the lock file.

Before, the ENOSPC of that write escaped as "runtime failure: OSError: [Errno 28] No space
left on device" (exit 1, no file named, the lock's descriptor left open). Now it is a
PersistError naming engine.lock, the lock is let go, and `v7 run` exits 2 with the state dir
byte-identical.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faults.helpers import digest

from execution.store import LOCK_FILE, EngineLock, JournalBatch, PersistError, Store, lock_holder

from .helpers import ROOT, memory_at


def _fill(disk: Path) -> None:
    """Write ballast until the file system refuses another byte."""
    fd = os.open(disk / "ballast", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 512):
            pass
    except OSError as err:
        assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.fixture
def full_disk_with_memory(small_tmpfs: Path) -> Path:
    """A state dir holding a committed memory, on a disk with no byte left."""
    state = small_tmpfs / "state"
    with Store.open(state, durable=True) as store:
        store.commit(memory_at(5), JournalBatch())
    EngineLock(state).acquire().release()  # an engine ran here: its lock file stays, empty
    _fill(small_tmpfs)
    return state


def test_a_lock_that_cannot_take_the_pid_on_a_full_disk_names_the_file_and_lets_go(
    full_disk_with_memory: Path,
) -> None:
    with pytest.raises(PersistError, match=f"{LOCK_FILE}.*No space left") as err:
        EngineLock(full_disk_with_memory).acquire()
    assert err.value.path.name == LOCK_FILE
    assert lock_holder(full_disk_with_memory) is None  # the descriptor was closed


def test_v7_run_on_a_full_disk_exits_2_naming_the_lock_file_and_changes_nothing(
    full_disk_with_memory: Path,
) -> None:
    before = digest(full_disk_with_memory)
    out = subprocess.run(
        [sys.executable, "-m", "execution.cli", "run", "--state-dir", str(full_disk_with_memory),
         "--pace", "0", "--max-bars", "14"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert LOCK_FILE in out.stderr and "No space left" in out.stderr, out.stderr
    assert "runtime failure" not in out.stderr
    assert digest(full_disk_with_memory) == before
