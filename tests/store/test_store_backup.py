"""`--fresh` moves the memory aside into a dated backup dir: nothing deleted, nothing
overwritten, the HALT switch stays, and never under a running engine."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from execution.state_v7 import PAPER_EXCHANGE_FILE, STATE_FILES
from execution.store import (
    EngineLock,
    LockHeld,
    PersistError,
    Store,
    StoreError,
    interrupted_backups,
    move_memory_aside,
    read_memory,
)

from .helpers import T0, lock_held_by_another_process, loop_batch, memory_at

JSON_FILES = (*STATE_FILES, PAPER_EXCHANGE_FILE)


def _full_state_dir(state_dir: Path) -> dict[str, bytes]:
    with Store.open(state_dir, durable=True) as store:
        store.commit(memory_at(4), loop_batch(4))
    for name in JSON_FILES:
        (state_dir / name).write_text(f'{{"file": "{name}"}}')
    (state_dir / "HALT").write_text("stop")
    return {p.name: p.read_bytes() for p in state_dir.iterdir() if p.is_file() and p.name != "HALT"}


def test_the_memory_moves_into_a_dated_backup_and_the_halt_file_stays(tmp_path: Path) -> None:
    before = _full_state_dir(tmp_path)
    with EngineLock(tmp_path) as lock:
        backup = move_memory_aside(tmp_path, lock=lock, now=T0)
    assert backup == tmp_path / "backup-20240101T000000Z"
    assert {p.name: p.read_bytes() for p in backup.iterdir()} == before
    assert read_memory(backup) == memory_at(4), "the backup is a readable store"
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"HALT", "engine.lock", backup.name}


def test_a_second_backup_in_the_same_second_never_overwrites_the_first(tmp_path: Path) -> None:
    _full_state_dir(tmp_path)
    first = move_memory_aside(tmp_path, now=T0)
    _full_state_dir(tmp_path)
    second = move_memory_aside(tmp_path, now=T0)
    assert first is not None and second is not None and first != second
    assert second.name == "backup-20240101T000000Z-1"
    assert read_memory(first) == read_memory(second) == memory_at(4)


def test_nothing_to_move_makes_no_backup_dir(tmp_path: Path) -> None:
    (tmp_path / "HALT").write_text("")
    assert move_memory_aside(tmp_path, now=T0) is None
    assert [p.name for p in tmp_path.iterdir()] == ["HALT"]


def test_the_memory_of_a_running_engine_is_never_moved(tmp_path: Path) -> None:
    before = _full_state_dir(tmp_path)
    with lock_held_by_another_process(tmp_path) as other:
        with pytest.raises(LockHeld, match=f"pid {other.pid}"):
            move_memory_aside(tmp_path, now=T0)
        with pytest.raises(ValueError, match="not held"):
            move_memory_aside(tmp_path, lock=EngineLock(tmp_path), now=T0)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name not in ("HALT",)}
    assert {k: v for k, v in after.items() if k != "engine.lock"} == before


def test_a_move_that_failed_after_the_database_is_finished_into_the_same_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second rename fails (an I/O error, say): engine.db is in the backup-to-be, the rest
    still in the state dir. The next call moves the rest into that same folder, then names it."""
    before = _full_state_dir(tmp_path)
    real_rename = os.rename
    renames: list[str] = []

    def rename_once(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if renames:
            raise OSError(errno.EIO, "Input/output error")
        renames.append(Path(src).name)
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename_once)
    with pytest.raises(PersistError, match="moving the memory aside"):
        move_memory_aside(tmp_path, now=T0)
    monkeypatch.setattr(os, "rename", real_rename)
    assert renames == ["engine.db"]
    (half,) = interrupted_backups(tmp_path)
    assert [p.name for p in half.iterdir()] == ["engine.db"]

    backup = move_memory_aside(tmp_path, now=T0 + 3600)  # later: the first folder's name stays
    assert backup == tmp_path / "backup-20240101T000000Z"
    assert {p.name: p.read_bytes() for p in backup.iterdir()} == before
    assert read_memory(backup) == memory_at(4)
    assert not interrupted_backups(tmp_path)


def test_a_move_cut_before_its_first_file_leaves_no_empty_backup(tmp_path: Path) -> None:
    (tmp_path / "backup-20240101T000000Z.incomplete").mkdir()
    assert move_memory_aside(tmp_path, now=T0) is None
    assert list(tmp_path.iterdir()) == []


def test_an_unfinished_move_is_never_finished_over_a_file_of_the_same_name(
    tmp_path: Path,
) -> None:
    half = tmp_path / "backup-20240101T000000Z.incomplete"
    half.mkdir()
    (half / "intel.json").write_text("moved")
    (tmp_path / "intel.json").write_text("made since")
    with pytest.raises(StoreError, match="intel.json"):
        move_memory_aside(tmp_path, now=T0)
    assert (half / "intel.json").read_text() == "moved"
    assert (tmp_path / "intel.json").read_text() == "made since"
