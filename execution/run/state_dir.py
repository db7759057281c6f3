"""The state dir an engine runs on: made if absent, then locked, or refused with the reason."""

from __future__ import annotations

from pathlib import Path

from execution.store import EngineLock, LockHeld, PersistError, StoreError


class RunRefused(Exception):
    """The state dir cannot be used as asked; nothing was written. Exit code 2."""


def take_state_dir(state_dir: Path) -> EngineLock:
    """Make ``state_dir`` if absent and take its engine lock; RunRefused naming why it cannot."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:  # a file, a FIFO, a symlink loop or a dangling link there
        raise RunRefused(
            f"{state_dir}: exists and is not a directory; use another --state-dir"
        ) from err
    lock = EngineLock(state_dir)
    try:
        lock.acquire()
    except LockHeld as err:
        who = (
            f"another engine (pid {err.pid})" if err.pid is not None
            else f"a process that wrote no PID in {err.path} (`fuser -v {err.path}` names it)"
        )  # fmt: skip
        raise RunRefused(
            f"{state_dir}: {who} holds this state dir; stop it or use another --state-dir"
        ) from err
    except PersistError as err:
        raise RunRefused(f"{err}: the engine cannot keep its memory there") from err
    except StoreError as err:  # a FIFO, a directory or a link in the lock file's place
        raise RunRefused(
            f"{err}. Nothing was changed. Move that file away: the lock file holds no memory,"
            " only the PID of the engine that runs here"
        ) from err
    return lock
