"""An order's journal row follows the order: its fills make it partially_filled, then filled.

The venue says whether a fill completes its order; the journal changes the row in the batch
while it is there, and updates the committed row (status and time only) once it is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paper_venue_kit import bar, make_exchange, order

from execution.cli.run import paper_exchange_factory
from execution.clock import ReplayClock
from execution.config import EngineConfig, load_config
from execution.market.bars import merge_series, synthetic_series
from execution.order_router import OrderRouter
from execution.run.driver import Loop, replay_loops
from execution.run.journal import EngineJournal
from execution.run.runner import EngineRunner, RunOptions
from execution.store import (
    JournalBatch,
    OrderRow,
    OrderStatusRow,
    Store,
    read_fills,
    read_orders,
)
from execution.types import OrderRequest
from execution.venues.paper import FaultPlan, PaperExchange

from .helpers import ROOT, T0, memory_at

CONFIG = ROOT / "config" / "strategy_config.json"
PLACED = ("client_order_id", "venue_order_id", "symbol", "side", "kind", "exit_kind", "qty",
          "price", "tp", "sl")  # fmt: skip


def _placed(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in PLACED)


def _place(ex: PaperExchange, journal: EngineJournal, req: OrderRequest) -> None:
    ack = ex.place_order(req)
    journal.order(req, True, ack.status, ack.exchange_order_id)


def _bar(ex: PaperExchange, journal: EngineJournal, price: float, ts: float) -> None:
    ex.on_bar(bar(price, ts=ts))
    for fill in ex.poll_fills():
        journal.fill(fill)


def _split_entry(tmp_path: Path, commit_after_each_bar: bool) -> list[list[dict[str, Any]]]:
    """An entry split in two by the venue, filled at two bars; the orders table after each."""
    ex = make_exchange(FaultPlan(seed=1, script=["partial_fill"]))
    ex.on_bar(bar(10_000.0, ts=0.0))
    batch = JournalBatch()
    journal = EngineJournal(batch)
    seen = []
    with Store.open(tmp_path, durable=False) as store:
        _place(ex, journal, order("buy", 0.005, cid="split"))
        store.commit(memory_at(1), batch)  # placed: committed as open
        for n, (price, ts) in enumerate(((10_100.0, 60.0), (10_200.0, 120.0)), start=2):
            _bar(ex, journal, price, ts)
            if commit_after_each_bar:
                store.commit(memory_at(n), batch)
                seen.append(read_orders(tmp_path))
        store.commit(memory_at(9), batch)
        seen.append(read_orders(tmp_path))
    return seen


def test_a_split_entry_reads_partially_filled_then_filled_at_each_fills_time(
    tmp_path: Path,
) -> None:
    after_first, after_second, _ = _split_entry(tmp_path, commit_after_each_bar=True)
    assert [(r["status"], r["ts"]) for r in after_first] == [("partially_filled", 60.0)]
    assert [(r["status"], r["ts"]) for r in after_second] == [("filled", 120.0)]
    # the status change leaves what the order was placed with: its qty is the whole order's
    assert _placed(after_second[0]) == _placed(after_first[0])
    assert after_second[0]["qty"] == 0.005
    assert sum(f["qty"] for f in read_fills(tmp_path)) == 0.005


def test_a_status_updated_after_a_commit_reads_as_one_changed_in_the_batch(
    tmp_path: Path,
) -> None:
    committed_each_bar = _split_entry(tmp_path / "a", commit_after_each_bar=True)[-1]
    committed_once = _split_entry(tmp_path / "b", commit_after_each_bar=False)[-1]
    assert committed_each_bar == committed_once


def test_two_fills_inside_one_batch_leave_one_order_row_and_no_update(tmp_path: Path) -> None:
    ex = make_exchange(FaultPlan(seed=1, script=["partial_fill"]))
    ex.on_bar(bar(10_000.0, ts=0.0))
    batch = JournalBatch()
    journal = EngineJournal(batch)
    _place(ex, journal, order("buy", 0.005, cid="split"))
    _bar(ex, journal, 10_100.0, 60.0)
    _bar(ex, journal, 10_200.0, 120.0)
    assert len(batch.orders) == 1 and batch.order_status == []
    assert (batch.orders[0][5], batch.orders[0][6]) == ("filled", 120.0)


def test_a_trigger_exit_filled_at_acceptance_is_filled_at_its_fills_time(tmp_path: Path) -> None:
    ex = make_exchange()
    ex.on_bar(bar(10_000.0, ts=0.0))
    batch = JournalBatch()
    journal = EngineJournal(batch)
    _place(ex, journal, order("buy", 0.005, cid="entry"))
    _bar(ex, journal, 10_000.0, 60.0)
    _place(ex, journal, order("sell", 0.005, reduce_only=True, trigger=10_300.0, cid="tp"))
    for fill in ex.poll_fills():
        journal.fill(fill)
    with Store.open(tmp_path, durable=False) as store:
        store.commit(memory_at(1), batch)
    assert [(r["client_order_id"], r["status"]) for r in read_orders(tmp_path)] == [
        ("entry", "filled"), ("tp", "filled")
    ]  # fmt: skip


def test_a_status_change_of_a_committed_order_rewrites_only_its_status_and_time(
    tmp_path: Path,
) -> None:
    placed = OrderRow("c1", "BTCUSDT", "buy", "entry", 0.1, "open", T0, "v1", None, 42_000.0,
                      43_000.0, 41_000.0)  # fmt: skip
    with Store.open(tmp_path, durable=False) as store:
        batch = JournalBatch()
        batch.order(tuple(placed))
        store.commit(memory_at(1), batch)
        batch.order_status_change(tuple(OrderStatusRow("filled", T0 + 60, "c1")))
        batch.order_status_change(tuple(OrderStatusRow("filled", T0 + 60, "never-placed")))
        store.commit(memory_at(2), batch)
    [row] = read_orders(tmp_path)
    assert row == {**placed._asdict(), "status": "filled", "ts": T0 + 60}


# --- the engine ---------------------------------------------------------------------------------


def _cfg() -> EngineConfig:
    return load_config(CONFIG)


def _loops(cfg: EngineConfig, bars_per_symbol: int) -> Iterator[Loop]:
    series = synthetic_series(cfg.universe, bars_per_symbol, cfg.data.synthetic, 60)
    return replay_loops(merge_series(series, cfg.symbols), 0)


def _assert_rows_follow_the_venue(runner: EngineRunner, state: Path) -> list[dict[str, Any]]:
    """Every order row reads what the venue says of its order (partially_filled is the venue's
    open with a fill); an open row is one the venue still holds pending."""
    venue = runner.executor.exchange
    assert isinstance(venue, PaperExchange)
    rows = read_orders(state)
    filled = {f["client_order_id"] for f in read_fills(state)}
    for row in rows:
        ack = venue.find_order(row["client_order_id"])
        if ack is None:  # refused: the venue never held it
            assert row["status"] == "failed", row
            continue
        want = "partially_filled" if ack.status == "open" and row["client_order_id"] in filled \
            else ack.status  # fmt: skip
        assert row["status"] == want, (row, ack)
    return rows


def test_after_a_paper_replay_no_order_is_open_unless_the_venue_still_holds_it_pending(
    tmp_path: Path,
) -> None:
    cfg = _cfg()
    series = synthetic_series(cfg.universe, 3000, cfg.data.synthetic, 60)
    merged = merge_series(series, cfg.symbols)
    clock = ReplayClock(merged.ts[0])
    opts = RunOptions("replay", "test:order-status", None, False)
    runner = EngineRunner(cfg, opts, tmp_path, clock, paper_exchange_factory(cfg, clock))
    runner.run_replay(merged)
    runner.finish()
    rows = _assert_rows_follow_the_venue(runner, tmp_path)
    kinds = {(r["kind"], r["status"]) for r in rows}
    assert ("entry", "filled") in kinds and ("exit", "filled") in kinds
    assert sum(r["status"] == "open" for r in rows) <= len(cfg.symbols)


def test_a_paced_engine_committing_every_loop_updates_each_order_it_committed_open(
    tmp_path: Path,
) -> None:
    cfg = _cfg()
    loops = _loops(cfg, 400)
    first = next(loops)
    clock = ReplayClock(first[0][1])
    opts = RunOptions("realtime", "test:paced", None, False)
    runner = EngineRunner(cfg, opts, tmp_path, clock, paper_exchange_factory(cfg, clock))
    for group in loops:
        clock.set(group[0][1])
        runner.step(group)
        runner.check_point(runner.bars_done + len(group))  # a commit every loop
    # An entry fills at the open of the bar after it was placed: each one was committed open,
    # and its row was then updated after the commit.
    rows = _assert_rows_follow_the_venue(runner, tmp_path)
    assert sum(r["kind"] == "entry" and r["status"] == "filled" for r in rows) > 0
    runner.finish()


def test_under_the_partial_fills_fault_plan_every_order_row_reads_the_venues_own_status(
    tmp_path: Path,
) -> None:
    # Split exits racing other exits for one position: some of them end without a fill
    # (canceled, or filled by their first half only), and the venue reports that end.
    cfg = _cfg()
    series = synthetic_series(cfg.universe, 21_000 // len(cfg.symbols), cfg.data.synthetic, 60)
    merged = merge_series(series, cfg.symbols)
    clock = ReplayClock(merged.ts[0])
    plan = FaultPlan(seed=3, partial_fill=0.6, timeout_after_accept=0.2)  # tests/faults' plan

    def venue(saved: dict[str, Any] | None) -> PaperExchange:
        return PaperExchange.from_config(cfg, clock, faults=plan)

    opts = RunOptions("replay", "test:order-ends", None, False)
    runner = EngineRunner(cfg, opts, tmp_path, clock, venue)
    ex = runner.executor  # the engine's retries without their wall-clock waits
    ex.router = OrderRouter(ex.exchange, cfg.exchange.max_retries, 0.0, sleep=lambda s: None)
    runner.run_replay(merged)
    runner.finish()
    rows = _assert_rows_follow_the_venue(runner, tmp_path)
    assert ("exit", "canceled") in {(r["kind"], r["status"]) for r in rows}
