"""The state dir an engine runs on: made if absent, locked, and the memory in it to resume.

Each step either goes on or refuses (:class:`RunRefused`, exit 2) with the reason and the way
out, having written nothing: the memory is only ever moved aside (``--fresh``, a finished
replay), never deleted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from execution.memory_errors import MemoryCorrupt
from execution.run.memory import RunIdentity, files_without_their_store, replay_universe_changed
from execution.store import (
    COMPONENTS,
    EngineLock,
    LockHeld,
    NoStore,
    PersistError,
    StoreError,
    db_path,
    half_moved_way_out,
    interrupted_backups,
    move_memory_aside,
    read_memory,
)


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
    except OSError as err:  # a file in the path, no permission to make it, a full disk
        raise RunRefused(
            f"{state_dir}: cannot be made ({err.strerror}); use another --state-dir"
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


def memory_to_resume(
    state_dir: Path, lock: EngineLock, identity: RunIdentity, fresh: bool, symbols: Sequence[str]
) -> tuple[dict[str, Any] | None, Path | None]:
    """The memory components to resume (None: begin) and the backup the old memory was moved
    into, if it was; RunRefused when the memory cannot be used as asked."""
    if fresh:
        return None, _move_aside(state_dir, lock, "--fresh")
    _refuse_a_half_moved_memory(state_dir)
    try:
        memory = read_memory(state_dir, lock_held=True)
    except NoStore:
        _refuse(state_dir, files_without_their_store(state_dir))
        return None, None
    except StoreError as err:
        raise RunRefused(corrupt_message(str(err))) from err
    if memory is None:
        return None, None
    components = {name: getattr(memory, name) for name in COMPONENTS}
    try:
        saved = RunIdentity.from_component(components.get("identity"))
    except MemoryCorrupt as err:
        raise RunRefused(corrupt_message(f"{db_path(state_dir)}: {err}")) from err
    progress = components.get("progress") or {}
    if identity.mode == "replay" and saved.mode == "replay" and progress.get("completed") is True:
        return None, _move_aside(state_dir, lock, "the previous replay had finished")
    problem = identity.cannot_resume(saved)
    if problem is None and identity.mode == "replay":
        problem = replay_universe_changed(progress, symbols)
    _refuse(state_dir, problem)
    return components, None


def _refuse(state_dir: Path, problem: str | None) -> None:
    if problem:
        raise RunRefused(
            f"{db_path(state_dir)}: {problem}. Nothing was changed. Use another --state-dir, or "
            "--fresh to move this memory aside (into a backup-* folder) and start over"
        )


def _refuse_a_half_moved_memory(state_dir: Path) -> None:
    """RunRefused when a --fresh was cut while moving the memory aside: what is left in the
    state dir is part of a memory (engine.db without its WAL, or the other way round)."""
    interrupted = interrupted_backups(state_dir)
    if interrupted:
        raise RunRefused(
            f"{interrupted[0]}: an interrupted --fresh left the memory half moved into this "
            f"folder. Nothing was changed. {half_moved_way_out(state_dir)}"
        )


def _move_aside(state_dir: Path, lock: EngineLock, why: str) -> Path | None:
    try:
        backup = move_memory_aside(state_dir, lock=lock)
    except PersistError as err:
        raise RunRefused(
            f"{err}; nothing was lost (what was moved is in backup-*.incomplete: run again with "
            "--fresh to finish the move)"
        ) from err
    except StoreError as err:
        raise RunRefused(f"{err}. Nothing was moved") from err
    if backup is not None:
        print(f"v7: {why}: its memory was moved to {backup}", file=sys.stderr)
    return backup


def corrupt_message(reason: str, err: Exception | None = None) -> str:
    """The refusal of a memory that cannot be resumed: the reason and the ways out."""
    message = (
        f"{reason}. The memory cannot be resumed and was left as it is. To start over without "
        "it, run the same command with --fresh (it moves the memory aside into a backup-* "
        "folder, nothing is deleted)"
    )
    if isinstance(err, MemoryCorrupt) and err.component == "registry":
        message += (
            ". A damaged TP/SL can be repaired instead, keeping the position: "
            "v7 doctor --sync-registry --apply"
        )
    return message
