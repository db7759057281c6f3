"""Scaling: replay bars/s and peak RSS for 1, 10, 50 and 200 symbols; memory over a 2M-bar run.

Every measurement runs in its own subprocess (``--child``), so its peak RSS is that run's
peak and nothing is shared between runs. Each symbol count replays the same total number of
bars (500k: 500k x 1 symbol ... 2.5k x 200 symbols) of the shipped config's synthetic data,
paper exchange, diagnostics on, publishing as configured; median of 3 runs (wall clock, and
CPU time, which a busy shared machine disturbs less).

The long run replays 2M bars (10 symbols x 200k) while a thread samples RSS and bars done
every 0.1 s. Memory is flat when RSS at the end is within a few percent of RSS at 25% of the
run (the bars themselves are loaded before the run starts, so the difference is what the
engine accumulates). It also reports bars/s per quarter of the run: throughput must not decay.

Run alone: ``.venv/bin/python -m bench.bench_scaling`` (writes bench/results/scaling.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from typing import Any

from bench.common import (
    config_dict,
    current_rss_mb,
    headline,
    median,
    peak_rss_mb,
    prepare_replay,
    run_prepared,
    temp_dir,
    write_result,
)
from execution.run.runner import EngineRunner

NAME = "scaling"
SYMBOL_COUNTS = (1, 10, 50, 200)
TOTAL_BARS = 500_000
RUNS = 3
LONG_SYMBOLS, LONG_BARS_PER_SYMBOL = 10, 200_000
SAMPLE_EVERY_S = 0.1
FLAT_GROWTH_PCT = 5.0


def _child(n_symbols: int, per_symbol: int, sample: bool) -> dict[str, Any]:
    """One replay in this process: bars/s, peak RSS and (``sample``) an RSS time series."""
    total = n_symbols * per_symbol
    prep = prepare_replay(config_dict(n_symbols), total)
    rss_before = current_rss_mb()
    samples: list[tuple[float, int, float]] = []
    holder: list[EngineRunner] = []
    done = threading.Event()

    def sampler() -> None:
        start = time.perf_counter()
        while not done.wait(SAMPLE_EVERY_S):
            bars = holder[0].bars_done if holder else 0
            samples.append((time.perf_counter() - start, bars, current_rss_mb()))

    thread = threading.Thread(target=sampler, daemon=True)
    if sample:
        thread.start()
    with temp_dir("v7-scaling-") as state_dir:
        result = run_prepared(prep, state_dir, total, on_runner=holder.append)
    done.set()
    if sample:
        thread.join()
    return {
        "symbols": n_symbols,
        "bars": result.bars,
        "bars_per_s": result.bars_per_s,
        "bars_per_cpu_s": result.bars_per_cpu_s,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_data_mb": rss_before,
        "data_build_s": prep.prepare_s,
        "samples": samples,
    }


def _spawn(n_symbols: int, per_symbol: int, sample: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_scaling", "--child", str(n_symbols)]
    cmd += [str(per_symbol)] + (["--sample"] if sample else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _rss_at(samples: list[list[float]], fraction: float, total: int) -> float:
    """RSS of the first sample at or after ``fraction`` of the bars (the last one if none)."""
    for _, bars, rss in samples:
        if bars >= fraction * total:
            return rss
    return samples[-1][2]


def _quarter_rates(samples: list[list[float]], total: int) -> list[float]:
    """bars/s over each quarter of the run, from the (time, bars) samples."""
    rates: list[float] = []
    prev_seconds, prev_bars = 0.0, 0.0
    for quarter_end in (0.25, 0.5, 0.75, 1.0):
        hit = next((sample for sample in samples if sample[1] >= quarter_end * total), samples[-1])
        seconds, bars = hit[0], hit[1]
        elapsed = seconds - prev_seconds
        rates.append((bars - prev_bars) / elapsed if seconds > prev_seconds else 0.0)
        prev_seconds, prev_bars = seconds, bars
    return rates


def memory_run(per_symbol: int) -> dict[str, Any]:
    """Replay the long run; return RSS at 25% and 100% of the bars, growth, bars/s per quarter."""
    child = _spawn(LONG_SYMBOLS, per_symbol, sample=True)
    total, samples = child["bars"], child["samples"]
    if not samples:
        return {"bars": total, "note": "run too short to sample"}
    at25, at100 = _rss_at(samples, 0.25, total), samples[-1][2]
    growth = at100 - at25
    return {
        "symbols": LONG_SYMBOLS,
        "bars": total,
        "bars_per_s": round(child["bars_per_s"]),
        "rss_after_data_mb": round(child["rss_after_data_mb"], 1),
        "rss_at_25pct_mb": round(at25, 1),
        "rss_at_100pct_mb": round(at100, 1),
        "growth_mb": round(growth, 1),
        "growth_pct": round(100.0 * growth / at25, 2) if at25 else None,
        "flat": growth <= FLAT_GROWTH_PCT / 100.0 * at25,
        "peak_rss_mb": round(child["peak_rss_mb"], 1),
        "bars_per_s_by_quarter": [round(rate) for rate in _quarter_rates(samples, total)],
        "samples": len(samples),
    }


def run(small: bool = False) -> dict[str, Any]:
    """Measure the scaling table and the memory run (``small``: tiny sizes, one run)."""
    total = 20_000 if small else TOTAL_BARS
    runs = 1 if small else RUNS
    counts = (1, 10) if small else SYMBOL_COUNTS
    rows: list[dict[str, Any]] = []
    for n_symbols in counts:
        per_symbol = max(1, total // n_symbols)
        results = [_spawn(n_symbols, per_symbol) for _ in range(runs)]
        rows.append(
            {
                "symbols": n_symbols,
                "bars_per_symbol": per_symbol,
                "bars": n_symbols * per_symbol,
                "runs_bars_per_s": [round(child["bars_per_s"]) for child in results],
                "bars_per_s": round(median([child["bars_per_s"] for child in results])),
                "bars_per_cpu_s": round(median([child["bars_per_cpu_s"] for child in results])),
                "peak_rss_mb": round(median([child["peak_rss_mb"] for child in results]), 1),
            }
        )
    memory = memory_run(2_000 if small else LONG_BARS_PER_SYMBOL)
    heads = [
        headline(f"scaling {row['symbols']} sym", row["bars_per_s"], "bars/s", "-", None)
        for row in rows
    ]
    rss = " / ".join(f"{row['peak_rss_mb']:.0f}" for row in rows)
    heads.append(headline(f"peak RSS, {total // 1000}k bars, same sym counts", rss, "MiB", "-"))
    pct = memory.get("growth_pct")
    heads.append(
        headline(
            f"RSS growth 25%->100% of a {memory['bars'] / 1e6:g}M-bar run",
            f"{memory.get('growth_mb', 0.0):.1f} MiB ({pct}%)",
            "",
            f"<= {FLAT_GROWTH_PCT:g}%",
            pct / FLAT_GROWTH_PCT if isinstance(pct, int | float) else None,
        )
    )
    return {
        "benchmark": NAME,
        "total_bars_per_point": total,
        "rows": rows,
        "memory_run": memory,
        "headline": heads,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="v7 replay scaling benchmark")
    parser.add_argument("--child", nargs=2, type=int, metavar=("SYMBOLS", "BARS_PER_SYMBOL"))
    parser.add_argument("--sample", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.sample)))
        return
    result = run()
    path = write_result(NAME, result)
    for row in result["rows"]:
        print(
            f"{row['symbols']:>4} symbols: {row['bars_per_s']:>9,} bars/s, {row['peak_rss_mb']} MiB"
        )
    print(f"memory run: {json.dumps(result['memory_run'])} -> {path}")


if __name__ == "__main__":
    main()
