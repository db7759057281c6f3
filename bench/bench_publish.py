"""State publish latency: intel.json with full diagnostics, and the engine's whole publish.

intel.json: diagnostics configured as shipped (5-minute buckets, 288 of them = a day, a
500-signal window) and filled through the public ``record_*`` API over a simulated day: 200
symbols, every veto reason, every bucket, orders, failures, exit triggers, every stage alive
and gating flags for every symbol. Each timed call is ``compute_and_write_intel_state`` (build
the snapshot under the lock, shape it, write it atomically with fsync) into a temp dir.

Whole publish: ``EngineRunner.publish`` (paper account, ledger, registry, positions, risk
snapshot with VaR, intel.json, checkpoint with every return window) after a replay of 200
symbols, which is what the engine pays every publish interval.

p50/p99 over the calls; target p99 <= 50 ms for intel.json (a publish a second must stay a
small fraction of the loop). Run alone: ``.venv/bin/python -m bench.bench_publish``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    config_dict,
    headline,
    prepare_replay,
    replay_runner,
    temp_dir,
    write_result,
)
from execution import diagnostics_metrics as diag
from execution.clock import ReplayClock
from execution.risk_limits import VetoReason
from execution.state_publish import compute_and_write_intel_state

NAME = "publish"
SYMBOLS = 200
BUCKET_S, BUCKETS = 300.0, 288
INTEL_CALLS, PUBLISH_CALLS = 200, 30
TARGET_INTEL_P99_MS = 50.0
T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


def _symbols(n: int) -> list[str]:
    return [f"S{i:03d}USDT" for i in range(n)]


def fill_diagnostics(clock: ReplayClock, symbols: list[str]) -> int:
    """Record a busy day: every reason in every bucket, every symbol; return the veto count."""
    diag.configure(
        diag.DiagnosticsSettings(
            window_signals=500,
            window_seconds=3600.0,
            heatmap_bucket_seconds=BUCKET_S,
            heatmap_max_buckets=BUCKETS,
        ),
        clock.now,
    )
    reasons = [r.value for r in VetoReason]
    vetoes = 0
    for b in range(BUCKETS):
        clock.set(T0 + b * BUCKET_S)
        for k, reason in enumerate(reasons):
            for j in range(4):  # 4 symbols per reason and bucket: every symbol within a day
                symbol = symbols[(b * 4 + j + k * 17) % len(symbols)]
                diag.record_signal_emitted(symbol)
                diag.record_veto(reason, symbol)
                vetoes += 1
        symbol = symbols[b % len(symbols)]
        diag.record_signal_emitted(symbol)
        diag.record_risk_passed(symbol)
        diag.record_order_placed("entry", symbol)
        diag.record_exit_trigger("tp" if b % 2 else "sl", symbol)
        diag.record_order_placed("exit", symbol)
        if b % 24 == 0:
            diag.record_signal_emitted(symbol)
            diag.record_risk_passed(symbol)
            diag.record_order_failed("transient", "entry", symbol)
        diag.record_loop_start()
        diag.record_exit_scan_run()
        diag.record_stages_success(diag.STAGES)
        diag.record_loop_end()
    diag.set_gating_flags({s: reasons[: (i % 4)] for i, s in enumerate(symbols)})
    return vetoes


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "calls": len(ms),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
    }


def time_intel(calls: int, state_dir: Path) -> tuple[dict[str, float], int]:
    """Time compute_and_write_intel_state; return its percentiles and the file size."""
    engine = {"mode": "replay", "running": True, "symbols": _symbols(SYMBOLS)}
    bad = {"total": 0, "by_symbol": {}}
    ms = []
    for _ in range(calls):
        start = time.perf_counter()
        compute_and_write_intel_state(engine, bad, T0 + BUCKETS * BUCKET_S, state_dir)
        ms.append((time.perf_counter() - start) * 1e3)
    return _percentiles(ms), (state_dir / "intel.json").stat().st_size


def time_engine_publish(calls: int, per_symbol: int) -> dict[str, Any]:
    """Replay 200 symbols, then time the runner's whole publish (before its final one, which
    closes the store)."""
    prep = prepare_replay(config_dict(SYMBOLS), SYMBOLS * per_symbol)
    with temp_dir("v7-bench-pub-") as d:
        runner = replay_runner(prep, d)
        try:
            runner.run_replay(prep.merged)
            ms = []
            for _ in range(calls):
                start = time.perf_counter()
                runner.publish()
                ms.append((time.perf_counter() - start) * 1e3)
        finally:
            runner.finish()
        sizes = {p.name: p.stat().st_size for p in d.iterdir() if p.suffix == ".json"}
    return {
        **_percentiles(ms),
        "symbols": SYMBOLS,
        "bars_replayed": SYMBOLS * per_symbol,
        "open_positions": len(runner.executor.ledger.positions),
        "file_bytes": sizes,
    }


def run(small: bool = False) -> dict[str, Any]:
    """Publish latencies (``small``: few calls, for the smoke test)."""
    clock = ReplayClock(T0)
    vetoes = fill_diagnostics(clock, _symbols(SYMBOLS))
    with temp_dir("v7-bench-intel-") as d:
        intel, size = time_intel(10 if small else INTEL_CALLS, d)
    whole = time_engine_publish(3 if small else PUBLISH_CALLS, 600 if small else 2_500)
    p99 = intel["p99_ms"]
    return {
        "benchmark": NAME,
        "intel": {
            **intel,
            "bytes": size,
            "symbols": SYMBOLS,
            "reasons": len(VetoReason),
            "buckets": BUCKETS,
            "vetoes_recorded": vetoes,
        },
        "engine_publish": whole,
        "target_intel_p99_ms": TARGET_INTEL_P99_MS,
        "target_met": p99 <= TARGET_INTEL_P99_MS,
        "headline": [
            headline(
                "intel.json publish p99 (full diag)",
                p99,
                "ms",
                f"<= {TARGET_INTEL_P99_MS:g}",
                round(p99 / TARGET_INTEL_P99_MS, 2),
            ),
            headline(
                f"whole publish p50/p99, {SYMBOLS} sym",
                f"{whole['p50_ms']:.1f} / {whole['p99_ms']:.1f}",
                "ms",
                "-",
                None,
            ),
        ],
    }


def main() -> None:
    result = run()
    path = write_result(NAME, result)
    i, w = result["intel"], result["engine_publish"]
    print(f"intel.json: p50 {i['p50_ms']} ms, p99 {i['p99_ms']} ms ({i['bytes']:,} bytes)")
    print(f"whole publish ({w['symbols']} symbols): p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
