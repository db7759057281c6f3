"""`v7 run --fresh`: move the engine's memory aside into a dated backup dir; nothing is deleted."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from execution.state_v7 import PAPER_EXCHANGE_FILE, STATE_FILES
from execution.store.errors import LockHeld, PersistError, StoreError
from execution.store.files import DB_FILE, LOCK_FILE, SHM_SUFFIX, WAL_SUFFIX
from execution.store.lock import EngineLock, lock_holder

# The database first: should a move be cut between the two (see INCOMPLETE_SUFFIX), the
# engine.db-wal left behind is refused by Store.open, whereas a database left without its WAL
# would silently lose the commits in it.
MEMORY_FILES: tuple[str, ...] = (
    DB_FILE,
    DB_FILE + WAL_SUFFIX,
    DB_FILE + SHM_SUFFIX,
    *STATE_FILES,
    PAPER_EXCHANGE_FILE,
)


# A move in progress happens in ``backup-<UTC>.incomplete/``, renamed to ``backup-<UTC>/`` once
# every file is in: a backup without the suffix is always whole. A kill part way leaves the
# suffix, which makes a plain run refuse and the next --fresh finish the move into that folder.
INCOMPLETE_SUFFIX = ".incomplete"


def interrupted_backups(state_dir: str | Path) -> list[Path]:
    """The backup folders an interrupted --fresh left half filled, oldest first."""
    found = Path(state_dir).glob("backup-*" + INCOMPLETE_SUFFIX)
    return sorted(p for p in found if p.is_dir() and not p.is_symlink())


def half_moved_way_out(state_dir: str | Path) -> str:
    """What to do about a memory an interrupted --fresh left half moved (engine, doctor, page)."""
    return (
        "`v7 run --fresh` (the same command with --fresh) finishes the move, nothing is lost, "
        "and starts over; to resume that memory instead, move the folder's files back into "
        f"{state_dir} and remove the emptied folder"
    )


def _staging_dir(state_dir: Path, now: float) -> Path:
    stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        name = f"backup-{stamp}" if n == 0 else f"backup-{stamp}-{n}"
        if os.path.lexists(state_dir / name):
            continue  # an existing backup is never reused or overwritten
        try:
            (state_dir / (name + INCOMPLETE_SUFFIX)).mkdir()  # exclusive
        except FileExistsError:
            continue
        return state_dir / (name + INCOMPLETE_SUFFIX)
    raise PersistError(state_dir / f"backup-{stamp}", "1000 backups with this timestamp exist")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_held(directory: Path, lock: EngineLock | None) -> None:
    if lock is not None:
        if not lock.held or lock.path.parent.resolve() != directory.resolve():
            raise ValueError(f"the lock passed is not held on {directory}")
    else:
        holder = lock_holder(directory)
        if holder is not None:
            raise LockHeld(None if holder < 0 else holder, directory / LOCK_FILE)


def _interrupted_one(directory: Path, present: list[str]) -> Path | None:
    """The half-filled backup to finish (None: there is none); StoreError if it cannot be."""
    interrupted = interrupted_backups(directory)
    if not interrupted:
        return None
    if len(interrupted) > 1:
        names = ", ".join(p.name for p in interrupted)
        raise StoreError(directory, f"several interrupted --fresh backups ({names}): keep one "
                                    "(move the others out of the state dir) and run again")  # fmt: skip
    staging = interrupted[0]
    clash = [name for name in present if os.path.lexists(staging / name)]
    if clash:
        raise StoreError(staging / clash[0], f"also in {directory}: an interrupted --fresh moved "
                                             "it, and it is back; move one of them away by hand")  # fmt: skip
    return staging


def move_memory_aside(
    state_dir: str | Path, *, lock: EngineLock | None = None, now: float | None = None
) -> Path | None:
    """Move the store and the JSON state files into ``<state_dir>/backup-<UTC time>/``.

    Returns the backup dir, or None when there was nothing to move (no dir is made). The HALT
    file and the lock stay. A move an earlier call left unfinished (killed, or a failed rename)
    is finished into its own backup dir. Pass the ``lock`` you hold (the store must be closed);
    without it, LockHeld is raised when any process holds the state dir's lock. StoreError
    (nothing moved) when an unfinished move cannot be finished without overwriting a file.
    """
    directory = Path(state_dir)
    _check_held(directory, lock)
    present = [name for name in MEMORY_FILES if os.path.lexists(directory / name)]
    staging = _interrupted_one(directory, present)
    try:
        if staging is None:
            if not present:
                return None
            staging = _staging_dir(directory, time.time() if now is None else now)
        elif not present and not any(staging.iterdir()):
            staging.rmdir()  # cut before its first file: an empty folder, nothing was moved
            return None
        for name in present:
            os.rename(directory / name, staging / name)
        _fsync_dir(staging)
        backup = staging.with_name(staging.name.removesuffix(INCOMPLETE_SUFFIX))
        if os.path.lexists(backup):
            raise StoreError(backup, f"exists: {staging.name} cannot take its name; rename it "
                                     "by hand (its files are the memory moved aside)")  # fmt: skip
        os.rename(staging, backup)
        _fsync_dir(directory)
    except OSError as err:
        raise PersistError(directory, f"moving the memory aside: {err}") from err
    return backup
