"""Store commit latency: what one engine loop pays to make its memory and journal durable.

The memory is shaped like a 10-symbol paper engine's after a day of 1m bars (sizes taken from
a real checkpoint: a 500-return window per symbol in the book, ~500 orders in the paper
account, the diagnostics block): ~130 KB of JSON. Every commit changes what a loop changes
(progress, book, strategy, paper account, diagnostics) and appends a loop's journal (an
equity sample; an order and its fill every 5th loop; a closed trade every 10th).

``durable=True`` is live / paced paper (``synchronous=FULL``: an fsync per commit);
``durable=False`` is a replay. Each timed call is one ``Store.commit``, JSON encoding
included, into a state dir on the project's file system (where logs/state lives).
The store's cost in a whole replay (issue 16: <= 5 %) is read from turn-taking pairs, on and off
in two processes on one CPU (bench/turns.py), beside null pairs of on against on.
Run alone: ``.venv/bin/python -m bench.bench_store`` (``--replay-only [--pairs N]`` for the
replay's cost alone); ``--instructions`` counts the store's instructions in a replay under
valgrind (the same count whatever else runs on the machine).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from itertools import islice
from typing import Any

import numpy as np

from bench.common import (
    ROOT,
    default_config_dict,
    headline,
    temp_dir,
    write_result,
)
from bench.store_in_replay import (
    PAIRS,
    cost_headline,
    cost_text,
    counted_replay,
    instruction_counts,
    store_cost_in_replay,
)
from execution.cli.run import paper_exchange_factory
from execution.clock import ReplayClock
from execution.config import parse_config
from execution.market.bars import merge_series, synthetic_series
from execution.run.driver import replay_loops
from execution.run.runner import EngineRunner, RunOptions
from execution.store import (
    ClosedTradeRow,
    EquityRow,
    FillRow,
    JournalBatch,
    Memory,
    OrderRow,
    Store,
    db_path,
)
from execution.store.memory import encode_memory

NAME = "store"
SYMBOLS = tuple(f"S{i:02d}USDT" for i in range(10))
RETURNS_WINDOW, ORDERS_KEPT = 500, 500
COMMITS = 300
T0 = 1_704_067_200.0


def memory_at(n: int, rng: np.random.Generator) -> Memory:
    """The memory after loop ``n`` (a fresh draw per loop: every large component changes)."""
    returns = rng.normal(0.0, 1e-3, (len(SYMBOLS), RETURNS_WINDOW)).round(12)
    marks = 100.0 * np.exp(returns.sum(axis=1))
    orders = {
        f"v7e{k:020x}": {"exchange_order_id": f"paper-{k}", "status": "filled", "ts": T0 + 60 * k}
        for k in range(max(0, n - ORDERS_KEPT), n)
    }
    return Memory(
        identity={"mode": "realtime", "source": "synthetic:seed=7", "account": "paper"},
        progress={"bars_processed": n * len(SYMBOLS), "completed": False, "last_ts": T0 + 60 * n},
        ledger={"positions": {s: {"side": "long", "qty": 1.0, "entry_price": 100.0}
                              for s in SYMBOLS[:3]}, "closed_count": n // 10},
        registry={"entries": {s: {"tp_price": 103.0, "sl_price": 98.0} for s in SYMBOLS[:3]}},
        paper_account={"balance": 10_000.0 + n,
                       "last_prices": dict(zip(SYMBOLS, marks.tolist(), strict=True))},
        paper_orders=orders,
        strategy={s: {"fast": float(m), "slow": float(m) * 0.999, "atr": 0.4, "count": n}
                  for s, m in zip(SYMBOLS, marks, strict=True)},
        book={s: {"mark": float(m), "mark_ts": T0 + 60 * n, "returns": r.tolist()}
              for s, m, r in zip(SYMBOLS, marks, returns, strict=True)},
        diagnostics={"veto_counters": {"total_signals": n, "by_reason": {"cooldown": n}},
                     "heatmap": {"by_reason_symbol": {"cooldown": dict.fromkeys(SYMBOLS, n)},
                                 "by_reason_time": {str(k): k for k in range(288)}}},
    )  # fmt: skip


def loop_journal(n: int) -> JournalBatch:
    batch = JournalBatch()
    batch.equity_sample(EquityRow(T0 + 60 * n, 10_000.0 + n, 10_000.0, float(n % 50), 0.01))
    if n % 5 == 0:
        cid = f"c{n}"
        batch.order(OrderRow(cid, SYMBOLS[n % 10], "buy", "entry", 1.0, "filled", T0 + 60 * n))
        batch.fill(FillRow(f"f{n}", cid, SYMBOLS[n % 10], "buy", "entry", 1.0, 100.0, 0.04,
                           T0 + 60 * n))  # fmt: skip
    if n % 10 == 0:
        batch.closed_trade(ClosedTradeRow(SYMBOLS[n % 10], "long", T0, 100.0, T0 + 60 * n,
                                          101.0, 1.0, "tp", 1.0, 0.08, tp=101.0, sl=98.0))  # fmt: skip
    return batch


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "commits": len(ms),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
    }


def time_commits(durable: bool, commits: int) -> dict[str, Any]:
    """Commit ``commits`` loops into a fresh store; the percentiles, sizes and the reopen time."""
    rng = np.random.default_rng(16)
    # From loop ORDERS_KEPT on: the steady state of an engine that has run for a while.
    loops = range(ORDERS_KEPT, ORDERS_KEPT + commits)
    memories = [memory_at(n, rng) for n in loops]  # built before the clock starts
    journals = [loop_journal(n) for n in loops]
    scratch = ROOT / "logs"  # same file system as logs/state, ignored by git
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="v7-bench-store-", dir=scratch) as d:
        ms = []
        with Store.open(d, durable=durable) as store:
            for memory, journal in zip(memories, journals, strict=True):
                start = time.perf_counter()
                store.commit(memory, journal)
                ms.append((time.perf_counter() - start) * 1e3)
        size = db_path(d).stat().st_size
        start = time.perf_counter()
        with Store.open(d, durable=durable) as store:
            store.load()
        reopen_ms = (time.perf_counter() - start) * 1e3
    memory_bytes = sum(len(v) for v in encode_memory(memories[-1]).values())
    return {**_percentiles(ms), "memory_json_bytes": memory_bytes, "db_bytes": size,
            "reopen_and_load_ms": round(reopen_ms, 3)}  # fmt: skip


def paced_loop_commits(loops: int) -> dict[str, Any]:
    """Per-loop commit latency of the paced paper engine (durable), its real memory and journal."""
    cfg = parse_config(default_config_dict())
    series = synthetic_series(cfg.universe, loops + 2, cfg.data.synthetic, 60)
    groups = replay_loops(merge_series(series, cfg.symbols), 0)
    ms: list[float] = []
    with temp_dir("v7-bench-store-") as d:
        first = next(groups)
        clock = ReplayClock(first[0][1])
        opts = RunOptions("realtime", "bench:paced", None, False)
        runner = EngineRunner(cfg, opts, d, clock, paper_exchange_factory(cfg, clock))
        commit = runner.commit

        def timed() -> bool:
            start = time.perf_counter()
            ok = commit()
            ms.append((time.perf_counter() - start) * 1e3)
            return ok

        runner.commit = timed  # type: ignore[method-assign]
        runner.throttle.mark(0)
        bars = 0
        for group in islice(groups, loops):
            clock.set(group[0][1])
            runner.step(group)
            bars += len(group)
            runner.check_point(bars)
        runner.close()
    return _percentiles(ms[len(ms) // 10 :])  # past the first stretch: a steady engine


def run(small: bool = False, pairs: int = PAIRS) -> dict[str, Any]:
    """Commit latencies, durable (paced paper / live) and not (replay); the engine-level cost."""
    commits = 20 if small else COMMITS
    paced = time_commits(True, commits)
    replay = time_commits(False, commits)
    cost = store_cost_in_replay(2, 2_000, 1) if small else store_cost_in_replay(pairs, 30_000)
    loop = paced_loop_commits(50 if small else 600)
    return {
        "benchmark": NAME,
        "symbols": len(SYMBOLS),
        "paced_durable": paced,
        "replay": replay,
        "replay_store_cost": cost,
        "paced_engine_loop_commit": loop,
        "headline": [
            cost_headline(cost),
            headline(
                "paced engine commit per loop p50/p99",
                f"{loop['p50_ms']:.2f} / {loop['p99_ms']:.2f}",
                "ms",
                "-",
            ),
            headline(
                f"store commit p50/p99, {len(SYMBOLS)} sym, durable",
                f"{paced['p50_ms']:.2f} / {paced['p99_ms']:.2f}",
                "ms",
                "-",
            ),
            headline(
                f"store commit p50/p99, {len(SYMBOLS)} sym, replay",
                f"{replay['p50_ms']:.2f} / {replay['p99_ms']:.2f}",
                "ms",
                "-",
            ),
        ],  # fmt: skip
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="only the store's instruction count in a replay (valgrind; ~5 min)",
    )
    parser.add_argument(
        "--replay-only",
        action="store_true",
        help="only the store's cost in a replay (printed, not written)",
    )
    parser.add_argument("--pairs", type=int, default=PAIRS, help=f"on/off pairs ({PAIRS})")
    parser.add_argument("--counted-replay", choices=("on", "off", "setup"), help=argparse.SUPPRESS)
    parser.add_argument("--bars-per-symbol", type=int, default=15_000, help=argparse.SUPPRESS)
    args = parser.parse_args()  # fmt: skip
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    if args.counted_replay:
        counted_replay(args.counted_replay, args.bars_per_symbol)
        return
    if args.instructions:
        counted = instruction_counts(args.bars_per_symbol)
        print(
            f"store on - off: {counted['store_instructions']:,} instructions, "
            f"{counted['store_of_loop_pct']}% of the loop ({counted['instructions']})"
        )
        return
    if args.replay_only:
        cost = store_cost_in_replay(args.pairs, 30_000)
        print(json.dumps(cost, indent=2))
        print(cost_text(cost))
        return
    result = run(pairs=args.pairs)
    path = write_result(NAME, result)
    print(cost_text(result["replay_store_cost"]))
    loop = result["paced_engine_loop_commit"]
    print(f"paced engine, commit per loop: p50 {loop['p50_ms']} ms, p99 {loop['p99_ms']} ms")
    for key in ("paced_durable", "replay"):
        r = result[key]
        print(f"{key}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms over "
              f"{r['commits']} commits ({r['memory_json_bytes']:,} B of memory JSON)")  # fmt: skip
    print(f"-> {path}")


if __name__ == "__main__":
    main()
