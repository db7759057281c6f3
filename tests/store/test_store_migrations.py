"""Stores written by every released schema open in this v7, migrated, with all they held."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from execution.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    ExternalCloseRow,
    JournalBatch,
    Store,
    db_path,
    migrate,
    read_closed_trades,
    read_equity,
    read_external_closes,
    read_fills,
    read_funding,
    read_memory,
    read_orders,
    stream_rows,
)
from execution.store.journal import write_batch
from execution.store.memory import encode_memory

from .helpers import loop_batch, memory_at


def _write_v1_store(state_dir: Path, loops: int) -> None:
    """A store as v7 schema 1 wrote it: its tables, its memory and `loops` loops of journal."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = db_path(state_dir)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, path, MIGRATIONS[:1])
        for n in range(1, loops + 1):
            conn.execute("BEGIN IMMEDIATE")
            write_batch(conn, loop_batch(n))
            conn.executemany(
                "INSERT INTO memory (component, data) VALUES (?, ?) ON CONFLICT (component) "
                "DO UPDATE SET data = excluded.data",
                encode_memory(memory_at(n)).items(),
            )
            conn.execute("COMMIT")
    finally:
        conn.close()


def _journal(state_dir: Path) -> tuple[list[dict[str, object]], ...]:
    return (
        read_orders(state_dir), read_fills(state_dir), read_closed_trades(state_dir),
        read_equity(state_dir), read_funding(state_dir),
    )  # fmt: skip


def _indexes(state_dir: Path) -> set[str]:
    conn = sqlite3.connect(db_path(state_dir))
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    finally:
        conn.close()
    return {name for (name,) in rows}


def test_a_v1_store_opens_migrated_with_its_memory_and_journal_and_goes_on(tmp_path: Path) -> None:
    old, new = tmp_path / "v1", tmp_path / "fresh"
    _write_v1_store(old, 4)
    assert "orders_by_symbol" in _indexes(old)
    assert read_memory(old, lock_held=True) == memory_at(4), "what a start resumes, unmigrated"
    assert len(read_closed_trades(old)) == 1, "`v7 trades` reads an old store (or its backup)"
    with Store.open(new, durable=True) as store:  # the same loops, into a store made by this v7
        for n in range(1, 6):
            store.commit(memory_at(n), loop_batch(n))
    with Store.open(old, durable=True) as store:
        assert store.load() == memory_at(4)
        store.commit(memory_at(5), loop_batch(5))
    assert SCHEMA_VERSION == 3
    assert _journal(old) == _journal(new), "row for row what a store made by this v7 holds"
    assert read_memory(old) == memory_at(5)
    assert {"orders_by_symbol", "fills_by_symbol"}.isdisjoint(_indexes(old) | _indexes(new))
    assert "closed_trades_by_symbol" in _indexes(old) & _indexes(new)
    assert read_orders(old, symbol="BTCUSDT") == read_orders(new), "by symbol, by a scan"
    assert read_external_closes(old) == read_external_closes(new) == []


def test_a_v2_store_is_read_without_the_external_closes_table_and_gains_it_when_opened(
    tmp_path: Path,
) -> None:
    """A backup of schema 2 reads as it is (`v7 trades`, the engine's resume check); the engine
    that opens it adds the table, and the position it then sees closed outside is journaled."""
    state = tmp_path / "v2"
    state.mkdir()
    conn = sqlite3.connect(db_path(state), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, db_path(state), MIGRATIONS[:2])
        conn.execute("BEGIN IMMEDIATE")
        write_batch(conn, loop_batch(1))
        conn.executemany(
            "INSERT INTO memory (component, data) VALUES (?, ?)",
            encode_memory(memory_at(1)).items(),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    assert read_external_closes(state) == []
    assert list(stream_rows(state, "external_closes")) == []
    assert read_memory(state, lock_held=True) == memory_at(1), "not refused as a damaged store"
    batch = JournalBatch()
    batch.external_close(ExternalCloseRow("ETHUSDT", "short", 1.0, 3000.0, 0.5, 9.0, 0.3, 2950.0))
    with Store.open(state, durable=True) as store:
        store.load()
        store.commit(memory_at(2), batch)
    (row,) = read_external_closes(state)
    assert row["symbol"] == "ETHUSDT" and row["seen_ts"] == 9.0 and row["tp"] is None
