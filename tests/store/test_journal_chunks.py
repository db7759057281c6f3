"""A batch is written in multi-row chunks: the journal holds what a commit per row would hold.

Orders upserted twice in one batch (placed, then filled with the venue id first known), fills
reported twice, closed trades whose net P&L SQLite computes, at sizes around every chunk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from execution.store import (
    EquityRow,
    FillRow,
    FundingRow,
    JournalBatch,
    OrderRow,
    Store,
    StoreError,
    db_path,
)

from .helpers import SYMBOLS, T0, memory_at, trade

TABLES = ("orders", "fills", "closed_trades", "equity", "funding")


def _batches(rows: int) -> list[JournalBatch]:
    """``rows`` loops' journal, one batch per loop; a fill and an order repeat a later loop's."""
    batches = []
    for k in range(rows):
        b, ts, symbol = JournalBatch(), T0 + 60 * k, SYMBOLS[k % len(SYMBOLS)]
        cid = f"c{k // 2}"  # every order is placed in one loop and filled in the next
        if k % 2 == 0:
            b.order(tuple(OrderRow(cid, symbol, "buy", "entry", 0.1 + k, "new", ts, tp=1.0 + k)))
        else:
            b.order(tuple(OrderRow(cid, symbol, "buy", "entry", 0.1 + k, "filled", ts,
                                   venue_order_id=f"v{k}", price=100.0 + k, sl=0.5 + k)))  # fmt: skip
        fill_id = f"f{k - 3 if k % 5 == 4 else k}"  # a venue re-reporting an earlier fill
        b.fill(tuple(FillRow(fill_id, cid, symbol, "sell", "exit", 0.2, 99.0 + k, 0.01 * k, ts)))
        b.closed_trade(tuple(trade(symbol, k, pnl=0.1 * k - 3.0, fees=0.03 * k)))
        b.equity_sample(EquityRow(ts, 10_000.0 + k, 9_990.0 - k, 0.5 * k, 0.001 * k))
        b.funding_payment(FundingRow(ts, symbol, 1e-4 * k, 100.0 + k, 0.1, -0.01 * k))
        batches.append(b)
    return batches


def _journal_written(state_dir: Path, batches: list[JournalBatch]) -> dict[str, list[tuple]]:
    with Store.open(state_dir, durable=False) as store:
        for n, batch in enumerate(batches, 1):
            store.commit(memory_at(n), batch)
    conn = sqlite3.connect(db_path(state_dir))
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in TABLES}
    finally:
        conn.close()


def _as_one_batch(batches: list[JournalBatch]) -> JournalBatch:
    whole = JournalBatch()
    for b in batches:
        for (_, rows), (_, into) in zip(b.tables(), whole.tables(), strict=True):
            into.extend(rows)  # type: ignore[attr-defined]
    return whole


@pytest.mark.parametrize("rows", [1, 7, 8, 9, 31, 32, 33, 47, 100])
def test_one_batch_holds_what_a_commit_per_row_writes(tmp_path: Path, rows: int) -> None:
    row_by_row = _journal_written(tmp_path / "rows", _batches(rows))
    at_once = _journal_written(tmp_path / "batch", [_as_one_batch(_batches(rows))])
    assert at_once == row_by_row
    assert len(at_once["orders"]) == (rows + 1) // 2 and len(at_once["closed_trades"]) == rows


def test_an_order_placed_and_filled_in_one_chunk_keeps_what_each_report_knew(
    tmp_path: Path,
) -> None:
    journal = _journal_written(tmp_path, [_as_one_batch(_batches(40))])
    placed = journal["orders"][0]  # c0: placed with a tp, filled with a venue id, price and sl
    assert placed == ("c0", "v1", "BTCUSDT", "buy", "entry", None, 1.1, 101.0, "filled",
                      T0 + 60, 1.0, 1.5)  # fmt: skip
    net = [(pnl, fees, net_pnl) for *_, pnl, fees, net_pnl in journal["closed_trades"]]
    assert all(net_pnl == pnl - fees for pnl, fees, net_pnl in net)


def test_a_refused_row_inside_a_chunk_writes_nothing_of_the_batch(tmp_path: Path) -> None:
    batch = _as_one_batch(_batches(40))
    cid, symbol, side, kind, _, *rest = batch.orders[20]
    batch.orders[20] = (cid, symbol, side, kind, None, *rest)  # a row of the first 32-row chunk
    with Store.open(tmp_path, durable=True) as store, pytest.raises(StoreError, match="NOT NULL"):
        store.commit(memory_at(1), batch)
    conn = sqlite3.connect(db_path(tmp_path))
    try:
        assert [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES] == [0] * 5
    finally:
        conn.close()
    assert len(batch) == 200  # kept for the next commit
