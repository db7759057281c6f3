"""The store's exceptions: each names the file, so an operator knows what to look at."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """The store cannot be used as it is (not ours, damaged, wrong kind of file, newer schema).

    Nothing was written. The engine must refuse to start rather than build on it; the way out
    is to look at the file or to move it aside (``v7 run --fresh``).
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"engine store {self.path}: {reason}")


class NoStore(StoreError):
    """A reader found no store in the state dir (readers never create one)."""


class PersistError(Exception):
    """A write failed (disk full, read-only file system, permission) and was rolled back.

    The store still holds the previous commit and stays usable: the same commit can be retried
    once the cause is gone.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"could not write {self.path}: {reason}")


class LockHeld(Exception):
    """Another process holds the state dir's engine lock."""

    def __init__(self, pid: int | None, path: str | Path) -> None:
        self.pid = pid
        self.path = Path(path)
        who = f"pid {pid}" if pid is not None else "a process that has not written its pid yet"
        super().__init__(f"{self.path} is held by {who}: another engine runs on this state dir")
