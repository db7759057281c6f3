"""Read-only access to a store: for the dashboard, the doctor and `v7 trades`.

Readers open engine.db with ``mode=ro``: they never need the engine lock, never create a
database and never write, so they are safe while an engine runs (WAL lets them read the last
commit while the next one is being written).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from execution.store.cells import check_cells
from execution.store.errors import NoStore, StoreError
from execution.store.files import db_path, regular_file_exists, sidecars
from execution.store.memory import Memory
from execution.store.schema import (
    ADDED_IN,
    JOURNAL_COLUMNS,
    OLDEST_READABLE_VERSION,
    SCHEMA_VERSION,
    check_tables,
    has_table,
    schema_version,
)
from execution.store.store import BUSY_TIMEOUT_S, failure, memory_from_rows, select_components


def store_exists(state_dir: str | Path) -> bool:
    """True when the state dir has an engine.db (StoreError when that is not a regular file)."""
    return regular_file_exists(db_path(state_dir))


def _connect_read_only(path: Path, lock_held: bool = False) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + "?mode=ro"
    if lock_held and not sidecars(path)[0].exists():
        # The caller holds the engine lock, so no writer exists, and without a -wal file nothing
        # is pending: read the file as immutable, which creates no -wal/-shm beside it (a start
        # that refuses leaves the state dir byte-identical).
        return sqlite3.connect(
            uri + "&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None
        )
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        schema_version(conn, path)  # the first read is where SQLite opens the WAL index
        return conn
    except BaseException as err:
        conn.close()
        if not isinstance(err, sqlite3.OperationalError) or sidecars(path)[0].exists():
            raise
    # A WAL database needs a writable place for its -shm file. On a read-only file system with
    # no -wal file there is no writer and nothing pending, so the file is read as immutable.
    return sqlite3.connect(
        uri + "&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None
    )


@contextlib.contextmanager
def read_only(state_dir: str | Path, lock_held: bool = False) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the store; NoStore when there is none, StoreError when unusable.

    ``lock_held``: the caller holds the state dir's engine lock (the engine at start-up).
    """
    path = db_path(state_dir)
    if not regular_file_exists(path):
        raise NoStore(path, "no store in this state dir (has an engine with a store run here?)")
    for side in sidecars(path):
        regular_file_exists(side)
    try:
        conn = _connect_read_only(path, lock_held)
    except sqlite3.Error as err:
        raise _as_read_error(path, err) from err
    try:
        version = schema_version(conn, path)
        if version == 0:
            raise StoreError(path, "no v7 schema (an empty or foreign file): not ours")
        if not OLDEST_READABLE_VERSION <= version <= SCHEMA_VERSION:
            raise StoreError(path, f"schema version {version}, this v7 reads {SCHEMA_VERSION}"
                                   " (the engine migrates it when it opens the store)")  # fmt: skip
        yield conn
    except sqlite3.Error as err:
        raise _as_read_error(path, err) from err
    finally:
        conn.close()


def _as_read_error(path: Path, err: sqlite3.Error) -> StoreError:
    mapped = failure(path, err)
    return mapped if isinstance(mapped, StoreError) else StoreError(path, str(err))


def read_memory(state_dir: str | Path, *, lock_held: bool = False) -> Memory | None:
    """The last committed memory (None when nothing was committed yet).

    StoreError also when a table of the schema is missing: an engine could not resume that
    store (every commit would fail), whereas a journal reader only needs its own table.
    """
    path = db_path(state_dir)
    with read_only(state_dir, lock_held) as conn:
        check_tables(conn, path)
        return memory_from_rows(path, select_components(conn))


def _rows(
    state_dir: str | Path, table: str, symbol: str | None, limit: int | None
) -> list[dict[str, Any]]:
    columns = JOURNAL_COLUMNS[table]
    params: list[Any] = []
    where = ""
    if symbol is not None:
        where = " WHERE symbol = ?"
        params.append(symbol)
    # Newest first to apply the limit, then reversed: callers get newest last.
    order = " ORDER BY rowid DESC" + ("" if limit is None else " LIMIT ?")
    if limit is not None:
        params.append(max(int(limit), 0))
    picked = f"SELECT rowid FROM {table}{where}{order}" if where or limit is not None else None
    with read_only(state_dir) as conn:
        if _not_yet_added(conn, table):
            return []
        check_cells(conn, db_path(state_dir), table, columns, picked, tuple(params))
        sql = f"SELECT {', '.join(columns)} FROM {table}{where}{order}"
        rows = conn.execute(sql, params).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in reversed(rows)]


def _not_yet_added(conn: sqlite3.Connection, table: str) -> bool:
    """Whether ``table`` is one a later schema version added, absent from this older store."""
    return table in ADDED_IN and not has_table(conn, table)


def stream_rows(
    state_dir: str | Path, table: str, columns: Sequence[str] | None = None
) -> Iterator[tuple[Any, ...]]:
    """Every row of a journal table (``columns`` of it, default all) in the order it was recorded.

    Rows come from the cursor one at a time, so a reader that aggregates them holds one row,
    not the table (a long replay journals millions of fills). The connection stays open until
    the iterator is exhausted or closed.
    """
    known = JOURNAL_COLUMNS[table]
    picked = tuple(columns) if columns is not None else known
    unknown = [c for c in picked if c not in known]
    if unknown:  # the names go into the SQL text: only the table's own columns may
        raise ValueError(f"{table} has no column {unknown[0]!r}")
    with read_only(state_dir) as conn:
        if _not_yet_added(conn, table):
            return
        check_cells(conn, db_path(state_dir), table, picked)
        yield from conn.execute(f"SELECT {', '.join(picked)} FROM {table} ORDER BY rowid")


def read_closed_trades(
    state_dir: str | Path, symbol: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Closed trades in the order they closed (newest last); ``limit`` keeps the newest ones."""
    return _rows(state_dir, "closed_trades", symbol, limit)


def read_orders(
    state_dir: str | Path, symbol: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Orders in the order they were first seen, each with its latest status (newest last)."""
    return _rows(state_dir, "orders", symbol, limit)


def read_fills(
    state_dir: str | Path, symbol: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Fills in the order they were recorded (newest last)."""
    return _rows(state_dir, "fills", symbol, limit)


def read_equity(state_dir: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Equity samples in time order (newest last)."""
    return _rows(state_dir, "equity", None, limit)


def read_funding(
    state_dir: str | Path, symbol: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Funding payments in time order (newest last)."""
    return _rows(state_dir, "funding", symbol, limit)


def read_external_closes(
    state_dir: str | Path, symbol: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Positions that closed outside the engine, as it saw them go (newest last); none for a
    store older than the table."""
    return _rows(state_dir, "external_closes", symbol, limit)
