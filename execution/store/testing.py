"""Fault injection for tests of code that writes through a Store (as structlog ships
``capture_logs``): a connection factory whose statements fail as on a full disk."""

from __future__ import annotations

import sqlite3
from typing import Any

DISK_FULL = "database or disk is full"


class FullDisk:
    """Make a Store's writes fail like a full disk: pass ``connection_factory`` to Store.open.

    ``full = True`` fails every statement but reads and ROLLBACK until set back to False (the
    space came back); ``fail_nth(n)`` fails only the n-th next statement (0 = the next one), so
    a test can fail each statement of a commit in turn. ``statements`` counts what ran.
    """

    def __init__(self) -> None:
        self.full = False
        self.statements = 0
        self._fail_at: int | None = None

    def fail_nth(self, n: int) -> None:
        self._fail_at = self.statements + n

    def _before(self, sql: str) -> None:
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head in ("SELECT", "ROLLBACK", "PRAGMA"):
            return
        index, self.statements = self.statements, self.statements + 1
        if index == self._fail_at:
            self._fail_at = None
            raise sqlite3.OperationalError(DISK_FULL)
        if self.full:
            raise sqlite3.OperationalError(DISK_FULL)

    @property
    def connection_factory(self) -> type[sqlite3.Connection]:
        disk = self

        class FullDiskConnection(sqlite3.Connection):
            def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
                disk._before(sql)
                return super().execute(sql, parameters)

            def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
                disk._before(sql)
                return super().executemany(sql, parameters)

        return FullDiskConnection
