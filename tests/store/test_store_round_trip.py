"""What is committed is what is loaded: every memory component and every journal table."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from execution.store import (
    COMPONENTS,
    MIGRATIONS,
    SCHEMA_VERSION,
    ClosedTradeRow,
    EquityRow,
    FillRow,
    FundingRow,
    JournalBatch,
    Memory,
    OrderRow,
    Store,
    StoreError,
    db_path,
    migrate,
    read_closed_trades,
    read_equity,
    read_fills,
    read_funding,
    read_memory,
    read_orders,
)

from .helpers import T0, loop_batch, memory_at, trade


def test_a_new_store_has_no_memory_and_an_empty_journal(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state", durable=True) as store:
        assert store.load() is None
    assert read_memory(tmp_path / "state") is None
    assert read_closed_trades(tmp_path / "state") == []


def test_every_component_round_trips_through_the_store_and_the_reader(tmp_path: Path) -> None:
    memory = memory_at(7)
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory, JournalBatch())
    assert all(getattr(memory, name) for name in COMPONENTS), "the fixture fills every component"
    with Store.open(tmp_path, durable=False) as store:
        assert store.load() == memory
    assert read_memory(tmp_path) == memory


def test_the_latest_commit_wins_and_unchanged_components_survive(tmp_path: Path) -> None:
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory_at(1), JournalBatch())
        later = memory_at(1)
        later.progress = {"bars_processed": 2}
        store.commit(later, JournalBatch())
    with Store.open(tmp_path, durable=True) as store:
        assert store.load() == later


def test_the_journal_round_trips_with_net_pnl_and_newest_last(tmp_path: Path) -> None:
    with Store.open(tmp_path, durable=True) as store:
        for n in range(1, 7):
            store.commit(memory_at(n), loop_batch(n))
    trades = read_closed_trades(tmp_path)
    assert [t["entry_ts"] for t in trades] == [trade("BTCUSDT", 3).entry_ts,
                                               trade("BTCUSDT", 6).entry_ts]  # fmt: skip
    expected = {**trade("BTCUSDT", 6)._asdict(), "net_pnl": 12.0, "id": 2}
    assert trades[-1] == expected
    assert [e["ts"] for e in read_equity(tmp_path)] == [T0 + 60 * n for n in range(1, 7)]
    assert [f["fill_id"] for f in read_fills(tmp_path)] == [f"f{n}" for n in range(1, 7)]
    assert len(read_funding(tmp_path)) == 2
    assert [e["ts"] for e in read_equity(tmp_path, limit=2)] == [T0 + 300, T0 + 360]


def test_readers_filter_by_symbol(tmp_path: Path) -> None:
    batch = JournalBatch()
    for k, symbol in enumerate(("BTCUSDT", "ETHUSDT", "BTCUSDT")):
        batch.closed_trade(trade(symbol, k))
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory_at(1), batch)
    assert [t["id"] for t in read_closed_trades(tmp_path, symbol="BTCUSDT")] == [1, 3]
    assert [t["symbol"] for t in read_closed_trades(tmp_path, symbol="ETHUSDT")] == ["ETHUSDT"]
    assert read_closed_trades(tmp_path, symbol="DOGEUSDT") == []


def test_an_order_status_change_updates_the_order_and_keeps_what_it_knew(tmp_path: Path) -> None:
    first = OrderRow("c1", "BTCUSDT", "sell", "exit", 0.1, "new", T0, venue_order_id="v9",
                     exit_kind="sl", tp=43000.0, sl=41000.0)  # fmt: skip
    filled = OrderRow("c1", "BTCUSDT", "sell", "exit", 0.1, "filled", T0 + 5, price=41000.0)
    with Store.open(tmp_path, durable=True) as store:
        batch = JournalBatch()
        batch.order(first)
        batch.order(OrderRow("c2", "ETHUSDT", "buy", "entry", 1.0, "new", T0 + 1))
        store.commit(memory_at(1), batch)
        batch.order(filled)
        store.commit(memory_at(2), batch)
    orders = read_orders(tmp_path)
    assert [o["client_order_id"] for o in orders] == ["c1", "c2"], "first seen order is kept"
    assert orders[0] == {**first._asdict(), "status": "filled", "ts": T0 + 5, "price": 41000.0}


def test_a_fill_reported_twice_is_journaled_once(tmp_path: Path) -> None:
    fill = FillRow("f1", "c1", "BTCUSDT", "buy", "entry", 0.1, 42000.0, 0.2, T0)
    with Store.open(tmp_path, durable=True) as store:
        for n in (1, 2):
            batch = JournalBatch()
            batch.fill(fill)
            store.commit(memory_at(n), batch)
    assert len(read_fills(tmp_path)) == 1


def test_a_successful_commit_empties_the_batch(tmp_path: Path) -> None:
    batch = loop_batch(3)
    assert len(batch) == 5
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory_at(3), batch)
    assert len(batch) == 0


def test_non_finite_numbers_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    memory = memory_at(1)
    memory.book["BTCUSDT"]["mark"] = math.nan
    with Store.open(tmp_path, durable=True) as store:
        with pytest.raises(ValueError, match=r"memory\.book.*NaN"):
            store.commit(memory, loop_batch(1))
        assert store.load() is None
    assert read_equity(tmp_path) == []


def test_a_journal_row_with_an_infinity_is_refused_naming_field_and_row(tmp_path: Path) -> None:
    batch = loop_batch(1)
    rows = len(batch)
    batch.equity_sample(EquityRow(T0, math.inf, 1.0, 0.0, 0.0))
    with Store.open(tmp_path, durable=True) as store:
        with pytest.raises(ValueError, match=r"EquityRow\.nav is inf.*row 1 of the batch"):
            store.commit(memory_at(1), batch)
        assert store.load() is None
    assert len(batch) == rows + 1, "nothing written: the batch keeps its rows"
    assert read_equity(tmp_path) == [] and read_orders(tmp_path) == []


def test_a_component_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    memory = memory_at(1)
    memory.pending_intents = {"not": "a list"}  # type: ignore[assignment]
    with Store.open(tmp_path, durable=True) as store, pytest.raises(TypeError, match="list"):
        store.commit(memory, JournalBatch())


def test_rows_with_an_unknown_kind_are_refused(tmp_path: Path) -> None:
    batch = JournalBatch()
    batch.order(OrderRow("c1", "BTCUSDT", "buy", "reduce", 0.1, "new", T0))
    with (
        Store.open(tmp_path, durable=True) as store,
        pytest.raises(ValueError, match=r"OrderRow\.kind is 'reduce'.*row 0"),
    ):
        store.commit(memory_at(1), batch)
    assert read_orders(tmp_path) == []


def _add_note_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE closed_trades ADD COLUMN note TEXT NOT NULL DEFAULT ''")


def test_a_v1_store_is_migrated_forward_by_an_added_migration(tmp_path: Path) -> None:
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory_at(3), loop_batch(3))
    conn = sqlite3.connect(db_path(tmp_path), isolation_level=None)
    try:
        was = migrate(conn, db_path(tmp_path), (*MIGRATIONS, _add_note_column))
        assert was == SCHEMA_VERSION == 3
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        notes = conn.execute("SELECT note FROM closed_trades").fetchall()
        again = migrate(conn, db_path(tmp_path), (*MIGRATIONS, _add_note_column))
    finally:
        conn.close()
    assert version == ("4",) and notes == [("",)], "the existing row got the new column"
    assert again == 4, "a second run has nothing to do"


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory_at(1), JournalBatch())

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE equity ADD COLUMN x REAL")
        raise RuntimeError("half-way")

    conn = sqlite3.connect(db_path(tmp_path), isolation_level=None)
    try:
        with pytest.raises(RuntimeError):
            migrate(conn, db_path(tmp_path), (*MIGRATIONS, broken))
        columns = [row[1] for row in conn.execute("PRAGMA table_info(equity)")]
    finally:
        conn.close()
    assert "x" not in columns
    assert read_memory(tmp_path) == memory_at(1)


def test_a_store_from_a_newer_v7_is_refused_by_the_engine_and_the_readers(tmp_path: Path) -> None:
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory_at(1), JournalBatch())
    conn = sqlite3.connect(db_path(tmp_path))
    conn.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 9 is newer") as err:
        Store.open(tmp_path, durable=True)
    assert err.value.path == db_path(tmp_path)
    with pytest.raises(StoreError, match="schema version 9"):
        read_closed_trades(tmp_path)


def test_a_closed_store_refuses_to_commit(tmp_path: Path) -> None:
    store = Store.open(tmp_path, durable=True)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.commit(Memory(), JournalBatch())


def _rows() -> list[Any]:
    """One valid row of each journal type, every optional number set."""
    return [
        OrderRow("c1", "BTCUSDT", "buy", "entry", 0.1, "new", T0, "v1", None, 100.0, 103.0, 98.0),
        FillRow("f1", "c1", "BTCUSDT", "buy", "entry", 0.1, 100.0, 0.004, T0),
        ClosedTradeRow(
            "BTCUSDT", "long", T0, 100.0, T0 + 60, 101.0, 0.1, "tp", 0.1, 0.008, 101.0, 98.0
        ),  # fmt: skip
        EquityRow(T0, 10_000.0, 9_990.0, 10.0, 0.01),
        FundingRow(T0, "BTCUSDT", 0.0001, 100.0, 0.1, -0.001),
    ]


def _batch_of(rows: list[NamedTuple]) -> JournalBatch:
    batch = JournalBatch()
    add = {OrderRow: batch.order, FillRow: batch.fill, ClosedTradeRow: batch.closed_trade,
           EquityRow: batch.equity_sample, FundingRow: batch.funding_payment}  # fmt: skip
    for row in rows:
        add[type(row)](row)  # type: ignore[operator]
    return batch


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_every_number_field_of_every_row_refuses_a_non_finite_value(
    tmp_path: Path, bad: float
) -> None:
    with Store.open(tmp_path, durable=False) as store:
        for row in _rows():
            for name in row._fields:
                if isinstance(getattr(row, name), float):
                    batch = _batch_of([row, row._replace(**{name: bad})])
                    pattern = rf"{type(row).__name__}\.{name} is .*row 1 of the batch"
                    with pytest.raises(ValueError, match=pattern):
                        store.commit(Memory(), batch)
    assert read_orders(tmp_path) == [] and read_equity(tmp_path) == []


def test_a_row_with_huge_but_finite_numbers_is_kept(tmp_path: Path) -> None:
    with Store.open(tmp_path, durable=False) as store:
        store.commit(Memory(), _batch_of([EquityRow(T0, 1e308, 1e308, 0.0, 0.0)]))
    assert read_equity(tmp_path)[0]["nav"] == 1e308  # their sum overflows, not them


def test_the_engines_plain_row_tuples_have_the_named_rows_columns() -> None:
    from typing import get_args

    from execution.store.journal import ClosedTradeValues, FillValues, OrderValues

    for named, plain in ((OrderRow, OrderValues), (FillRow, FillValues),
                         (ClosedTradeRow, ClosedTradeValues)):  # fmt: skip
        numbers = ["float" in str(t) for t in named.__annotations__.values()]
        assert numbers == ["float" in str(t) for t in get_args(plain)]
