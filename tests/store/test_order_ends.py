"""An order the venue ends without a fill reads, in the journal, what the venue says of it.

The paper venue cancels a reduce-only exit whose position is gone when it comes due, and ends a
split exit whose second half found nothing left as ``filled``: neither emits a fill, so the venue
reports the end itself, the executor polls it with the fills, and the journal sets the order's
row as it does for a fill (in the batch, or an UPDATE of the committed row).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paper_venue_kit import bar, make_exchange, order

from execution.run.journal import EngineJournal
from execution.store import JournalBatch, Store, read_orders
from execution.types import OrderRequest
from execution.venues.base import OrderEnd
from execution.venues.paper import FaultPlan, PaperExchange

from .helpers import memory_at


class _Journaled:
    """A paper venue whose orders, fills and order ends go to a journal, as the executor sends
    them (fills first, then the ends), committed to a store when asked."""

    def __init__(self, ex: PaperExchange, store: Store) -> None:
        self.ex, self.store = ex, store
        self.batch = JournalBatch()
        self.journal = EngineJournal(self.batch)
        self.commits = 0

    def place(self, req: OrderRequest) -> None:
        ack = self.ex.place_order(req)
        self.journal.order(req, True, ack.status, ack.exchange_order_id)

    def bar(self, price: float, ts: float) -> None:
        self.ex.on_bar(bar(price, ts=ts))
        for fill in self.ex.poll_fills():
            self.journal.fill(fill)
        for end in self.ex.poll_order_ends():
            self.journal.order_status(*end)

    def commit(self) -> None:
        self.commits += 1
        self.store.commit(memory_at(self.commits), self.batch)


def _statuses(state: Path) -> dict[str, tuple[str, float]]:
    return {r["client_order_id"]: (r["status"], r["ts"]) for r in read_orders(state)}


def _two_exits_for_one_position(
    tmp_path: Path, split_first: bool, commit_before_due: bool
) -> dict[str, tuple[str, float]]:
    """A long of 0.005, then two reduce-only exits of all of it pending at once: the first
    (split in two halves if ``split_first``) and a second one; the journal's final statuses."""
    script = ["ok", "partial_fill" if split_first else "ok", "ok"]
    ex = make_exchange(FaultPlan(seed=1, script=script))
    ex.on_bar(bar(10_000.0, ts=0.0))
    with Store.open(tmp_path, durable=False) as store:
        venue = _Journaled(ex, store)
        venue.place(order("buy", 0.005, cid="entry"))
        venue.bar(10_000.0, 60.0)
        venue.place(order("sell", 0.005, reduce_only=True, cid="first"))
        venue.place(order("sell", 0.005, reduce_only=True, cid="second"))
        if commit_before_due:
            venue.commit()
        venue.bar(10_100.0, 120.0)
        venue.bar(10_200.0, 180.0)
        venue.commit()
        for cid in ("entry", "first", "second"):  # the journal reads what the venue says
            ack = ex.find_order(cid)
            assert ack is not None and _statuses(tmp_path)[cid][0] == ack.status
    return _statuses(tmp_path)


def test_a_pending_reduce_only_exit_whose_position_is_gone_at_fill_time_ends_canceled(
    tmp_path: Path,
) -> None:
    statuses = _two_exits_for_one_position(tmp_path, split_first=False, commit_before_due=False)
    assert statuses == {
        "entry": ("filled", 60.0), "first": ("filled", 120.0), "second": ("canceled", 120.0)
    }  # fmt: skip


def test_a_split_exit_whose_second_half_fills_nothing_ends_filled_at_that_bar(
    tmp_path: Path,
) -> None:
    # bar 120: the first half of "first" fills 0.002, "second" closes the other 0.003; bar 180:
    # the rest of "first" finds no position and ends the order without a fill.
    statuses = _two_exits_for_one_position(tmp_path, split_first=True, commit_before_due=False)
    assert statuses == {
        "entry": ("filled", 60.0), "first": ("filled", 180.0), "second": ("filled", 120.0)
    }  # fmt: skip


def test_an_order_end_after_a_commit_reads_as_one_reported_inside_the_batch(
    tmp_path: Path,
) -> None:
    for split in (False, True):
        updated = _two_exits_for_one_position(tmp_path / f"u{split}", split, True)
        in_batch = _two_exits_for_one_position(tmp_path / f"b{split}", split, False)
        assert updated == in_batch


def _venue_with_an_unpolled_end() -> PaperExchange:
    ex = make_exchange()
    ex.on_bar(bar(10_000.0, ts=0.0))
    ex.place_order(order("buy", 0.005, cid="entry"))
    ex.on_bar(bar(10_000.0, ts=60.0))
    ex.place_order(order("sell", 0.005, reduce_only=True, cid="first"))
    ex.place_order(order("sell", 0.005, reduce_only=True, cid="second"))
    assert ex.on_bars(["BTCUSDT"], [(0, 120.0, 10_100.0, 10_100.0, 10_100.0, 10_100.0, 1.0)])
    return ex


def test_unpolled_order_ends_survive_a_save_and_restore_of_the_paper_account(
    tmp_path: Path,
) -> None:
    ex = _venue_with_an_unpolled_end()
    path = tmp_path / "paper_exchange.json"
    ex.save(path)
    back = make_exchange()
    assert back.load(path) == "ok"
    assert back.to_dict() == ex.to_dict()
    assert back.poll_order_ends() == ex.poll_order_ends() == [OrderEnd("second", "canceled", 120.0)]
    assert back.poll_order_ends() == []  # polled once


def test_a_paper_account_saved_before_order_ends_were_reported_still_loads() -> None:
    saved: dict[str, Any] = json.loads(json.dumps(_venue_with_an_unpolled_end().to_dict()))
    del saved["unpolled_order_ends"]
    back = make_exchange().resume(saved)
    assert back.poll_order_ends() == []
    assert back.find_order("second") is not None
