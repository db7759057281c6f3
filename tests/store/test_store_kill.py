"""A `kill -9` at any moment leaves the store at a whole commit, and leaves no stale lock."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from execution.store import lock_holder, read_closed_trades, read_equity, read_fills, read_memory

from .helpers import TESTS, memory_at

KILLS = 21


def _start(state_dir: Path, durable: bool) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "store.commit_loop", str(state_dir),
         "durable" if durable else "fast"],
        stdout=subprocess.PIPE, text=True, cwd=TESTS,
    )  # fmt: skip
    assert proc.stdout is not None
    resumed_at = int(proc.stdout.readline())
    return proc, resumed_at


def _assert_one_whole_commit(state_dir: Path) -> int:
    memory = read_memory(state_dir)
    n = int(memory.progress["bars_processed"]) if memory else 0
    assert len(read_equity(state_dir)) == n
    assert len(read_fills(state_dir)) == n
    assert len(read_closed_trades(state_dir)) == n // 3
    if memory is not None:
        expected = memory_at(n)
        assert memory.strategy == expected.strategy and memory.book == expected.book
        assert memory.ledger["closed_count"] == n // 3
    return n


def test_every_kill_leaves_exactly_one_whole_commit(tmp_path: Path) -> None:
    rng = random.Random(16)
    last = 0
    commits_seen = []
    for kill in range(KILLS):
        proc, resumed_at = _start(tmp_path, durable=kill % 2 == 0)
        assert resumed_at == last, "the next run resumes at the last whole commit"
        time.sleep(rng.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        assert lock_holder(tmp_path) is None, "the kernel dropped the dead process's lock"
        n = _assert_one_whole_commit(tmp_path)
        assert n >= last
        commits_seen.append(n - last)
        last = n
    assert last > KILLS, f"the children committed too little to prove anything: {commits_seen}"
