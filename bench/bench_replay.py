"""Replay throughput of `v7 run --fast`: 10 symbols x 50k synthetic 1m bars (issue 2).

The shipped config with 10 symbols (its six tradable ones plus four generated), paper exchange,
diagnostics on, publishing as configured (every 100k bars and at most once a wall second).
The bars are built once; each timed run replays them into a fresh state dir through the
functions `v7 run --fast` uses, and bars/s counts exactly what the CLI's own figure counts
(``run_replay`` and the final publish and commit, ``finish``). Median of 5 (wall clock, as the CLI reports it; CPU time too), plus one run
of the real CLI in a subprocess as a cross-check.

Run alone: ``.venv/bin/python -m bench.bench_replay`` (writes bench/results/replay.json).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.common import (
    config_dict,
    headline,
    median,
    prepare_replay,
    replay_runs,
    temp_dir,
    write_result,
)

NAME = "replay"
SYMBOLS = 10
BARS_PER_SYMBOL = 50_000
RUNS = 5
TARGET_BARS_PER_S = 50_000.0


def cli_bars_per_s(cfg: dict[str, Any], max_bars: int) -> float:
    """Run `v7 run --fast --json-summary` in a subprocess; return the bars/s it reports."""
    with temp_dir("v7-bench-cli-") as work_dir:
        config_path, state_dir = work_dir / "cfg.json", work_dir / "s"
        config_path.write_text(json.dumps(cfg), encoding="utf-8")
        cmd = [sys.executable, "-m", "execution.cli", "run", "--fast", "--json-summary"]
        cmd += ["--no-progress", "--config", str(config_path), "--state-dir", str(state_dir)]
        cmd += ["--max-bars", str(max_bars)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(json.loads(out)["bars_per_s"])


def run(small: bool = False) -> dict[str, Any]:
    """Measure replay bars/s; ``small`` is a seconds-long smoke version (fewer bars, one run)."""
    per_symbol = 2_000 if small else BARS_PER_SYMBOL
    runs = 1 if small else RUNS
    total = SYMBOLS * per_symbol
    cfg = config_dict(SYMBOLS)
    prep = prepare_replay(cfg, total)
    results = replay_runs(prep, runs, total)
    rates = [result.bars_per_s for result in results]
    figure = median(rates)
    cpu_figure = median([result.bars_per_cpu_s for result in results])
    cli = None if small else cli_bars_per_s(cfg, total)
    return {
        "benchmark": NAME,
        "symbols": SYMBOLS,
        "bars": total,
        "bars_per_symbol": per_symbol,
        "timeframe": prep.cfg.data.timeframe,
        "strategy": prep.cfg.strategy.name,
        "diagnostics_enabled": prep.cfg.diagnostics.enabled,
        "publish_every_bars": prep.cfg.publish.replay_every_bars,
        "publish_min_interval_s": prep.cfg.publish.min_interval_seconds,
        "data_build_s": round(prep.prepare_s, 3),
        "runs_bars_per_s": [round(rate) for rate in rates],
        "bars_per_s": round(figure),
        "bars_per_cpu_s": round(cpu_figure),
        "cli_subprocess_bars_per_s": cli,
        "target_bars_per_s": TARGET_BARS_PER_S,
        "target_met": figure >= TARGET_BARS_PER_S,
        "headline": [
            headline(
                f"replay {SYMBOLS} sym x {per_symbol // 1000}k bars",
                round(figure),
                "bars/s",
                f">= {TARGET_BARS_PER_S:,.0f}",
                round(figure / TARGET_BARS_PER_S, 2),
            ),
            headline("  same, per CPU second", round(cpu_figure), "bars/s", "-", None),
        ],
    }


def main() -> None:
    result = run()
    path = write_result(NAME, result)
    print(f"replay: {result['bars_per_s']:,} bars/s (median of {RUNS}) -> {path}")


if __name__ == "__main__":
    main()
