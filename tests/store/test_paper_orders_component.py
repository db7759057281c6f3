"""The paper account's order history is a memory component of its own (``paper_orders``).

The account changes every loop (its last prices), the history only when an order does: a
paced engine commits every loop, and a history at its 10,000-order cap is ~1 MB of JSON.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from execution.run.memory import paper_account_whole
from execution.store import Memory, Store, read_memory
from execution.store.journal import JournalBatch
from execution.types import OrderAck
from execution.venues.paper_account import PaperAccount, account_to_dict

T0 = 1_704_067_200.0


class RecordingConnection(sqlite3.Connection):
    """Remembers the names of the memory components each statement writes."""

    written: list[str] = []

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        rows = list(parameters)
        if sql.lstrip().startswith("INSERT INTO memory"):
            RecordingConnection.written.extend(name for name, _ in rows)
        return super().executemany(sql, rows)


def _account(orders: int) -> PaperAccount:
    account = PaperAccount(10_000.0, 10_000.0)
    for k in range(orders):
        cid = f"v7e{k:020x}"
        account.orders[cid] = OrderAck(cid, f"paper-{k}", "filled", T0 + 60 * k)
    return account


def _memory(account: PaperAccount, now: float) -> Memory:
    """The two components as the engine captures them (capture_memory's split)."""
    paper = account_to_dict(account, now)
    orders = paper.pop("orders")
    return Memory(paper_account=paper, paper_orders=orders)


def test_a_loop_that_changes_no_order_does_not_rewrite_the_order_history(tmp_path: Path) -> None:
    account = _account(300)
    RecordingConnection.written = []
    with Store.open(tmp_path, durable=True, connection_factory=RecordingConnection) as store:
        store.commit(_memory(account, T0), JournalBatch())
        assert "paper_orders" in RecordingConnection.written, "the first commit writes it"
        RecordingConnection.written = []
        account.last_prices["BTCUSDT"] = 42_000.0  # what every loop changes
        store.commit(_memory(account, T0 + 60), JournalBatch())
        assert RecordingConnection.written == ["paper_account"]
        account.orders["v7enew"] = OrderAck("v7enew", "paper-new", "open", T0 + 120)
        store.commit(_memory(account, T0 + 120), JournalBatch())
        assert "paper_orders" in RecordingConnection.written, "an order changed: rewritten"
    memory = read_memory(tmp_path)
    assert memory is not None and "v7enew" in memory.paper_orders
    assert "orders" not in memory.paper_account


def test_the_account_read_back_whole_equals_the_account_saved(tmp_path: Path) -> None:
    account = _account(12)
    with Store.open(tmp_path, durable=False) as store:
        store.commit(_memory(account, T0), JournalBatch())
    memory = read_memory(tmp_path)
    assert memory is not None
    whole = paper_account_whole(vars(memory))
    assert whole == account_to_dict(account, T0)


def test_a_store_that_kept_the_history_inside_the_account_is_read_as_it_is(
    tmp_path: Path,
) -> None:
    account = _account(7)
    with Store.open(tmp_path, durable=False) as store:  # the layout before paper_orders
        store.commit(Memory(paper_account=account_to_dict(account, T0)), JournalBatch())
    memory = read_memory(tmp_path)
    assert memory is not None and memory.paper_orders == {}
    whole = paper_account_whole(vars(memory))
    assert whole is not None and whole["orders"] == account_to_dict(account, T0)["orders"]


def test_a_live_venue_has_no_paper_account_to_read_back() -> None:
    assert paper_account_whole(vars(Memory())) is None
