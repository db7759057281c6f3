"""One engine per state dir: the lock is exclusive across processes, names its holder, never
outlives its process, and readers need none of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from execution.store import (
    LOCK_FILE,
    EngineLock,
    LockHeld,
    Store,
    StoreError,
    lock_holder,
    read_equity,
    read_memory,
)

from .helpers import TESTS, lock_held_by_another_process, loop_batch, memory_at


def test_a_second_process_holding_the_lock_is_named_by_pid(tmp_path: Path) -> None:
    with lock_held_by_another_process(tmp_path) as other:
        with pytest.raises(LockHeld, match=f"pid {other.pid}") as err:
            EngineLock(tmp_path).acquire()
        assert err.value.pid == other.pid and err.value.path == tmp_path / LOCK_FILE
        assert lock_holder(tmp_path) == other.pid
    assert lock_holder(tmp_path) is None
    with EngineLock(tmp_path) as lock:
        assert lock.held


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    with lock_held_by_another_process(tmp_path) as other:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=10)
        assert lock_holder(tmp_path) is None
        with EngineLock(tmp_path):
            assert lock_holder(tmp_path) is not None


def test_two_locks_in_one_process_exclude_each_other_too(tmp_path: Path) -> None:
    first = EngineLock(tmp_path).acquire()
    try:
        with pytest.raises(LockHeld):
            EngineLock(tmp_path).acquire()
    finally:
        first.release()
    EngineLock(tmp_path).acquire().release()


def test_probing_the_lock_creates_nothing(tmp_path: Path) -> None:
    assert lock_holder(tmp_path) is None
    assert list(tmp_path.iterdir()) == []


_WRITER = """
import sys
from execution.store import EngineLock, Store
from store.helpers import loop_batch, memory_at
with EngineLock(sys.argv[1]), Store.open(sys.argv[1], durable=True) as store:
    n = 0
    while True:
        n += 1
        store.commit(memory_at(n), loop_batch(n))
        if n == 1:
            print("committing", flush=True)
"""


def test_readers_read_whole_commits_while_an_engine_holds_the_lock_and_writes(
    tmp_path: Path,
) -> None:
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True, cwd=TESTS)  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "committing"
        assert lock_holder(tmp_path) == writer.pid
        seen = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            memory = read_memory(tmp_path)
            assert memory is not None
            n = int(memory.progress["bars_processed"])
            assert memory == memory_at(n), "each read is one whole commit"
            assert len(read_equity(tmp_path)) >= n
            seen.append(n)
        assert seen == sorted(seen) and seen[-1] > seen[0], "the writer kept committing"
        with pytest.raises(LockHeld):
            EngineLock(tmp_path).acquire()
    finally:
        writer.kill()
        writer.wait(timeout=10)
    with EngineLock(tmp_path), Store.open(tmp_path, durable=True) as store:
        memory = store.load()
        assert memory is not None
        n = int(memory.progress["bars_processed"])
        store.commit(memory_at(n + 1), loop_batch(n + 1))


def test_a_fifo_in_place_of_the_lock_file_is_refused_without_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / LOCK_FILE)
    start = time.monotonic()
    with pytest.raises(StoreError, match="engine.lock"):
        lock_holder(tmp_path)
    with pytest.raises(StoreError, match="engine.lock"):
        EngineLock(tmp_path).acquire()
    assert time.monotonic() - start < 2.0
