"""An engine.db that is not a usable store is refused at once, naming the file: never a hang,
never built upon, never silently replaced."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from execution.store import (
    NoStore,
    Store,
    StoreError,
    db_path,
    read_closed_trades,
    read_memory,
    store_exists,
)

from .helpers import loop_batch, memory_at

QUICK_S = 2.0


def _garbage(p: Path) -> None:
    p.write_bytes(bytes(range(256)) * 64)


def _truncated(p: Path) -> None:
    with Store.open(p.parent, durable=False) as store:
        for n in range(1, 30):
            memory = memory_at(n)
            memory.book["pad"] = {"x": "y" * 50_000}
            store.commit(memory, loop_batch(n))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _directory(p: Path) -> None:
    p.mkdir()


def _symlink_loop(p: Path) -> None:
    p.symlink_to(p.name)


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _foreign_sqlite(p: Path) -> None:
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE prices (ts REAL)")
    conn.commit()
    conn.close()


BAD_FILES: dict[str, Callable[[Path], None]] = {
    "garbage": _garbage,
    "truncated": _truncated,
    "empty": _empty,
    "a directory": _directory,
    "a symlink loop": _symlink_loop,
    "a FIFO": _fifo,
    "another program's sqlite db": _foreign_sqlite,
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_db_file_is_refused_quickly_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = db_path(tmp_path)
    BAD_FILES[kind](path)
    before = os.lstat(path)
    start = time.monotonic()
    with pytest.raises(StoreError) as opened:
        Store.open(tmp_path, durable=True)
    with pytest.raises(StoreError) as read:
        read_closed_trades(tmp_path)
    assert time.monotonic() - start < QUICK_S
    assert str(path) in str(opened.value) and str(path) in str(read.value)
    assert not isinstance(read.value, NoStore)
    after = os.lstat(path)
    assert (after.st_mode, after.st_size, after.st_mtime_ns) == (
        before.st_mode, before.st_size, before.st_mtime_ns,
    ), "the evidence is left as it was"  # fmt: skip


def test_a_fifo_in_place_of_the_wal_is_refused_too(tmp_path: Path) -> None:
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory_at(1), loop_batch(1))
    os.mkfifo(tmp_path / "engine.db-wal")
    with pytest.raises(StoreError, match="engine.db-wal: is a FIFO"):
        Store.open(tmp_path, durable=True)
    with pytest.raises(StoreError, match="FIFO"):
        read_memory(tmp_path)


def test_a_wal_without_its_database_is_refused_rather_than_replayed_into_a_new_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "engine.db-wal").write_bytes(b"\0" * 4096)
    with pytest.raises(StoreError, match="WAL file without its database"):
        Store.open(tmp_path, durable=True)
    assert not db_path(tmp_path).exists()


def test_readers_say_there_is_no_store_and_create_none(tmp_path: Path) -> None:
    with pytest.raises(NoStore, match="no store"):
        read_closed_trades(tmp_path)
    assert not store_exists(tmp_path)
    assert list(tmp_path.iterdir()) == []
