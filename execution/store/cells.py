"""What a journal cell may hold, checked in SQL before a reader turns rows into numbers.

SQLite keeps whatever is written into a column (a REAL column takes the text 'soon'), so a
damaged or hand-edited journal reaches the readers with values the engine never writes. The
readers' callers would then fail far from the file (``float('soon')``, a timestamp past year
9999); this check names the file, the table, the row and the column instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from execution.store.errors import StoreError

# The latest epoch second an ISO-8601 timestamp can show (9999-12-31T23:59:59Z).
_LAST_TIME = 253_402_300_799

_TEXT, _NUMBER, _TIME = "text", "a finite number", "a time (epoch seconds, year 1970 to 9999)"
# Columns that may be NULL (a journaled order without a venue id, a trade without TP/SL).
_NULLABLE = frozenset({"venue_order_id", "exit_kind", "price", "tp", "sl", "last_mark"})
_TIMES = frozenset({"ts", "entry_ts", "exit_ts", "seen_ts"})
_TEXTS = frozenset({"client_order_id", "venue_order_id", "fill_id", "symbol", "side", "kind",
                    "exit_kind", "status", "exit_reason"})  # fmt: skip


def _want(column: str) -> str:
    if column in _TEXTS:
        return _TEXT
    return _TIME if column in _TIMES else _NUMBER


def _bad(column: str) -> str:
    """SQL that is true when the column's cell is not what the engine writes there."""
    allowed = "('text')" if column in _TEXTS else "('real', 'integer')"
    wrong = f"typeof({column}) NOT IN {allowed}"
    if column not in _TEXTS:  # abs() of an infinity exceeds any finite bound
        low, high = (0, _LAST_TIME) if column in _TIMES else (-1.7e308, 1.7e308)
        wrong += f" OR {column} < {low} OR {column} > {high}"
    if column in _NULLABLE:
        return f"({column} IS NOT NULL AND ({wrong}))"
    return f"({wrong})"


def check_cells(
    conn: sqlite3.Connection, path: Path, table: str, columns: tuple[str, ...],
    rows_sql: str | None = None, params: tuple[object, ...] = (),
) -> None:  # fmt: skip
    """Raise StoreError naming the first bad cell of ``columns`` in ``table``.

    ``rows_sql`` (with ``params``) selects the rowids the caller will read, so a reader of the
    newest N rows checks those N; None checks the whole table.
    """
    bad = " OR ".join(_bad(c) for c in columns)
    only = f"rowid IN ({rows_sql}) AND " if rows_sql else ""
    sql = f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE {only}({bad}) LIMIT 1"
    row = conn.execute(sql, params).fetchone()
    if row is None:
        return
    rowid, cells = row[0], row[1:]
    for column, value in zip(columns, cells, strict=True):
        one = conn.execute(f"SELECT {_bad(column)} FROM {table} WHERE rowid = ?", (rowid,))
        if one.fetchone()[0]:
            raise StoreError(path, f"{table} row {rowid}: {column} is {value!r:.60}, "
                                   f"not {_want(column)}: the journal is damaged")  # fmt: skip
