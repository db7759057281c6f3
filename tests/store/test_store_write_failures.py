"""A write that fails (full disk, read-only file system) is rolled back, raises PersistError
naming the file, and the store keeps working once the cause is gone."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from execution.store import (
    EngineLock,
    JournalBatch,
    Memory,
    PersistError,
    Store,
    db_path,
    read_equity,
    read_memory,
)
from execution.store.testing import FullDisk

from .helpers import loop_batch, memory_at, mount_tmpfs


def _padded(n: int) -> Memory:
    memory = memory_at(n)
    memory.ledger["pad"] = "x" * 4000 + str(n)
    return memory


def test_a_full_disk_rolls_back_and_the_store_resumes_when_space_returns(small_tmpfs: Path) -> None:
    state = small_tmpfs / "state"
    ballast = small_tmpfs / "ballast"
    ballast.write_bytes(b"\0" * 96 * 1024)
    store = Store.open(state, durable=True)
    committed, batch = 0, JournalBatch()
    with pytest.raises(PersistError, match="database or disk is full") as err:
        for n in range(1, 10_000):
            batch = loop_batch(n)
            store.commit(_padded(n), batch)
            committed = n
    assert err.value.path == db_path(state)
    assert committed > 0, "some commits fit before the disk filled"
    assert read_memory(state) == _padded(committed), "the failed commit left no trace"
    assert len(read_equity(state)) == committed
    assert len(batch) > 0, "the failed batch keeps its rows for the next commit"
    ballast.unlink()
    store.commit(_padded(committed + 1), batch)
    store.close()
    assert read_memory(state) == _padded(committed + 1)
    assert len(read_equity(state)) == committed + 1


def _statements_of_one_commit(tmp_path: Path) -> int:
    disk = FullDisk()
    with Store.open(
        tmp_path / "count", durable=True, connection_factory=disk.connection_factory
    ) as s:
        before = disk.statements
        s.commit(memory_at(3), loop_batch(3))
        return disk.statements - before


def test_a_failure_at_every_statement_of_a_commit_leaves_the_previous_commit(
    tmp_path: Path,
) -> None:
    statements = _statements_of_one_commit(tmp_path)
    assert statements >= 7, "BEGIN, memory, five journal tables, COMMIT"
    disk = FullDisk()
    state = tmp_path / "state"
    with Store.open(state, durable=True, connection_factory=disk.connection_factory) as store:
        store.commit(memory_at(2), loop_batch(2))
        for k in range(statements):
            disk.fail_nth(k)
            with pytest.raises(PersistError, match="disk is full"):
                store.commit(memory_at(3), loop_batch(3))
            assert read_memory(state) == memory_at(2), f"statement {k} failed: rolled back"
            assert len(read_equity(state)) == 1
        store.commit(memory_at(3), loop_batch(3))
    assert read_memory(state) == memory_at(3) and len(read_equity(state)) == 2


def test_a_disk_full_for_several_commits_loses_nothing_once_it_frees(tmp_path: Path) -> None:
    disk = FullDisk()
    with Store.open(tmp_path, durable=False, connection_factory=disk.connection_factory) as store:
        store.commit(memory_at(1), loop_batch(1))
        disk.full = True
        batch = JournalBatch()
        for n in (2, 3, 4):
            for table, rows in vars(loop_batch(n)).items():
                getattr(batch, table).extend(rows)
            with pytest.raises(PersistError):
                store.commit(memory_at(n), batch)
        disk.full = False
        store.commit(memory_at(4), batch)
    assert read_memory(tmp_path) == memory_at(4)
    assert len(read_equity(tmp_path)) == 4, "the rows of the failed commits were kept and written"


@pytest.fixture
def read_only_state(tmp_path: Path) -> Iterator[Path]:
    """A state dir with a committed store, then made read-only (a ro remount when root)."""
    if os.geteuid() == 0:
        mnt = tmp_path / "mnt"
        mount_tmpfs(mnt, "1m")
        state = mnt / "state"
    else:
        mnt, state = None, tmp_path / "state"
    with Store.open(state, durable=True) as store:
        store.commit(memory_at(5), loop_batch(5))
    try:
        if mnt is not None:
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        else:
            state.chmod(0o555)
            db_path(state).chmod(0o444)
        yield state
    finally:
        if mnt is not None:
            subprocess.run(["umount", "-l", str(mnt)], check=False)
        else:
            state.chmod(0o755)


def test_a_read_only_state_dir_refuses_to_write_but_can_be_read(read_only_state: Path) -> None:
    with pytest.raises(PersistError) as err:
        Store.open(read_only_state, durable=True)
    assert err.value.path == db_path(read_only_state)
    with pytest.raises(PersistError, match="engine.lock"):
        EngineLock(read_only_state).acquire()
    assert read_memory(read_only_state) == memory_at(5)
    assert len(read_equity(read_only_state)) == 1


def test_a_store_cannot_be_created_in_a_read_only_dir(read_only_state: Path) -> None:
    with pytest.raises(PersistError) as err:
        Store.open(read_only_state / "new", durable=True)
    assert "new" in str(err.value.path)
