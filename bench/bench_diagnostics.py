"""Benchmark: what diagnostics cost on the hot path and on a whole replay.

1. ns per ``record_veto(reason, symbol)`` beside prometheus_client's
   ``Counter.labels(reason).inc()`` and a pre-bound child's ``.inc()``, in the same run
   (plus ``record_veto`` with diagnostics disabled, and the bare loop for reference).
2. Replay throughput with diagnostics on vs off: the engine in-process, as ``v7 run --fast``
   builds it, 10 symbols x 20k bars. On and off run at the same time in two processes pinned to
   one CPU and hand it to each other every 100 loops (bench/turns.py): whole runs one after the
   other scattered by 10-15 % here, so they could not tell 2 % from 5 %. The figure is the
   median of the pairs' on/off CPU-time ratios with its interquartile range (target: <= 3%),
   beside a few null pairs (on against on) that show the method's own spread. Both modes
   publish every 100k bars (``BENCH_PUBLISH``), about as often as the shipped
   once-a-wall-second rule at this speed: that rule makes the number of publishes depend on
   how long a run took. Each publish still pays diagnostics' own part (the snapshot, its JSON,
   the exported state in the commit); ``publishes_per_run`` shows the two modes made the same
   number.

3. With ``--instructions``: the instructions and first-level cache misses of one replay with
   diagnostics on and off (bench/diagnostics_counts.py, under valgrind).

Run: ``.venv/bin/python bench/bench_diagnostics.py`` -> bench/results/diagnostics.json
(``--runs N`` pairs, ``--quick`` for a smoke test, ``--instructions`` for the counts alone).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from bench import turns
from bench.pairs import budget_verdict, overhead_stats
from execution import diagnostics_metrics as dm
from execution.clock import ReplayClock
from execution.config import load_config
from execution.market.bars import MergedBars, merge_series, synthetic_series, timeframe_seconds
from execution.run.runner import EngineRunner, RunOptions
from execution.venues.paper import PaperExchange

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "diagnostics.json"
REPO_CONFIG = ROOT / "config" / "strategy_config.json"
T0 = 1_704_067_200.0
EXTRA_SYMBOLS = [
    {"symbol": "ADAUSDT", "tier": "alt", "base_price": 0.45, "qty_step": 1.0, "price_tick": 0.0001},
    {"symbol": "LTCUSDT", "tier": "alt", "base_price": 70.0, "qty_step": 0.001},
    {"symbol": "AVAXUSDT", "tier": "alt", "base_price": 35.0, "qty_step": 0.01},
    {"symbol": "LINKUSDT", "tier": "alt", "base_price": 15.0, "qty_step": 0.01},
]


# --- 1. per-call cost -------------------------------------------------------------------------


def _ns_per_call(fn: Callable[[], None], n: int, repeats: int) -> float:
    """Median over ``repeats`` of the wall time per call of ``fn`` in a tight loop, in ns."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(samples)


def bench_record_calls(n: int = 200_000, repeats: int = 7) -> dict[str, Any]:
    """Time record_veto against prometheus_client counters, interleaved in one run."""
    clock = ReplayClock(T0)
    counter = Counter("x", "x", ["reason"], registry=CollectorRegistry())
    child = counter.labels("max_concurrent")
    reason, symbol = "max_concurrent", "BTCUSDT"

    def record_veto() -> None:
        dm.record_veto(reason, symbol)

    def prom_labels_inc() -> None:
        counter.labels(reason).inc()

    def prom_child_inc() -> None:
        child.inc()

    def empty() -> None:
        return None

    def record_veto_disabled() -> None:
        dm.record_veto(reason, symbol)

    enabled = dm.DiagnosticsSettings()
    results: dict[str, list[float]] = {
        k: [] for k in ("record_veto", "prom_labels_inc", "prom_child_inc", "empty_call")
    }
    results["record_veto_disabled"] = []
    for _ in range(3):  # rounds, so that a noisy moment does not hit one variant only
        dm.configure(enabled, clock.now)
        results["record_veto"].append(_ns_per_call(record_veto, n, repeats))
        results["prom_labels_inc"].append(_ns_per_call(prom_labels_inc, n, repeats))
        results["prom_child_inc"].append(_ns_per_call(prom_child_inc, n, repeats))
        results["empty_call"].append(_ns_per_call(empty, n, repeats))
        dm.configure(dm.DiagnosticsSettings(enabled=False), clock.now)
        results["record_veto_disabled"].append(_ns_per_call(record_veto_disabled, n, repeats))
    dm.reset_diagnostics()
    ns = {k: round(statistics.median(v), 1) for k, v in results.items()}
    return {
        "calls_per_sample": n,
        "ns_per_call": ns,
        "ns_per_call_minus_loop": {
            k: round(v - ns["empty_call"], 1) for k, v in ns.items() if k != "empty_call"
        },
        "record_veto_vs_labels_inc": round(ns["record_veto"] / ns["prom_labels_inc"], 2),
        "record_veto_vs_child_inc": round(ns["record_veto"] / ns["prom_child_inc"], 2),
        "note": (
            "each call goes through a Python function (loop + call overhead is empty_call); "
            "called outside a loop, as here, record_veto also reads the clock (inside a loop "
            "it takes the loop's time)"
        ),
    }


