"""Benchmark part 3 of bench_diagnostics: the instructions and first-level cache misses
(valgrind cachegrind) of one replay with diagnostics on, off, and of its set-up alone.

Counts are the same whatever else runs on the machine. Each overhead is
(on - off) / (off - set-up), the replay's loop only. Run through
``bench/bench_diagnostics.py --instructions`` (~6 min).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_diagnostics import ROOT, TARGET_OVERHEAD_PCT, bench_config, replay_once
from execution.config import load_config
from execution.market.bars import merge_series, synthetic_series, timeframe_seconds


def counted_replay(mode: str, bars_per_symbol: int) -> None:
    """One replay for :func:`instruction_counts`: diagnostics ``on`` or ``off``, or ``setup``
    (the same data built, a 100-bar replay)."""
    with tempfile.TemporaryDirectory(prefix="v7-bench-") as tmp_name:
        tmp = Path(tmp_name)
        path = bench_config(tmp, 10, mode != "off")
        n_bars = 10 * bars_per_symbol
        if mode == "setup":
            cfg = load_config(path)
            tf = timeframe_seconds(cfg.data.timeframe)
            merge_series(synthetic_series(cfg.universe, bars_per_symbol, cfg.data.synthetic, tf),
                         cfg.symbols)  # fmt: skip
            n_bars = 100
        replay_once(path, tmp / "state", n_bars)


# What cachegrind reports, and the name each count gets in the result.
CACHEGRIND_COUNTS = {
    "I   refs": "instructions",
    "I1  misses": "i1_misses",
    "D1  misses": "d1_misses",
}


def cachegrind_counts(mode: str, bars_per_symbol: int) -> dict[str, int]:
    """Instructions and first-level cache misses of one :func:`counted_replay` under cachegrind."""
    # One BLAS thread: numpy's idle threads spin for a time-dependent number of instructions.
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.NamedTemporaryFile(prefix="v7-cachegrind-") as out:
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=yes",
               f"--cachegrind-out-file={out.name}", sys.executable, "-m",
               "bench.diagnostics_counts", mode, str(bars_per_symbol)]  # fmt: skip
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    counts: dict[str, int] = {}
    for label, name in CACHEGRIND_COUNTS.items():
        found = re.search(label + r":\s+([\d,]+)", proc.stderr)
        if found is None:
            raise RuntimeError(f"no {label!r} in valgrind's output: {proc.stderr[-500:]}")
        counts[name] = int(found.group(1).replace(",", ""))
    return counts


def instruction_counts(bars_per_symbol: int = 20_000) -> dict[str, Any]:
    """Count the instructions and cache misses of an on, an off and a set-up-only replay.

    A diagnostics record runs between stretches of engine code that evict its code and data
    from the first-level caches, so its share of the misses can exceed its share of the
    instructions: CPU time reads between the two.
    """
    runs = {mode: cachegrind_counts(mode, bars_per_symbol) for mode in ("on", "off", "setup")}
    shares: dict[str, float] = {}
    for name in CACHEGRIND_COUNTS.values():
        loop = runs["off"][name] - runs["setup"][name]
        shares[name] = round((runs["on"][name] - runs["off"][name]) / loop * 100, 2)
    return {
        "bars_per_symbol": bars_per_symbol,
        "symbols": 10,
        "instructions": {mode: counts["instructions"] for mode, counts in runs.items()},
        "cache_misses": {
            mode: {k: v for k, v in c.items() if k != "instructions"} for mode, c in runs.items()
        },
        "overhead_loop_pct": shares["instructions"],
        "overhead_loop_i1_misses_pct": shares["i1_misses"],
        "overhead_loop_d1_misses_pct": shares["d1_misses"],
        "target_overhead_pct": TARGET_OVERHEAD_PCT,
    }


if __name__ == "__main__":  # one counted replay, run under valgrind by cachegrind_counts
    counted_replay(sys.argv[1], int(sys.argv[2]))
