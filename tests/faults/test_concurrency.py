"""Concurrency: what really runs beside the engine loop reads while the loop writes.

The executor is single-threaded by design: the loop alone records into the diagnostics, and its
own exit scanner runs inside the loop. What runs beside it are readers: the /metrics endpoint
(prometheus_client's HTTP thread, collecting from the diagnostics snapshot and the runner's
last risk snapshot at each scrape) and the readers of what the state publisher writes (the
dashboard and the doctor read the runtime diagnostics and the state files). Over a whole replay,
with the interpreter switching threads as often as it can: no exception anywhere, every read is
complete and never goes backwards, and the totals are exact: the loop's counters, exits
included, equal a single-threaded run's, and so does the trading.
"""

from __future__ import annotations

import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from execution import diagnostics_metrics as diag
from execution.cli.run import paper_exchange_factory
from execution.clock import ReplayClock
from execution.config import load_config
from execution.market.bars import merge_series, synthetic_series
from execution.run.metrics_exporter import V7Collector, start_metrics_server
from execution.run.runner import EngineRunner, RunOptions
from execution.state_io import read_json_defensive
from execution.state_v7 import INTEL_FILE, POSITIONS_LEDGER_FILE, RISK_SNAPSHOT_FILE

from .helpers import FIGURES, frequent_publish_config

pytestmark = pytest.mark.timeout(120)

BARS = 35_000
PUBLISH_EVERY_BARS = 1_000  # ~35 publishes: the state files are rewritten while they are read
PUBLISHED = (INTEL_FILE, RISK_SNAPSHOT_FILE, POSITIONS_LEDGER_FILE)


def _runner(config: Path, state_dir: Path) -> tuple[EngineRunner, Any]:
    cfg = load_config(config)
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
        "exits": dict(s.exit_triggers_by_kind),
    }


