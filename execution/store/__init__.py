"""The engine's durable memory and trade journal: one SQLite store per state dir.

- :class:`Store` - open, ``load()`` the memory, ``commit(memory, journal)`` in one transaction.
- :class:`EngineLock` / :func:`lock_holder` - one engine per state dir.
- ``read_*`` - read-only readers for the dashboard, the doctor and `v7 trades`.
- :func:`move_memory_aside` - `--fresh`: keep the old memory in a dated backup dir.

See docs/state_files.md, "The store".
"""

from execution.store.backup import (
    MEMORY_FILES,
    half_moved_way_out,
    interrupted_backups,
    move_memory_aside,
)
from execution.store.errors import LockHeld, NoStore, PersistError, StoreError
from execution.store.files import DB_FILE, LOCK_FILE, db_path
from execution.store.journal import (
    ClosedTradeRow,
    EquityRow,
    ExternalCloseRow,
    FillRow,
    FundingRow,
    JournalBatch,
    OrderRow,
    OrderStatusRow,
)
from execution.store.lock import EngineLock, lock_holder
from execution.store.memory import COMPONENTS, Memory
from execution.store.readers import (
    read_closed_trades,
    read_equity,
    read_external_closes,
    read_fills,
    read_funding,
    read_memory,
    read_orders,
    store_exists,
    stream_rows,
)
from execution.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from execution.store.store import Store

__all__ = [
    "COMPONENTS",
    "DB_FILE",
    "LOCK_FILE",
    "MEMORY_FILES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ClosedTradeRow",
    "EngineLock",
    "EquityRow",
    "ExternalCloseRow",
    "FillRow",
    "FundingRow",
    "JournalBatch",
    "LockHeld",
    "Memory",
    "NoStore",
    "OrderRow",
    "OrderStatusRow",
    "PersistError",
    "Store",
    "StoreError",
    "db_path",
    "half_moved_way_out",
    "interrupted_backups",
    "lock_holder",
    "migrate",
    "move_memory_aside",
    "read_closed_trades",
    "read_equity",
    "read_external_closes",
    "read_fills",
    "read_funding",
    "read_memory",
    "read_orders",
    "store_exists",
    "stream_rows",
]
