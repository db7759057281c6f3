"""Concurrency: an exit scanner and a diagnostics reader on their own threads beside the loop.

The executor is single-threaded by design; what may run beside it is (a) an exit scanner that
works on *snapshot copies* of the ledger and registry handed over by the loop (message passing,
never the live objects), and (b) a reader of the counters (the /metrics scrape). Both record
into or read from the shared diagnostics. Over a whole replay, with the interpreter switching
threads as often as it can: no exception anywhere, every snapshot read keeps its identity and
never goes backwards, and the totals are exact: the loop's counters equal a single-threaded
run's, and the exit triggers equal that run's plus exactly what the scanner thread found.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from execution import diagnostics_metrics as diag
from execution.cli.run import paper_exchange_factory
from execution.clock import ReplayClock
from execution.config import load_config
from execution.exit_scanner import scan_tp_sl_exits
from execution.market.bars import merge_series, synthetic_series
from execution.position_ledger import LedgerPosition
from execution.position_tp_sl_registry import TpSlEntry
from execution.run.runner import EngineRunner, RunOptions

from .helpers import BASE_CONFIG, FIGURES

pytestmark = pytest.mark.timeout(120)

BARS = 35_000


@dataclass(frozen=True)
class LedgerView:
    positions: tuple[LedgerPosition, ...]

    def get_open_positions(self) -> list[LedgerPosition]:
        return list(self.positions)


@dataclass(frozen=True)
class RegistryView:
    entries: tuple[TpSlEntry, ...]

    def get_all_entries(self) -> list[TpSlEntry]:
        return list(self.entries)


Snapshot = tuple[LedgerView, RegistryView, dict[str, tuple[float, float, float, float]], float]


def _runner(state_dir: Path) -> tuple[EngineRunner, Any]:
    cfg = load_config(BASE_CONFIG)
    per_symbol = -(-BARS // len(cfg.symbols))
    series = synthetic_series(cfg.universe, per_symbol, cfg.data.synthetic, 60)
    merged = merge_series(series, cfg.symbols)
    clock = ReplayClock(merged.ts[0])
    opts = RunOptions("replay", "threads", BARS, False)
    return EngineRunner(cfg, opts, state_dir, clock, paper_exchange_factory(cfg, clock)), merged


def _totals() -> dict[str, Any]:
    s = diag.build_runtime_diagnostics_snapshot()
    vc, acc = s.veto_counters, s.accounting
    return {
        "signals": vc.total_signals,
        "orders": vc.total_orders,
        "vetoes": vc.total_vetoes,
        "by_reason": dict(vc.by_reason),
        "orders_by_kind": dict(acc["orders_by_kind"]),
        "failures_by_error": dict(acc["order_failures_by_error"]),
        "exits": Counter(s.exit_triggers_by_kind),
    }


@contextmanager
def _switch_often() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_exit_scanner_thread_and_counter_reader_beside_the_loop_give_exact_totals(
    tmp_path: Path,
) -> None:
    alone, merged = _runner(tmp_path / "alone")
    alone.run_replay(merged)
    alone.finish()
    reference = _totals()
    ledger_ref = alone.executor.ledger.to_dict(0.0)

    runner, merged = _runner(tmp_path / "threads")
    symbols = runner.executor.symbols
    mailbox: queue.Queue[Snapshot | None] = queue.Queue(maxsize=64)
    errors: list[BaseException] = []
    found: Counter[str] = Counter()
    scans = Counter[str]()
    stop_reading = threading.Event()
    step = runner.executor.step

    def step_and_hand_over(bars: Any) -> None:
        # The scanner sees the positions as they were before this loop, with its prices.
        ex = runner.executor
        ledger = LedgerView(tuple(replace(p) for p in ex.ledger.positions.values()))
        registry = RegistryView(tuple(ex.registry.entries.values()))
        prices = {symbols[b[0]]: (b[2], b[3], b[4], b[5]) for b in bars}
        mailbox.put((ledger, registry, prices, bars[0][1]))
        step(bars)

    def scanner() -> None:
        try:
            while (item := mailbox.get()) is not None:
                ledger, registry, prices, now = item
                for _ in range(2):  # twice per loop: more interleaving, still exact
                    result = scan_tp_sl_exits(ledger, registry, prices, {}, now)
                    found.update(i.kind.value for i in result.exit_intents)
                    scans["scans"] += 1
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    def reader() -> None:
        last = (0, 0, 0)
        try:
            while not stop_reading.is_set():
                s = diag.build_runtime_diagnostics_snapshot()
                vc = s.veto_counters
                now = (vc.total_signals, vc.total_orders, sum(s.exit_triggers_by_kind.values()))
                assert all(a >= b for a, b in zip(now, last, strict=True)), (now, last)
                # The identity is a between-loops invariant: mid-loop a reader may see a
                # signal the screener emitted whose risk verdict is not recorded yet.
                pending = s.accounting["unaccounted"]
                assert 0 <= pending <= len(symbols), s.accounting
                scans["max_signals_awaiting_verdict"] = max(
                    scans["max_signals_awaiting_verdict"], pending
                )
                last = now
                scans["reads"] += 1
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    runner.executor.step = step_and_hand_over  # type: ignore[method-assign]
    threads = [threading.Thread(target=scanner), threading.Thread(target=reader)]
    with _switch_often():
        for t in threads:
            t.start()
        try:
            runner.run_replay(merged)
            runner.finish()
        finally:
            mailbox.put(None)
            stop_reading.set()
            for t in threads:
                t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    got = _totals()
    exits = got.pop("exits")
    expected_exits = reference.pop("exits") + found
    assert got == reference, "the loop's counters changed with a thread beside it"
    assert exits == expected_exits, (exits, expected_exits, found)
    assert sum(found.values()) > 0 and scans["reads"] > 10
    assert (
        got["signals"] > 0 and diag.build_runtime_diagnostics_snapshot().accounting["identity_ok"]
    )
    assert runner.executor.ledger.to_dict(0.0) == ledger_ref, "the thread changed the trading"
    FIGURES["concurrency.scans_on_a_thread"] += scans["scans"]
    FIGURES["concurrency.exit_triggers_from_the_thread"] += sum(found.values())
    FIGURES["concurrency.snapshot_reads_on_a_thread"] += scans["reads"]
    FIGURES["concurrency.max_signals_seen_awaiting_verdict"] = max(
        FIGURES["concurrency.max_signals_seen_awaiting_verdict"],
        scans["max_signals_awaiting_verdict"],
    )


def test_counters_stay_exact_when_threads_hammer_them() -> None:
    """Every record_* the loop and a scanner thread use, at full contention: no update lost."""
    n = 20_000
    errors: list[BaseException] = []
    done = threading.Event()
    reads = Counter[str]()
    stages = ("screener", "risk", "router", "positions", "exit_scanner")

    def guarded(fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except BaseException as err:  # noqa: BLE001 - reported by the test
                errors.append(err)

        return run

    def scanner(kind: str) -> Any:
        def run() -> None:
            for _ in range(n):
                diag.record_exit_scan_run()
                diag.record_exit_trigger(kind, "BTCUSDT")
                diag.update_exit_pipeline_status(3, 2, 1, 0)

        return run

    def loop() -> None:
        for i in range(n):
            diag.record_loop_start()
            diag.record_signal_emitted("ETHUSDT")
            if i % 3 == 0:
                diag.record_veto("max_concurrent", "ETHUSDT")
            else:
                diag.record_risk_passed("ETHUSDT")
                if i % 3 == 1:
                    diag.record_order_placed("entry", "ETHUSDT")
                else:
                    diag.record_order_failed("transient", "entry", "ETHUSDT")
            diag.record_order_placed("exit", "ETHUSDT")
            diag.record_stages_success(stages)
            diag.record_loop_end()

    def reader() -> None:
        while not done.is_set():
            s = diag.build_runtime_diagnostics_snapshot()
            assert 0 <= s.accounting["unaccounted"] <= 1, s.accounting
            reads["n"] += 1

    workers = [threading.Thread(target=guarded(f)) for f in (scanner("tp"), scanner("sl"), loop)]
    watcher = threading.Thread(target=guarded(reader))
    with _switch_often():
        for t in [*workers, watcher]:
            t.start()
        for t in workers:
            t.join(timeout=60)
        done.set()
        watcher.join(timeout=60)
    assert not errors, errors
    s = diag.build_runtime_diagnostics_snapshot()
    vetoes = len(range(0, n, 3))
    assert s.exit_triggers_by_kind == {"tp": n, "sl": n}
    assert s.veto_counters.total_signals == n
    assert s.veto_counters.total_vetoes == vetoes == s.veto_counters.by_reason["max_concurrent"]
    assert s.accounting["orders_by_kind"] == {"entry": len(range(1, n, 3)), "exit": n}
    assert s.accounting["order_failures_by_error"] == {"transient": len(range(2, n, 3))}
    assert s.accounting["identity_ok"] is True and s.accounting["in_flight"] == 0
    assert s.liveness["loop_count"] == n
    FIGURES["concurrency.records_under_contention"] += 6 * n
    FIGURES["concurrency.snapshot_reads_on_a_thread"] += reads["n"]
