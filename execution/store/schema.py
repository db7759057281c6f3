"""The store's schema and its forward migrations.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1`` (version 0 is an empty
file), each step in its own transaction together with the version it reaches, so a kill during
a migration leaves the previous version intact. A database newer than this code is refused:
an older engine must not write rows it does not understand into it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from execution.store.errors import StoreError

Migration = Callable[[sqlite3.Connection], None]

_V1_TABLES = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE memory (component TEXT PRIMARY KEY, data TEXT NOT NULL)",
    """CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY, venue_order_id TEXT, symbol TEXT NOT NULL,
        side TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('entry', 'exit')),
        exit_kind TEXT, qty REAL NOT NULL, price REAL, status TEXT NOT NULL, ts REAL NOT NULL,
        tp REAL, sl REAL)""",
    """CREATE TABLE fills (
        fill_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, symbol TEXT NOT NULL,
        side TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('entry', 'exit')),
        qty REAL NOT NULL, price REAL NOT NULL, fee REAL NOT NULL, ts REAL NOT NULL)""",
    """CREATE TABLE closed_trades (
        id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL,
        entry_ts REAL NOT NULL, entry_price REAL NOT NULL, exit_ts REAL NOT NULL,
        exit_price REAL NOT NULL, qty REAL NOT NULL, tp REAL, sl REAL,
        exit_reason TEXT NOT NULL, pnl REAL NOT NULL, fees REAL NOT NULL, net_pnl REAL NOT NULL)""",
    """CREATE TABLE equity (
        ts REAL NOT NULL, nav REAL NOT NULL, balance REAL NOT NULL, unrealized REAL NOT NULL,
        drawdown_pct REAL NOT NULL)""",
    """CREATE TABLE funding (
        ts REAL NOT NULL, symbol TEXT NOT NULL, rate REAL NOT NULL, mark REAL NOT NULL,
        qty REAL NOT NULL, payment REAL NOT NULL)""",
    # `v7 trades --symbol` and the per-symbol readers filter on these (version 2 drops the
    # first two).
    "CREATE INDEX orders_by_symbol ON orders (symbol)",
    "CREATE INDEX fills_by_symbol ON fills (symbol)",
    "CREATE INDEX closed_trades_by_symbol ON closed_trades (symbol)",
)


def create_v1(conn: sqlite3.Connection) -> None:
    """Version 0 -> 1: the memory components and the journal."""
    for statement in _V1_TABLES:
        conn.execute(statement)


def drop_journal_symbol_indexes(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2: orders and fills lose their symbol index.

    Each cost every order and fill a second b-tree insert in a replay (a fifth of the
    journal's write) for a query nothing asks in production: `v7 trades --symbol` reads the
    closed trades, which keep theirs; reading orders or fills by symbol scans.
    """
    conn.execute("DROP INDEX IF EXISTS orders_by_symbol")
    conn.execute("DROP INDEX IF EXISTS fills_by_symbol")


def create_external_closes(conn: sqlite3.Connection) -> None:
    """Version 2 -> 3: the positions that closed outside the engine.

    A position gone from the exchange (closed by hand, liquidated while the engine was down, or
    an exit that filled just before a kill) has no exit the engine saw: it cannot be a row of
    closed_trades, whose exit price and PnL are facts. It is journaled here with what the
    engine knew (entry, size, TP/SL, its last mark) and when it saw the position gone, so
    `v7 trades` lists every position that ended, not only those the engine closed.
    """
    conn.execute(
        """CREATE TABLE external_closes (
        id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL,
        entry_ts REAL NOT NULL, entry_price REAL NOT NULL, qty REAL NOT NULL,
        seen_ts REAL NOT NULL, entry_fees REAL NOT NULL, last_mark REAL, tp REAL, sl REAL)"""
    )


MIGRATIONS: tuple[Migration, ...] = (
    create_v1, drop_journal_symbol_indexes, create_external_closes,
)  # fmt: skip
SCHEMA_VERSION = len(MIGRATIONS)
# The oldest version whose tables the readers read as they are (version 2 only dropped
# indexes, version 3 only added a table): an engine resumes a store before it migrates it, and
# `v7 trades` reads old backups.
OLDEST_READABLE_VERSION = 1


# The journal's tables and their columns as the readers select them, in the order created.
JOURNAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("client_order_id", "venue_order_id", "symbol", "side", "kind", "exit_kind", "qty",
               "price", "status", "ts", "tp", "sl"),
    "fills": ("fill_id", "client_order_id", "symbol", "side", "kind", "qty", "price", "fee", "ts"),
    "closed_trades": ("id", "symbol", "side", "entry_ts", "entry_price", "exit_ts", "exit_price",
                      "qty", "tp", "sl", "exit_reason", "pnl", "fees", "net_pnl"),
    "equity": ("ts", "nav", "balance", "unrealized", "drawdown_pct"),
    "funding": ("ts", "symbol", "rate", "mark", "qty", "payment"),
    "external_closes": ("id", "symbol", "side", "entry_ts", "entry_price", "qty", "seen_ts",
                        "entry_fees", "last_mark", "tp", "sl"),
}  # fmt: skip
# Every table of this schema, and the version that added those not in version 1: a store
# without one of its version's tables was damaged (a migration never drops a table), and an
# engine on it would fail every commit, for ever.
TABLES = ("meta", "memory", *JOURNAL_COLUMNS)
ADDED_IN = {"external_closes": 3}


def tables_of(version: int) -> tuple[str, ...]:
    """The tables a store of schema ``version`` has."""
    return tuple(t for t in TABLES if ADDED_IN.get(t, 1) <= version)


def check_tables(conn: sqlite3.Connection, path: Path) -> None:
    """Raise StoreError naming the first table of the store's schema version it lacks."""
    found = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in tables_of(schema_version(conn, path)):
        if table not in found:
            raise StoreError(path, f"the table {table!r} is missing: the store is damaged")


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    """Whether the database has ``table``."""
    sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
    return bool(conn.execute(sql, (table,)).fetchone()[0])


def schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """Return the database's schema version; 0 for a database without any table."""
    if not has_table(conn, "meta"):
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise StoreError(path, "an SQLite database without a v7 schema version: not ours")
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise StoreError(path, f"unreadable schema version {row!r}") from None


def migrate(
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Bring the database up to ``len(migrations)``; return the version it was at.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each step opens its own
    transaction.
    """
    found = schema_version(conn, path)
    target = len(migrations)
    if found > target:
        raise StoreError(
            path, f"schema version {found} is newer than this v7 understands ({target}): upgrade v7"
        )
    for version in range(found, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            migrations[version](conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(version + 1),),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return found