@contextmanager
def _switch_often() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _scrape(text: str) -> dict[str, float]:
    """Sample name (labels folded in) -> value, parsed by prometheus_client's own parser."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def _cumulative(samples: dict[str, float]) -> tuple[float, float, float]:
    """Signals, vetoes and exit triggers in one scrape: counters, so they never go backwards."""

    def total(prefix: str) -> float:
        return sum(v for k, v in samples.items() if k.startswith(prefix))

    return total("v7_signals_total"), total("v7_vetoes_total"), total("v7_exit_triggers_total")


def _guarded(errors: list[BaseException], fn: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    return run


def test_metrics_scrapes_and_state_readers_beside_the_loop_leave_the_totals_exact(
    tmp_path: Path,
) -> None:
    config = frequent_publish_config(tmp_path / "config.json", PUBLISH_EVERY_BARS)
    alone, merged = _runner(config, tmp_path / "alone")
    alone.run_replay(merged)
    alone.finish()
    reference = _totals()
    ledger_ref = alone.executor.ledger.to_dict(0.0)

    runner, merged = _runner(config, tmp_path / "threads")
    n_symbols = len(runner.executor.symbols)
    errors: list[BaseException] = []
    seen = Counter[str]()
    stop = threading.Event()
    # As `v7 run` serves it: the risk gauges come from the runner's last published snapshot.
    server = start_metrics_server(0, lambda: runner.last_risk)

    def scraper() -> None:
        last = (0.0, 0.0, 0.0)
        while not stop.is_set():
            with urllib.request.urlopen(server.url, timeout=10) as resp:
                samples = _scrape(resp.read().decode())
            now = _cumulative(samples)
            assert all(a >= b for a, b in zip(now, last, strict=True)), (now, last)
            last = now
            seen["scrapes"] += 1
            seen["scrapes_with_nav"] += "v7_nav" in samples

    def diagnostics_reader() -> None:
        last = (0, 0, 0)
        while not stop.is_set():
            s = diag.build_runtime_diagnostics_snapshot()
            vc = s.veto_counters
            now = (vc.total_signals, vc.total_orders, sum(s.exit_triggers_by_kind.values()))
            assert all(a >= b for a, b in zip(now, last, strict=True)), (now, last)
            # The identity is a between-loops invariant: mid-loop a reader may see a signal the
            # screener emitted whose risk verdict is not recorded yet (one per symbol at most).
            pending = s.accounting["unaccounted"]
            assert 0 <= pending <= n_symbols, s.accounting
            seen["max_signals_awaiting_verdict"] = max(
                seen["max_signals_awaiting_verdict"], pending
            )
            last = now
            seen["snapshot_reads"] += 1

    def state_file_reader() -> None:
        while not stop.is_set():
            for name in PUBLISHED:
                read = read_json_defensive(runner.state_dir / name)
                # Written temp + fsync + replace: a reader finds the old file or the new one.
                assert read.status in ("ok", "missing"), (name, read.status, read.error)
                seen["state_file_reads"] += read.ok

    threads = [
        threading.Thread(target=_guarded(errors, fn))
        for fn in (scraper, diagnostics_reader, state_file_reader)
    ]
    try:
        with _switch_often():
            for t in threads:
                t.start()
            try:
                runner.run_replay(merged)
                runner.finish()
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=60)
        with urllib.request.urlopen(server.url, timeout=10) as resp:
            final_scrape = _scrape(resp.read().decode())
    finally:
        server.close()
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    got = _totals()
    assert got == reference, "the loop's counters changed with readers beside it"
    assert got["signals"] > 0 and sum(got["exits"].values()) > 0
    assert diag.build_runtime_diagnostics_snapshot().accounting["identity_ok"]
    assert runner.executor.ledger.to_dict(0.0) == ledger_ref, "a reader changed the trading"
    assert _cumulative(final_scrape) == (
        got["signals"],
        got["vetoes"],
        sum(got["exits"].values()),
    )
    assert final_scrape["v7_nav"] == runner.last_risk["nav"]
    assert seen["scrapes"] > 3 and seen["snapshot_reads"] > 10 and seen["state_file_reads"] > 10
    assert seen["scrapes_with_nav"] > 0  # some scrapes ran after a publish, mid-replay
    FIGURES["concurrency.metrics_scrapes_beside_the_loop"] += seen["scrapes"]
    FIGURES["concurrency.snapshot_reads_on_a_thread"] += seen["snapshot_reads"]
    FIGURES["concurrency.state_file_reads_beside_the_publisher"] += seen["state_file_reads"]
    FIGURES["concurrency.max_signals_seen_awaiting_verdict"] = max(
        FIGURES["concurrency.max_signals_seen_awaiting_verdict"],
        seen["max_signals_awaiting_verdict"],
    )


def test_counters_stay_exact_while_readers_snapshot_and_collect_them() -> None:
    """The loop records every kind of event at full speed; readers copy and collect meanwhile."""
    # The switch interval is tiny and the readers pause only half a millisecond between reads,
    # so 8,000 loops interleave with thousands of reads.
    n = 8_000
    errors: list[BaseException] = []
    done = threading.Event()
    reads = Counter[str]()
    stages = ("screener", "risk", "router", "positions", "exit_scanner")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(V7Collector())

    def loop() -> None:
        for i in range(n):
            reads["records"] += 8 + (i % 3 != 0) + 2 * (i % 2 == 0)
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
            diag.record_exit_scan_run()  # the loop's own exit scan, once per loop
            if i % 2 == 0:
                diag.record_exit_trigger("tp" if i % 4 == 0 else "sl", "BTCUSDT")
                diag.record_order_placed("exit", "BTCUSDT")
            diag.update_exit_pipeline_status(3, 2, 1, 0)
            diag.record_stages_success(stages)
            diag.record_loop_end()

    def snapshot_reader() -> None:
        while not done.is_set():
            s = diag.build_runtime_diagnostics_snapshot()
            assert 0 <= s.accounting["unaccounted"] <= 1, s.accounting
            reads["snapshots"] += 1
            done.wait(0.0005)  # a reader that never lets go of the GIL starves the loop

    def collector() -> None:
        last = (0.0, 0.0, 0.0)
        while not done.is_set():
            now = _cumulative(_scrape(generate_latest(registry).decode()))
            assert all(a >= b for a, b in zip(now, last, strict=True)), (now, last)
            last = now
            reads["collections"] += 1
            done.wait(0.0005)

    writer = threading.Thread(target=_guarded(errors, loop))
    readers = [threading.Thread(target=_guarded(errors, f)) for f in (snapshot_reader, collector)]
    with _switch_often():
        for t in [*readers, writer]:
            t.start()
        writer.join(timeout=240)
        done.set()
        for t in readers:
            t.join(timeout=60)
    assert not errors, errors
    assert not writer.is_alive(), "the loop did not finish: the counts below would be partial"
    s = diag.build_runtime_diagnostics_snapshot()
    vetoes = len(range(0, n, 3))
    assert s.exit_triggers_by_kind == {"tp": len(range(0, n, 4)), "sl": len(range(2, n, 4))}
    assert s.veto_counters.total_signals == n
    assert s.veto_counters.total_vetoes == vetoes == s.veto_counters.by_reason["max_concurrent"]
    assert s.accounting["orders_by_kind"] == {"entry": len(range(1, n, 3)), "exit": n // 2}
    assert s.accounting["order_failures_by_error"] == {"transient": len(range(2, n, 3))}
    assert s.accounting["identity_ok"] is True and s.accounting["in_flight"] == 0
    assert s.liveness["loop_count"] == n
    assert reads["snapshots"] > 0 and reads["collections"] > 0
    FIGURES["concurrency.records_beside_readers"] += reads["records"]
    FIGURES["concurrency.snapshot_reads_on_a_thread"] += reads["snapshots"]
    FIGURES["concurrency.collections_on_a_thread"] += reads["collections"]
