"""The paper account's order history is encoded once per order, and stored exactly as it is."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from execution.state_io import PreEncoded
from execution.store import Memory, Store, read_memory
from execution.store.journal import JournalBatch
from execution.store.memory import encode_memory
from execution.types import OrderAck
from execution.venues.paper_account import PaperAccount, account_to_dict, prune_orders

T0 = 1_704_067_200.0


def _place(account: PaperAccount, k: int, status: str = "open") -> None:
    cid = f"v7e{k:020x}"
    account.orders[cid] = OrderAck(cid, f"paper-{k}", status, T0 + 60 * k)


def _stored(account: PaperAccount) -> Any:
    component = account_to_dict(account, T0)
    return json.loads(encode_memory(Memory(paper_account=component))["paper_account"])


def _plain(account: PaperAccount) -> Any:
    return json.loads(json.dumps(account_to_dict(account, T0)))


def test_the_stored_account_equals_the_account_through_placements_fills_and_pruning() -> None:
    account = PaperAccount(10_000.0, 10_000.0)
    assert _stored(account) == _plain(account)
    for k in range(40):
        _place(account, k)
        if k % 3 == 0:  # a fill replaces the ack with its new status
            cid = f"v7e{k // 2:020x}"
            old = account.orders[cid]
            account.orders[cid] = OrderAck(cid, old.exchange_order_id, "filled", old.ts)
        prune_orders(account.orders, 25)
        assert _stored(account) == _plain(account), f"after order {k}"
    orders = account_to_dict(account, T0)["orders"]
    assert orders.json == json.dumps(dict(orders), separators=(",", ":")), "as json.dumps writes it"
    assert isinstance(orders, PreEncoded), "the store splices it rather than walking it"
    text = encode_memory(Memory(paper_account=account_to_dict(account, T0)))["paper_account"]
    assert text == json.dumps(_plain(account), separators=(",", ":")), "byte for byte"


def test_an_order_with_a_nan_time_is_refused_by_the_store_not_by_the_views_writer() -> None:
    account = PaperAccount(10_000.0, 10_000.0)
    _place(account, 1)
    account.orders["bad"] = OrderAck("bad", "paper-2", "open", math.nan)
    view = account_to_dict(account, T0)  # the views' writer replaces NaN itself
    with pytest.raises(ValueError, match=r"memory\.paper_account: orders\.bad"):
        encode_memory(Memory(paper_account=view))


def test_the_committed_account_reads_back_as_a_plain_document(tmp_path: Path) -> None:
    account = PaperAccount(10_000.0, 9_990.5)
    for k in range(5):
        _place(account, k, "filled")
    with Store.open(tmp_path, durable=True) as store:
        store.commit(Memory(paper_account=account_to_dict(account, T0)), JournalBatch())
    memory = read_memory(tmp_path)
    assert memory is not None and memory.paper_account == _plain(account)