# --- 2. replay throughput ---------------------------------------------------------------------


# Publishes by bar count only, the same number in both modes (see the module docstring).
BENCH_PUBLISH = {"min_interval_seconds": 1e9, "replay_every_bars": 100_000}


def bench_config(tmp: Path, n_symbols: int, enabled: bool) -> Path:
    """The repo config with ``n_symbols`` universe symbols, diagnostics on or off, and
    publishes every 100k bars."""
    cfg = json.loads(REPO_CONFIG.read_text())
    universe = [*cfg["universe"], *EXTRA_SYMBOLS]
    if len(universe) < n_symbols:
        raise ValueError(f"only {len(universe)} symbols available")
    cfg["universe"] = universe[:n_symbols]
    cfg["diagnostics"]["enabled"] = enabled
    cfg["publish"] = BENCH_PUBLISH
    path = tmp / f"config_{'on' if enabled else 'off'}.json"
    path.write_text(json.dumps(cfg))
    return path


def build_replay(
    config_path: Path, state_dir: Path, n_bars: int, wrap: Callable[[MergedBars], Any] = lambda m: m
) -> Callable[[], dict[str, Any]]:
    """Build the engine as `v7 run --fast` does (synthetic data, paper) over ``wrap(bars)``;
    return the replay (the final publish included), which returns what it did."""
    cfg = load_config(config_path)
    per_symbol = -(-n_bars // len(cfg.symbols))
    tf = timeframe_seconds(cfg.data.timeframe)
    merged = merge_series(
        synthetic_series(cfg.universe, per_symbol, cfg.data.synthetic, tf), cfg.symbols
    )
    clock = ReplayClock(merged.ts[0])
    source = f"synthetic:seed={cfg.data.synthetic.seed}:n={per_symbol}"
    opts = RunOptions("replay", source, n_bars, False)
    runner = EngineRunner(
        cfg, opts, state_dir, clock, lambda _saved: PaperExchange.from_config(cfg, clock)
    )
    publishes = 0
    publish = runner.publish

    def counted_publish(running: bool = True) -> None:
        nonlocal publishes
        publishes += 1
        publish(running)

    runner.publish = counted_publish  # type: ignore[method-assign]
    bars = wrap(merged)
    gc.collect()

    def replay() -> dict[str, Any]:
        runner.run_replay(bars)
        runner.finish()  # the final publish (and its diagnostics snapshot) belongs to the run
        ledger = runner.executor.ledger
        return {
            "bars": runner.bars_done,
            "publishes": publishes,
            "closed_count": ledger.closed_count,
            "realized_pnl": ledger.realized_pnl,
        }

    return replay


def replay_once(config_path: Path, state_dir: Path, n_bars: int) -> dict[str, Any]:
    """One replay in this process, timed (wall and CPU)."""
    replay = build_replay(config_path, state_dir, n_bars)
    c0, t0 = time.process_time(), time.perf_counter()
    done = replay()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {**done, "elapsed_s": elapsed, "cpu_s": cpu, "bars_per_cpu_s": done["bars"] / cpu}


RUNS = 16  # pairs: a turn-taking pair reads within ~1 % (sd) here; 16 put the median within ~0.3
NULL_RUNS = 4  # pairs of the same replay twice: the method's own spread, read beside the figure
TARGET_OVERHEAD_PCT = 3.0


def _turn_build(config_path: Path, state_dir: Path, n_bars: int) -> turns.Replay:
    def build(wrap: Callable[[MergedBars], turns.TakingTurns]) -> Callable[[], dict[str, Any]]:
        return build_replay(config_path, state_dir, n_bars, wrap)

    return build


def bench_replay(
    n_symbols: int = 10, bars_per_symbol: int = 20_000, runs: int = RUNS, null_runs: int = NULL_RUNS
) -> dict[str, Any]:
    """Diagnostics on vs off: ``runs`` turn-taking pairs (bench/turns.py) on one CPU, which of
    the two starts alternating; the overhead is the median of the pairs' on/off CPU-time
    ratios, with its mean and interquartile range, and a verdict against the 3 % budget only
    when the interquartile range lies on one side of it (bench/pairs.py). ``null_runs`` pairs
    of "on" against itself show what the method reads when nothing differs.
    """
    why_not = turns.available()
    if why_not:
        return {"skipped": why_not}
    n_bars = n_symbols * bars_per_symbol
    per_mode: dict[str, list[turns.TurnResult]] = {"on": [], "off": []}
    null: list[float] = []
    with tempfile.TemporaryDirectory(prefix="v7-bench-") as tmp_name:
        tmp = Path(tmp_name)
        configs = {m: bench_config(tmp, n_symbols, m == "on") for m in ("on", "off")}

        def pair(a: str, b: str, i: int) -> tuple[turns.TurnResult, turns.TurnResult]:
            build_a = _turn_build(configs[a], tmp / f"{a}-a{i}", n_bars)
            build_b = _turn_build(configs[b], tmp / f"{b}-b{i}", n_bars)
            return turns.run_pair(build_a, build_b, a_first=i // 2 % 2 == 0)

        for i in range(runs):
            # Which process is forked first and which has the first turn both take turns.
            if i % 2 == 0:
                on, off = pair("on", "off", i)
            else:
                off, on = pair("off", "on", i)
            per_mode["on"].append(on)
            per_mode["off"].append(off)
        for i in range(null_runs):
            first, second = pair("on", "on", i)
            null.append(first.cpu_s / second.cpu_s)
    on, off = per_mode["on"], per_mode["off"]
    ratios = [a.cpu_s / b.cpu_s for a, b in zip(on, off, strict=True)]
    cpu = {m: statistics.median(r.cpu_s for r in rs) for m, rs in per_mode.items()}
    decisions = {(r.extra["closed_count"], r.extra["realized_pnl"]) for r in on + off}
    paired = overhead_stats(ratios)
    return {
        "method": (
            f"turn-taking pairs (bench/turns.py): on and off in two processes on one CPU, "
            f"handing it over every {turns.EVERY_LOOPS} loops"
        ),
        "pinned_cpu": turns.pinned_cpu(),
        "symbols": n_symbols,
        "bars_per_symbol": bars_per_symbol,
        "bars_per_run": n_bars,
        "pairs": runs,
        "median_cpu_s_on": round(cpu["on"], 4),
        "median_cpu_s_off": round(cpu["off"], 4),
        "median_bars_per_cpu_s_on": round(n_bars / cpu["on"]),
        "median_bars_per_cpu_s_off": round(n_bars / cpu["off"]),
        "overhead_paired_cpu_pct": paired["median_pct"],
        "overhead_paired_cpu_mean_pct": paired["mean_pct"],
        "overhead_paired_cpu_iqr_pct": paired["iqr_pct"],
        # Whether the budget is kept, said only when the pairs' spread allows it (bench/pairs.py).
        "verdict_paired_cpu": budget_verdict(ratios, TARGET_OVERHEAD_PCT),
        "null_pairs": overhead_stats(null) if null else None,
        "cpu_s_on": [round(r.cpu_s, 4) for r in on],
        "cpu_s_off": [round(r.cpu_s, 4) for r in off],
        "target_overhead_pct": TARGET_OVERHEAD_PCT,
        "same_decisions_on_off": len(decisions) == 1,
        "publishes_per_run": sorted({r.extra["publishes"] for r in on + off}),
        "publish": BENCH_PUBLISH,
    }


def run(quick: bool = False, runs: int = RUNS, replay_only: bool = False) -> dict[str, Any]:
    """Run both benchmarks; ``quick`` shrinks them (for a smoke test)."""
    result: dict[str, Any] = {
        "benchmark": "diagnostics",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    if not replay_only:
        result["record_calls"] = (
            bench_record_calls(n=20_000, repeats=3) if quick else bench_record_calls()
        )
    result["replay"] = (
        bench_replay(n_symbols=10, bars_per_symbol=2_000, runs=1, null_runs=0)
        if quick
        else bench_replay(runs=runs)
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"on/off pairs ({RUNS})")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON path")
    parser.add_argument("--replay-only", action="store_true", help="only the replay on vs off")
    parser.add_argument("--instructions", action="store_true",
                        help="only instructions and cache misses (valgrind; ~6 min)")  # fmt: skip
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.instructions:
        from bench.diagnostics_counts import instruction_counts

        result = {"benchmark": "diagnostics_instructions", "replay": instruction_counts()}
        args.out = args.out.with_name("diagnostics_instructions.json")
    else:
        result = run(args.quick, args.runs, args.replay_only)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
