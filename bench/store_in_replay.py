"""The store's cost inside the engine: a replay with the store (commits, journal rows, equity
samples) against the same replay without it (issue 16: <= 5 %).

Read from turn-taking pairs, on and off in two processes on one CPU (bench/turns.py), beside null
pairs of on against on; ``instruction_counts`` counts the same under valgrind. Part of
``bench/bench_store.py`` (``--replay-only``, ``--instructions``).
"""

from __future__ import annotations

import gc
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import turns
from bench.common import (
    ROOT,
    PreparedReplay,
    default_config_dict,
    headline,
    prepare_replay,
    replay_runner,
    run_prepared,
    temp_dir,
)
from bench.pairs import budget_verdict, overhead_stats
from execution.cli.run import paper_exchange_factory
from execution.clock import ReplayClock
from execution.market.bars import MergedBars
from execution.run.runner import EngineRunner, RunOptions

# Turn-taking pairs read within ~1 % (sd) here: 16 put the median within ~0.3; null pairs (on
# against on) show the method's own spread beside the figure.
PAIRS, NULL_PAIRS = 16, 4


def _strip_store(runner: EngineRunner) -> None:
    """Run without the store: no commit, no journal row, no equity sample."""
    runner.commit = lambda: True  # type: ignore[method-assign]
    runner.executor.journal = None
    runner._next_equity_ts = float("inf")


def _turn_build(prep: PreparedReplay, state_dir: Path, with_store: bool) -> turns.Replay:
    """One side of a turn-taking pair: the engine over ``prep`` as `v7 run --fast` builds it
    (without the store when ``with_store`` is False), its bars through the pair's wrapper."""

    def build(wrap: Callable[[MergedBars], turns.TakingTurns]) -> Callable[[], dict[str, Any]]:
        if not isinstance(prep.merged, MergedBars):
            raise TypeError("turn-taking pairs replay bars held in memory, not a streamed CSV")
        runner = replay_runner(prep, state_dir)
        if not with_store:
            _strip_store(runner)
        bars: Any = wrap(prep.merged)  # run_replay reads only its len, perps and loops
        gc.collect()

        def replay() -> dict[str, Any]:
            runner.run_replay(bars)
            runner.finish()  # the final publish and commit belong to the run, as in run_prepared
            ledger = runner.executor.ledger
            return {"bars": runner.bars_done, "closed_count": ledger.closed_count,
                    "realized_pnl": ledger.realized_pnl}  # fmt: skip

        return replay

    return build


