"""`v7 run --fresh`: move the engine's memory aside into a dated backup dir; nothing is deleted."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from execution.state_v7 import PAPER_EXCHANGE_FILE, STATE_FILES
from execution.store.errors import LockHeld, PersistError
from execution.store.files import DB_FILE, LOCK_FILE, SHM_SUFFIX, WAL_SUFFIX
from execution.store.lock import EngineLock, lock_holder

# The database first: were a kill to separate them, an engine.db-wal left without its
# database is refused by Store.open, whereas a database left without its WAL would silently
# lose the commits in it.
MEMORY_FILES: tuple[str, ...] = (
    DB_FILE,
    DB_FILE + WAL_SUFFIX,
    DB_FILE + SHM_SUFFIX,
    *STATE_FILES,
    PAPER_EXCHANGE_FILE,
)


def _backup_dir(state_dir: Path, now: float) -> Path:
    stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        candidate = state_dir / (f"backup-{stamp}" if n == 0 else f"backup-{stamp}-{n}")
        try:
            candidate.mkdir()  # exclusive: an existing backup is never reused or overwritten
        except FileExistsError:
            continue
        return candidate
    raise PersistError(state_dir / f"backup-{stamp}", "1000 backups with this timestamp exist")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_memory_aside(
    state_dir: str | Path, *, lock: EngineLock | None = None, now: float | None = None
) -> Path | None:
    """Move the store and the JSON state files into ``<state_dir>/backup-<UTC time>/``.

    Returns the backup dir, or None when there was nothing to move (no dir is made). The HALT
    file and the lock stay. Pass the ``lock`` you hold (the store must be closed); without it,
    LockHeld is raised when any process holds the state dir's lock.
    """
    directory = Path(state_dir)
    if lock is not None:
        if not lock.held or lock.path.parent.resolve() != directory.resolve():
            raise ValueError(f"the lock passed is not held on {directory}")
    else:
        holder = lock_holder(directory)
        if holder is not None:
            raise LockHeld(None if holder < 0 else holder, directory / LOCK_FILE)
    present = [name for name in MEMORY_FILES if os.path.lexists(directory / name)]
    if not present:
        return None
    try:
        backup = _backup_dir(directory, time.time() if now is None else now)
        for name in present:
            os.rename(directory / name, backup / name)
        _fsync_dir(backup)
        _fsync_dir(directory)
    except OSError as err:
        raise PersistError(directory, f"moving the memory aside: {err}") from err
    return backup
