"""The trade journal: typed rows, the batch collected between commits, and their SQL.

Rows are appended (orders are upserted by client order id, since an order's status changes);
a fill seen twice (a venue re-reporting it after a restart) is kept once.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

KINDS = ("entry", "exit")


def _check(row: Any) -> None:
    """Refuse a NaN or infinite number, or an unknown kind, naming the field."""
    names, values = _NUMBER_FIELDS[type(row)]
    numbers = values(row)
    try:  # one C pass for the usual row: a NaN or an infinity makes the sum non-finite
        finite = math.isfinite(sum(filter(None, numbers)))
    except TypeError:  # a None or a non-number among them: look field by field
        finite = False
    if not finite:
        for name, value in zip(names, numbers, strict=True):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{type(row).__name__}.{name} is {value}: not stored")
    kind = getattr(row, "kind", None)
    if kind is not None and kind not in KINDS:
        raise ValueError(f"{type(row).__name__}.kind is {kind!r}, not one of {KINDS}")


@dataclass(frozen=True, slots=True)
class OrderRow:
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

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True, slots=True)
class FillRow:
    fill_id: str
    client_order_id: str
    symbol: str
    side: str
    kind: str
    qty: float
    price: float
    fee: float
    ts: float

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True, slots=True)
class ClosedTradeRow:
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

    def __post_init__(self) -> None:
        _check(self)

    @property
    def net_pnl(self) -> float:
        return self.pnl - self.fees


@dataclass(frozen=True, slots=True)
class EquityRow:
    ts: float
    nav: float
    balance: float
    unrealized: float
    drawdown_pct: float

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True, slots=True)
class FundingRow:
    ts: float
    symbol: str
    rate: float
    mark: float
    qty: float
    payment: float

    def __post_init__(self) -> None:
        _check(self)


@dataclass
class JournalBatch:
    """The journal rows of one loop (or of several, if a commit failed), written by one commit."""

    orders: list[OrderRow] = field(default_factory=list)
    fills: list[FillRow] = field(default_factory=list)
    closed_trades: list[ClosedTradeRow] = field(default_factory=list)
    equity: list[EquityRow] = field(default_factory=list)
    funding: list[FundingRow] = field(default_factory=list)

    def order(self, row: OrderRow) -> None:
        self.orders.append(row)

    def fill(self, row: FillRow) -> None:
        self.fills.append(row)

    def closed_trade(self, row: ClosedTradeRow) -> None:
        self.closed_trades.append(row)

    def equity_sample(self, row: EquityRow) -> None:
        self.equity.append(row)

    def funding_payment(self, row: FundingRow) -> None:
        self.funding.append(row)

    def clear(self) -> None:
        for rows in (self.orders, self.fills, self.closed_trades, self.equity, self.funding):
            rows.clear()

    def __len__(self) -> int:
        return (
            len(self.orders) + len(self.fills) + len(self.closed_trades) + len(self.equity)
            + len(self.funding)
        )  # fmt: skip


# Rows are built once per order, fill and trade of a replay: each class's number fields and
# column values are read by one attrgetter (a C call) rather than field by field.
_NUMBER_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}
_VALUES: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
for _row_type in (OrderRow, FillRow, ClosedTradeRow, EquityRow, FundingRow):
    _numbers = tuple(f.name for f in fields(_row_type) if "float" in str(f.type))
    assert len(_numbers) > 1  # attrgetter of one name returns the bare value, not a tuple
    _NUMBER_FIELDS[_row_type] = (_numbers, attrgetter(*_numbers))
    _VALUES[_row_type] = attrgetter(*(f.name for f in fields(_row_type)))

_ORDER_COLUMNS = tuple(f.name for f in fields(OrderRow))
# A status update keeps what the first report knew and a later one omits.
_UPSERT_ORDER = (
    f"INSERT INTO orders ({', '.join(_ORDER_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_ORDER_COLUMNS))}) ON CONFLICT (client_order_id) DO UPDATE SET "
    "status = excluded.status, ts = excluded.ts, qty = excluded.qty, "
    "venue_order_id = coalesce(excluded.venue_order_id, orders.venue_order_id), "
    "price = coalesce(excluded.price, orders.price), exit_kind = coalesce(excluded.exit_kind, "
    "orders.exit_kind), tp = coalesce(excluded.tp, orders.tp), sl = coalesce(excluded.sl, orders.sl)"
)
_INSERT_FILL = (
    "INSERT INTO fills (fill_id, client_order_id, symbol, side, kind, qty, price, fee, ts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fill_id) DO NOTHING"
)
_INSERT_CLOSED = (
    "INSERT INTO closed_trades (symbol, side, entry_ts, entry_price, exit_ts, exit_price, qty, "
    "exit_reason, pnl, fees, tp, sl, net_pnl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EQUITY = (
    "INSERT INTO equity (ts, nav, balance, unrealized, drawdown_pct) VALUES (?, ?, ?, ?, ?)"
)
_INSERT_FUNDING = (
    "INSERT INTO funding (ts, symbol, rate, mark, qty, payment) VALUES (?, ?, ?, ?, ?, ?)"
)


def write_batch(conn: sqlite3.Connection, batch: JournalBatch) -> None:
    """Append the batch inside the caller's transaction (one statement per non-empty table)."""
    if batch.orders:
        conn.executemany(_UPSERT_ORDER, map(_VALUES[OrderRow], batch.orders))
    if batch.fills:
        conn.executemany(_INSERT_FILL, map(_VALUES[FillRow], batch.fills))
    if batch.closed_trades:
        closed = _VALUES[ClosedTradeRow]
        rows = ((*closed(t), t.net_pnl) for t in batch.closed_trades)
        conn.executemany(_INSERT_CLOSED, rows)
    if batch.equity:
        conn.executemany(_INSERT_EQUITY, map(_VALUES[EquityRow], batch.equity))
    if batch.funding:
        conn.executemany(_INSERT_FUNDING, map(_VALUES[FundingRow], batch.funding))
