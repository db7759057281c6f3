"""`Store`: the engine's memory and journal in one SQLite database per state dir.

One transaction per commit: a kill, a full disk or a power cut leaves the commit before or
the commit after, never a mix. WAL mode lets the dashboard, the doctor and `v7 trades` read
while the engine writes. ``durable=True`` (live, paced paper) syncs every commit to the disk
(``synchronous=FULL``); a replay (``durable=False``) uses ``NORMAL``, which in WAL mode is
still consistent after a power cut, only possibly a few commits older: a replay can redo them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from types import TracebackType

from execution.store.errors import PersistError, StoreError
from execution.store.files import (
    CREATING_FILE,
    db_path,
    regular_file_exists,
    sidecars,
)
from execution.store.journal import JournalBatch, check_batch, write_batch
from execution.store.memory import (
    COMPONENTS,
    MAX_COMPONENT_BYTES,
    Memory,
    decode_component,
    encode_memory,
)
from execution.store.schema import check_tables, migrate, schema_version

# Seconds a statement waits for a reader's checkpoint lock before failing: bounded, never a hang.
BUSY_TIMEOUT_S = 5.0

_UPSERT_COMPONENT = (
    "INSERT INTO memory (component, data) VALUES (?, ?) "
    "ON CONFLICT (component) DO UPDATE SET data = excluded.data"
)


def select_components(conn: sqlite3.Connection) -> list[tuple[str, str | None]]:
    """(name, JSON text or None when oversized) of every stored component, read bounded."""
    rows = conn.execute(
        "SELECT component, CASE WHEN length(CAST(data AS BLOB)) > ? THEN NULL ELSE data END "
        "FROM memory",
        (MAX_COMPONENT_BYTES,),
    ).fetchall()
    return [(str(name), text) for name, text in rows]


def memory_from_rows(path: Path, rows: list[tuple[str, str | None]]) -> Memory | None:
    """Build a Memory from stored components (None when none is stored; unknown ones ignored).

    StoreError when a component is missing: every commit's first write holds all of them, so a
    store without one was damaged, and its default (an empty account, no order history) would
    silently stand in for what the engine knew.
    """
    known = {name: text for name, text in rows if name in COMPONENTS}
    if not known:
        return None
    values = {name: decode_component(path, name, text) for name, text in known.items()}
    missing = [name for name in COMPONENTS if name not in values]
    account = values.get("paper_account")
    if "paper_orders" in missing and (not account or "orders" in account):
        # A store written before the history was a component of its own keeps it inside the
        # account (a live venue has neither).
        missing.remove("paper_orders")
    if missing:
        raise StoreError(path, f"memory component {missing[0]!r} is missing: this memory was "
                               "not committed by the engine as it is")  # fmt: skip
    return Memory(**values)


def failure(path: Path, err: sqlite3.Error) -> Exception:
    """Our exception for an sqlite error: a write that may succeed later, or a damaged store."""
    reason = str(err) or type(err).__name__
    if isinstance(err, sqlite3.OperationalError):  # full, read-only, I/O, cannot open, busy
        return PersistError(path, reason)
    return StoreError(path, reason)  # not a database, malformed


class Store:
    """The open store of one state dir; open it with :meth:`Store.open`, one writer at a time
    (hold the :class:`~execution.store.lock.EngineLock`)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, durable: bool) -> None:
        self.path = path
        self.durable = durable
        self._conn: sqlite3.Connection | None = conn
        # JSON of each component as last committed: unchanged components are not rewritten.
        self._committed: dict[str, str] = {}

    @classmethod
    def open(
        cls,
        state_dir: str | Path,
        *,
        durable: bool,
        connection_factory: type[sqlite3.Connection] = sqlite3.Connection,
    ) -> Store:
        """Open (creating if absent) ``<state_dir>/engine.db``; migrate it to this schema.

        StoreError when the file is not a usable store, PersistError when it cannot be created
        or written (read-only, permission, full). ``connection_factory`` is for fault tests.
        """
        path = db_path(state_dir)
        if not regular_file_exists(path):
            wal, _ = sidecars(path)
            if regular_file_exists(wal):
                raise StoreError(wal, "a WAL file without its database: move it aside "
                                      "(v7 run --fresh) before starting")  # fmt: skip
            _create(path)
        for side in sidecars(path):
            regular_file_exists(side)
        conn = _connect(path, connection_factory)
        try:
            _prepare(conn, path, durable)
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, durable)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(self.path, "the store is closed")
        return self._conn

    def load(self) -> Memory | None:
        """Return the last committed memory, or None for a store nothing was committed to."""
        try:
            rows = select_components(self._connection())
        except sqlite3.Error as err:
            raise failure(self.path, err) from err
        memory = memory_from_rows(self.path, rows)
        self._committed = {name: text for name, text in rows if text is not None}
        return memory

    def commit(self, memory: Memory, journal: JournalBatch) -> None:
        """Write the changed components and append the journal batch in one transaction.

        On success the batch is cleared. On PersistError everything is rolled back and the
        batch keeps its rows, so the next commit writes them too. ValueError (nothing written)
        names the component, or the journal row and field, holding a NaN or an infinity.
        """
        texts = encode_memory(memory)  # refuses NaN before anything is written
        check_batch(journal)  # and a journal row holding one
        changed = [(n, t) for n, t in texts.items() if self._committed.get(n) != t]
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            if changed:
                conn.executemany(_UPSERT_COMPONENT, changed)
            write_batch(conn, journal)
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback(conn)
            raise failure(self.path, err) from err
        except BaseException:
            self._rollback(conn)
            raise
        self._committed.update(changed)
        journal.clear()

    def _rollback(self, conn: sqlite3.Connection) -> None:
        # SQLite may already have rolled back (it does on some full-disk errors).
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close the database (its WAL is checkpointed into engine.db and removed)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _connect(path: Path, factory: type[sqlite3.Connection]) -> sqlite3.Connection:
    try:
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE ... COMMIT), explicit.
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, factory=factory)
    except sqlite3.Error as err:
        raise failure(path, err) from err


def _prepare(conn: sqlite3.Connection, path: Path, durable: bool) -> None:
    try:
        if schema_version(conn, path) == 0:
            raise StoreError(path, "no v7 schema (an empty or foreign file): not ours")
        check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if check != "ok":
            raise StoreError(path, f"integrity check failed: {check}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        migrate(conn, path)
        check_tables(conn, path)
    except sqlite3.Error as err:
        raise failure(path, err) from err


def _create(path: Path) -> None:
    """Build an empty store next to ``path`` and rename it into place (see CREATING_FILE)."""
    tmp = path.with_name(CREATING_FILE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (tmp, *sidecars(tmp)):  # from a creation a kill interrupted
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        conn = sqlite3.connect(tmp, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            # Built with a rollback journal, compacted, then switched to WAL: every migration
            # runs on a fresh store, and this way its pages are not written twice (a full disk
            # must still have room for the store's first commits).
            migrate(conn, path)
            conn.execute("VACUUM")
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    except OSError as err:
        raise PersistError(path, err.strerror or str(err)) from err
    except sqlite3.Error as err:
        raise failure(path, err) from err


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
