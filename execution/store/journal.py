"""The trade journal: its rows, the batch collected between commits, and their SQL.

Rows are appended (orders are upserted by client order id, since an order's status changes);
a fill seen twice (a venue re-reporting it after a restart) is kept once. A later status of an
order already committed is an :class:`OrderStatusRow`, written as an UPDATE of that row's
status and time only (one still in the batch is changed in place by its sink instead).

A row is the tuple its INSERT takes, in column order: a replay journals tens of thousands of
them, so the engine builds that plain tuple and nothing more (``OrderValues``...). The named
tuples (``OrderRow``...) name the same columns, for code that builds a few rows by keyword. The
batch is checked as a whole when it is written (:func:`check_batch`: one pass per table over
its number columns), not row by row as it is built.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import iadd, itemgetter
from typing import Any, NamedTuple

KINDS = ("entry", "exit")
_KINDS = frozenset(KINDS)

OrderValues = tuple[
    str, str, str, str, float, str, float, str | None, str | None, float | None, float | None,
    float | None,
]  # fmt: skip
FillValues = tuple[str, str, str, str, str, float, float, float, float]
OrderStatusValues = tuple[str, float, str]
ClosedTradeValues = tuple[
    str, str, float, float, float, float, float, str, float, float, float | None, float | None
]


class OrderRow(NamedTuple):
    client_order_id: str
    symbol: str
    side: str
    kind: str  # "entry" | "exit"
    qty: float
    status: str
    ts: float  # epoch seconds of this status
    venue_order_id: str | None = None
    exit_kind: str | None = None  # "tp" | "sl" | "signal" ... for exits
    price: float | None = None
    tp: float | None = None
    sl: float | None = None


class OrderStatusRow(NamedTuple):
    """A committed order's later status (its fill's), in the order its UPDATE binds them."""

    status: str
    ts: float  # epoch seconds of this status
    client_order_id: str


class FillRow(NamedTuple):
    fill_id: str
    client_order_id: str
    symbol: str
    side: str
    kind: str
    qty: float
    price: float
    fee: float
    ts: float


class ClosedTradeRow(NamedTuple):
    symbol: str
    side: str  # "long" | "short"
    entry_ts: float
    entry_price: float
    exit_ts: float
    exit_price: float
    qty: float
    exit_reason: str
    pnl: float  # gross
    fees: float
    tp: float | None = None
    sl: float | None = None

    @property
    def net_pnl(self) -> float:
        return self.pnl - self.fees


class ExternalCloseRow(NamedTuple):
    """A position that ended outside the engine: what the engine knew of it, no exit."""

    symbol: str
    side: str  # "long" | "short"
    entry_ts: float
    entry_price: float
    qty: float
    seen_ts: float  # when the engine saw it gone (the close happened at or before)
    entry_fees: float
    last_mark: float | None = None  # the engine's last mark of the symbol
    tp: float | None = None
    sl: float | None = None


class EquityRow(NamedTuple):
    ts: float
    nav: float
    balance: float
    unrealized: float
    drawdown_pct: float


class FundingRow(NamedTuple):
    ts: float
    symbol: str
    rate: float
    mark: float
    qty: float
    payment: float


@dataclass
class JournalBatch:
    """The journal rows of one loop (or of several, if a commit failed), written by one commit."""

    orders: list[OrderValues] = field(default_factory=list)
    order_status: list[OrderStatusValues] = field(default_factory=list)
    fills: list[FillValues] = field(default_factory=list)
    closed_trades: list[ClosedTradeValues] = field(default_factory=list)
    equity: list[EquityRow] = field(default_factory=list)
    funding: list[FundingRow] = field(default_factory=list)
    external_closes: list[ExternalCloseRow] = field(default_factory=list)

    def order(self, row: OrderValues) -> None:
        self.orders.append(row)

    def order_status_change(self, row: OrderStatusValues) -> None:
        self.order_status.append(row)

    def fill(self, row: FillValues) -> None:
        self.fills.append(row)

    def closed_trade(self, row: ClosedTradeValues) -> None:
        self.closed_trades.append(row)

    def equity_sample(self, row: EquityRow) -> None:
        self.equity.append(row)

    def funding_payment(self, row: FundingRow) -> None:
        self.funding.append(row)

    def external_close(self, row: ExternalCloseRow) -> None:
        self.external_closes.append(row)

    def tables(self) -> tuple[tuple[type, list[Any]], ...]:
        """(row type, rows) of every table, in the order they are written."""
        return (
            (OrderRow, self.orders), (OrderStatusRow, self.order_status), (FillRow, self.fills),
            (ClosedTradeRow, self.closed_trades), (EquityRow, self.equity),
            (FundingRow, self.funding), (ExternalCloseRow, self.external_closes),
        )  # fmt: skip

    def clear(self) -> None:
        for _, rows in self.tables():
            rows.clear()

    def __len__(self) -> int:
        return sum(len(rows) for _, rows in self.tables())


def _number_fields(row_type: Any) -> tuple[str, ...]:
    return tuple(n for n, t in row_type.__annotations__.items() if "float" in str(t))


def _columns(row_type: Any) -> tuple[tuple[itemgetter[Any], bool], ...]:
    """(getter, may be NULL) of each number column."""
    return tuple(
        (itemgetter(row_type._fields.index(n)), "None" in str(row_type.__annotations__[n]))
        for n in _number_fields(row_type)
    )


_TYPES = (
    OrderRow, OrderStatusRow, FillRow, ClosedTradeRow, EquityRow, FundingRow, ExternalCloseRow,
)  # fmt: skip
# Per row type: the names and positions of its number columns, a getter per column (summed in C
# straight from the rows, without a tuple per row), and the position of its kind column.
_NUMBERS = {t: _number_fields(t) for t in _TYPES}
_NUMBER_GETTERS = {t: itemgetter(*(t._fields.index(n) for n in ns)) for t, ns in _NUMBERS.items()}
_COLUMNS = {t: _columns(t) for t in _TYPES}
_KIND_AT = {t: t._fields.index("kind") for t in (OrderRow, FillRow)}


def _refuse_non_finite(row_type: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    names = _NUMBERS[row_type]
    for i, row in enumerate(rows):
        for name, value in zip(names, _NUMBER_GETTERS[row_type](row), strict=True):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(
                    f"{row_type.__name__}.{name} is {value}: not stored (row {i} of the batch)"
                )


def check_rows(row_type: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """Refuse a NaN or infinite number, or an unknown kind, naming the field and the row."""
    if not rows:
        return
    total = 0.0
    try:  # the usual batch: a NaN or an infinity makes the sum of the columns' sums non-finite
        for get, nullable in _COLUMNS[row_type]:
            # a None in a NOT NULL column is left to that constraint when the row is written
            total += sum(filter(None, map(get, rows)) if nullable else map(get, rows))
        finite = math.isfinite(total)
    except (TypeError, OverflowError):  # a non-number, or ints too large: look value by value
        finite = False
    if not finite:  # a true non-finite value, or finite ones whose sum overflowed
        _refuse_non_finite(row_type, rows)
    at = _KIND_AT.get(row_type)
    if at is not None and not _KINDS.issuperset(map(itemgetter(at), rows)):
        i, kind = next((i, r[at]) for i, r in enumerate(rows) if r[at] not in _KINDS)
        raise ValueError(f"{row_type.__name__}.kind is {kind!r}, not one of {KINDS} "
                         f"(row {i} of the batch)")  # fmt: skip


def check_batch(batch: JournalBatch) -> None:
    """Refuse a batch with a non-finite number or an unknown kind (ValueError names both)."""
    for row_type, rows in batch.tables():
        check_rows(row_type, rows)


# A status update keeps what the first report knew and a later one omits.
_ORDER_CONFLICT = (
    " ON CONFLICT (client_order_id) DO UPDATE SET "
    "status = excluded.status, ts = excluded.ts, qty = excluded.qty, "
    "venue_order_id = coalesce(excluded.venue_order_id, orders.venue_order_id), "
    "price = coalesce(excluded.price, orders.price), exit_kind = coalesce(excluded.exit_kind, "
    "orders.exit_kind), tp = coalesce(excluded.tp, orders.tp), sl = coalesce(excluded.sl, orders.sl)"
)
# A status change touches nothing else: the order's qty, price and levels stay as placed.
_UPDATE_ORDER_STATUS = "UPDATE orders SET status = ?, ts = ? WHERE client_order_id = ?"

# A table's rows are written by multi-row INSERTs (``VALUES (...), (...), ...``) of two fixed
# sizes: one statement step per chunk instead of one per row (each step costs a reset, a
# release and re-take of the GIL, SQLite's mutexes and the statement's set-up), and the fixed
# texts stay in sqlite3's statement cache, prepared once per connection. SQLite inserts a VALUES
# list's rows in order, each seeing those before it (an order placed and updated in one chunk is
# upserted twice, as row by row), so the rows and their rowids are those of an INSERT per row.
# A larger chunk saves little more per row and costs more to prepare (SQLite compiles every
# row of the text); 32 x 12 parameters stays well under SQLite's historic limit of 999.
_CHUNK, _SMALL_CHUNK = 32, 8
# Fewer rows than the small chunk (a paced engine's few per commit) go one per step.
_SIZES = (_CHUNK, _SMALL_CHUNK, 1)


def _placeholders(width: int, rows: int) -> str:
    row = f"({', '.join('?' * width)})"
    return ", ".join([row] * rows)


def _closed_trade_values(rows: int) -> str:
    # net_pnl (pnl - fees, the same double subtraction) is computed by SQLite from the row's
    # own parameters (numbered: ?9 - ?10 of the row), so the row carries only what the trade is.
    width = len(ClosedTradeRow._fields)
    return ", ".join(
        f"({', '.join(f'?{k * width + i}' for i in range(1, width + 1))}, "
        f"?{k * width + 9} - ?{k * width + 10})"
        for k in range(rows)
    )


def _insert(table: str, columns: Sequence[str], values: str, tail: str = "") -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}{tail}"


def _statement(row_type: Any, rows: int) -> str:
    """The INSERT of ``rows`` rows of ``row_type``."""
    width = len(row_type._fields)
    if row_type is OrderRow:
        return _insert("orders", OrderRow._fields, _placeholders(width, rows), _ORDER_CONFLICT)
    if row_type is FillRow:
        values = _placeholders(width, rows)
        return _insert("fills", FillRow._fields, values, " ON CONFLICT (fill_id) DO NOTHING")
    if row_type is ClosedTradeRow:
        columns = (*ClosedTradeRow._fields, "net_pnl")
        return _insert("closed_trades", columns, _closed_trade_values(rows))
    table = {EquityRow: "equity", FundingRow: "funding", ExternalCloseRow: "external_closes"}[
        row_type
    ]
    return _insert(table, row_type._fields, _placeholders(width, rows))


_INSERTS: dict[Any, dict[int, str]] = {
    t: {n: _statement(t, n) for n in _SIZES}
    for t in (OrderRow, FillRow, ClosedTradeRow, EquityRow, FundingRow, ExternalCloseRow)
}


def _insert_rows(conn: sqlite3.Connection, row_type: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    sql, at, n = _INSERTS[row_type], 0, len(rows)
    for size in (_CHUNK, _SMALL_CHUNK):
        while n - at >= size:
            # the chunk's parameters as one flat list (sqlite3 binds a list as fast as a
            # tuple): extending a list by each row copies its tuple at once, where iterating a
            # chain of the rows costs twice as much per value
            conn.execute(sql[size], reduce(iadd, rows[at : at + size], []))
            at += size
    if at < n:  # sqlite3 binds an exact tuple faster than a named one: pass plain tuples
        conn.executemany(sql[1], map(tuple, rows[at:]))


def write_batch(conn: sqlite3.Connection, batch: JournalBatch) -> None:
    """Append the batch inside the caller's transaction (a few statements per non-empty table).

    The caller checks it first (:func:`check_batch`), before its transaction begins.
    """
    for row_type, rows in batch.tables():
        if not rows:
            continue
        if row_type is OrderStatusRow:  # an UPDATE each: few, and one row per statement
            conn.executemany(_UPDATE_ORDER_STATUS, map(tuple, rows))
        else:
            _insert_rows(conn, row_type, rows)
