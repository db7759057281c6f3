"""One engine per state dir: an exclusive ``flock`` on ``<state_dir>/engine.lock``.

The kernel drops a process's flocks when it dies, however it dies, so a ``kill -9`` never
leaves a stale lock; the PID in the file is only there to name the holder in messages.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from pathlib import Path
from types import TracebackType

from execution.store.errors import LockHeld, PersistError, StoreError
from execution.store.files import LOCK_FILE

# A reader probing the lock holds it for microseconds; an engine starting at that moment
# retries for this long before concluding another engine holds it.
ACQUIRE_RETRY_S = 0.2
# How long a reader waits for a holder that has the lock but has not written its PID yet.
PID_WAIT_S = 0.2
_PAUSE_S = 0.01


def _open(path: Path, flags: int) -> int:
    # O_NONBLOCK: opening a FIFO planted at this path must fail fast, not wait for a writer.
    # O_NOFOLLOW and one link only: the engine truncates this file and writes its PID in it, so
    # through a symlink or a hard link it would overwrite another file (engine.db itself, say).
    try:
        fd = os.open(path, flags | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise StoreError(path, "is a symlink, not a file of its own") from err
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        regular = stat.S_ISREG(st.st_mode)
        raise StoreError(
            path, "is a hard link to another file" if regular else "is not a regular file"
        )
    return fd


def _try_flock(fd: int, operation: int) -> bool:
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_pid(fd: int) -> int | None:
    deadline = time.monotonic() + PID_WAIT_S
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(_PAUSE_S)


class EngineLock:
    """The state dir's engine lock; ``acquire()`` raises LockHeld when another process has it."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> EngineLock:
        """Take the lock and write our PID in the file (non-blocking)."""
        if self._fd is not None:
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = _open(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as err:
            raise PersistError(self.path, err.strerror or str(err)) from err
        deadline = time.monotonic() + ACQUIRE_RETRY_S
        while not _try_flock(fd, fcntl.LOCK_EX):
            if time.monotonic() >= deadline:
                pid = _read_pid(fd)
                os.close(fd)
                raise LockHeld(pid, self.path)
            time.sleep(_PAUSE_S)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as err:  # a full disk: let the lock go rather than run unnamed
            os.close(fd)
            raise PersistError(self.path, err.strerror or str(err)) from err
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (closing the file drops the flock)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # a PID left behind would only mislead a person reading it
            os.close(fd)

    def __enter__(self) -> EngineLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_holder(state_dir: str | Path) -> int | None:
    """The PID of the process holding the state dir's lock, or None when nobody holds it.

    Probes with a shared lock, released at once: two readers probing together do not see each
    other as an engine. A holder that has not written its PID yet gives -1. It never creates
    the lock file (a reader writes nothing).
    """
    path = Path(state_dir) / LOCK_FILE
    try:
        fd = _open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StoreError(path, f"cannot open: {err.strerror}") from err
    try:
        if _try_flock(fd, fcntl.LOCK_SH):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        pid = _read_pid(fd)
        return -1 if pid is None else pid
    finally:
        os.close(fd)
