"""Names of the store's files in a state dir, and the check made before any of them is opened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from execution.store.errors import StoreError

DB_FILE = "engine.db"
WAL_SUFFIX = "-wal"
SHM_SUFFIX = "-shm"
LOCK_FILE = "engine.lock"
# A new database is built under this name and renamed into place, so an engine.db that exists
# always has a schema: an empty or schema-less engine.db was not written by us.
CREATING_FILE = ".engine.db.creating"


def db_path(state_dir: str | Path) -> Path:
    """Return ``<state_dir>/engine.db``."""
    return Path(state_dir) / DB_FILE


def sidecars(db: Path) -> tuple[Path, Path]:
    """Return SQLite's WAL and shared-memory files of ``db``."""
    return db.with_name(db.name + WAL_SUFFIX), db.with_name(db.name + SHM_SUFFIX)


def regular_file_exists(path: Path) -> bool:
    """True for a regular file, False when absent; StoreError for anything else.

    SQLite would block forever opening a FIFO and fail obscurely on a directory or a symlink
    loop, so the kind of file is checked first (``lstat``, then ``stat`` through a symlink).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        raise StoreError(path, f"cannot stat: {err.strerror}") from err
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError as err:
            raise StoreError(path, f"broken symlink: {err.strerror}") from err
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(path, f"is a {_kind(st.st_mode)}, not a regular file")
    return True


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"
