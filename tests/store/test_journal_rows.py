"""The journal's rows as written: NULL where a value is absent, refused where one is required."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from execution.store import JournalBatch, OrderRow, Store, StoreError, db_path, read_orders

from .helpers import T0, memory_at


def test_an_absent_value_is_stored_as_sql_null(tmp_path: Path) -> None:
    batch = JournalBatch()
    batch.order(tuple(OrderRow("c1", "BTCUSDT", "sell", "exit", 0.1, "filled", T0)))
    with Store.open(tmp_path, durable=True) as store:
        store.commit(memory_at(1), batch)
    conn = sqlite3.connect(db_path(tmp_path))
    try:
        types = conn.execute(
            "SELECT typeof(venue_order_id), typeof(exit_kind), typeof(price), typeof(tp), "
            "typeof(sl) FROM orders"
        ).fetchall()
    finally:
        conn.close()
    assert types == [("null",) * 5]
    assert read_orders(tmp_path)[0]["tp"] is None


def test_a_missing_quantity_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    batch = JournalBatch()
    batch.order(tuple(OrderRow("c1", "BTCUSDT", "buy", "entry", 0.1, "open", T0)))
    batch.order(tuple(OrderRow("c2", "BTCUSDT", "buy", "entry", None, "open", T0)))  # type: ignore[arg-type]
    with Store.open(tmp_path, durable=True) as store, pytest.raises(StoreError, match="NOT NULL"):
        store.commit(memory_at(1), batch)
    assert read_orders(tmp_path) == [] and len(batch) == 2