def _run_pairs(
    prep: PreparedReplay, pairs: int, null_pairs: int
) -> tuple[list[turns.TurnResult], list[turns.TurnResult], list[float]]:
    """The on and off results of ``pairs`` turn-taking pairs, and the ratios of ``null_pairs``
    pairs of on against on."""
    results: dict[bool, list[turns.TurnResult]] = {True: [], False: []}
    null: list[float] = []
    with temp_dir("v7-bench-store-") as d:
        run_prepared(prep, d / "warm-up", max_bars=2_000)  # lazy imports, before the forks
        for i in range(pairs):
            sides = (True, False) if (i // 2) % 2 == 0 else (False, True)  # forked first
            a, b = (_turn_build(prep, d / f"{i}-{side}", side) for side in sides)
            got = turns.run_pair(a, b, a_first=i % 2 == 0)
            for side, result in zip(sides, got, strict=True):
                results[side].append(result)
        for i in range(null_pairs):
            a, b = (_turn_build(prep, d / f"null-{i}-{k}", True) for k in "ab")
            first, second = turns.run_pair(a, b, a_first=i % 2 == 0)
            null.append(first.cpu_s / second.cpu_s)
    return results[True], results[False], null


def store_cost_in_replay(
    pairs: int, bars_per_symbol: int, null_pairs: int = NULL_PAIRS
) -> dict[str, Any]:
    """The replay with the store (commits, journal, equity samples) against without, as
    turn-taking pairs (bench/turns.py) beside ``null_pairs`` pairs of "on" against itself.

    Whole runs one after the other scatter by 10-15 % here; two processes on one CPU that hand
    it over every few loops see the same host load. Which side is forked first and which has
    the first turn go round all four combinations. Both modes publish (and "on" commits) every
    ``COUNTED_EVERY_BARS`` bars plus the final time: the same number in every run, where under
    the wall-second rule a slower run commits more.
    """
    if why_not := turns.available():
        return {"skipped": why_not}
    cfg = default_config_dict()
    cfg["publish"] = {**cfg["publish"], "min_interval_seconds": 1e9,
                      "replay_every_bars": COUNTED_EVERY_BARS}  # fmt: skip
    prep = prepare_replay(cfg, bars_per_symbol * 7)
    on, off, null = _run_pairs(prep, pairs, null_pairs)
    ratios = [a.cpu_s / b.cpu_s for a, b in zip(on, off, strict=True)]
    paired = overhead_stats(ratios)
    decisions = {(r.extra["closed_count"], r.extra["realized_pnl"]) for r in on + off}
    return {
        "method": (
            f"turn-taking pairs (bench/turns.py): on and off in two processes on one CPU, "
            f"handing it over every {turns.EVERY_LOOPS} loops"
        ),
        "pinned_cpu": turns.pinned_cpu(),
        "pairs": pairs,
        "bars": len(prep.merged),
        "overhead_paired_cpu_pct": paired["median_pct"],
        "overhead_mean_pct": paired["mean_pct"],
        "overhead_iqr_pct": paired["iqr_pct"],
        "ratios": paired["ratios"],
        "target_pct": TARGET_PCT,
        "verdict": budget_verdict(ratios, TARGET_PCT),
        "null_pairs": overhead_stats(null) if null else None,
        "median_cpu_s_on": round(statistics.median(r.cpu_s for r in on), 4),
        "median_cpu_s_off": round(statistics.median(r.cpu_s for r in off), 4),
        "same_decisions_on_off": len(decisions) == 1,
    }


TARGET_PCT = 5.0  # issue 16: the store costs a replay at most this much

# Commits by bar count under valgrind (a wall-second throttle would commit ~50x as often): one
# per 100k bars, about what the wall-second throttle gives a replay at full speed.
COUNTED_EVERY_BARS = 100_000


def counted_replay(mode: str, bars_per_symbol: int) -> None:
    """One replay for :func:`instruction_counts`: the store ``on`` or ``off``, or ``setup``
    (imports and a 100-bar replay)."""
    cfg = default_config_dict()
    cfg["publish"] = {**cfg["publish"], "min_interval_seconds": 1e9,
                      "replay_every_bars": COUNTED_EVERY_BARS}  # fmt: skip
    n_bars = bars_per_symbol * len(cfg["universe"]) if mode != "setup" else 100
    prep = prepare_replay(cfg, n_bars)
    with temp_dir("v7-bench-store-") as d:  # as run_prepared, without the summary (it reads
        clock = ReplayClock(prep.merged.first_ts)  # the journal back: not what the store costs)
        opts = RunOptions("replay", prep.source, None, False)
        factory = paper_exchange_factory(prep.cfg, clock)
        runner = EngineRunner(prep.cfg, opts, d, clock, factory, prep.rejects)
        if mode == "off":
            _strip_store(runner)
        runner.run_replay(prep.merged)
        runner.finish()


def instruction_counts(bars_per_symbol: int = 15_000) -> dict[str, Any]:
    """Count the instructions of a replay with the store on, off and of the set-up alone."""
    counts: dict[str, int] = {}
    # One BLAS thread: numpy's idle threads spin for a time-dependent number of instructions.
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    for mode in ("on", "off", "setup"):
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
               sys.executable, "-m", "bench.store_in_replay", mode,
               str(bars_per_symbol)]  # fmt: skip
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
        if found is None:
            raise RuntimeError(f"no instruction count in valgrind's output: {proc.stderr[-500:]}")
        counts[mode] = int(found.group(1).replace(",", ""))
    return {
        "bars_per_symbol": bars_per_symbol,
        "instructions": counts,
        "store_instructions": counts["on"] - counts["off"],
        "store_of_loop_pct": round(
            (counts["on"] - counts["off"]) / (counts["off"] - counts["setup"]) * 100, 2
        ),
    }


def cost_headline(cost: dict[str, Any]) -> dict[str, Any]:
    if "skipped" in cost:
        return headline("store on vs off (replay, paired CPU)", f"skipped: {cost['skipped']}",
                        "", "-")  # fmt: skip
    q1, q3 = cost["overhead_iqr_pct"]
    return headline(
        "store on vs off (replay, paired CPU)",
        f"{cost['overhead_paired_cpu_pct']:+.2f} (IQR {q1:+.1f}..{q3:+.1f})",
        "%",
        f"<= {TARGET_PCT:g}%: {cost['verdict']}",
    )


def cost_text(cost: dict[str, Any]) -> str:
    """One line: the store's cost in a replay, its spread, verdict and the null pairs'."""
    if "skipped" in cost:
        return f"store on vs off in a replay: skipped ({cost['skipped']})"
    null = cost["null_pairs"]
    null_text = f"; null pairs {null['median_pct']:+.2f}% (IQR {null['iqr_pct']})" if null else ""
    return (
        f"store on vs off in a replay: {cost['overhead_paired_cpu_pct']:+.2f}% CPU "
        f"(IQR {cost['overhead_iqr_pct']}, {cost['pairs']} turn-taking pairs of "
        f"{cost['bars']:,} bars): {cost['verdict']}{null_text}"
    )


if __name__ == "__main__":  # one counted replay, run under valgrind by instruction_counts
    counted_replay(sys.argv[1], int(sys.argv[2]))
