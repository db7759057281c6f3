"""Store commit latency: what one engine loop pays to make its memory and journal durable.

The memory is shaped like a 10-symbol paper engine's after a day of 1m bars (sizes taken from
a real checkpoint: a 500-return window per symbol in the book, ~500 orders in the paper
account, the diagnostics block): ~130 KB of JSON. Every commit changes what a loop changes
(progress, book, strategy, paper account, diagnostics) and appends a loop's journal (an
equity sample; an order and its fill every 5th loop; a closed trade every 10th).

``durable=True`` is live / paced paper (``synchronous=FULL``: an fsync per commit);
``durable=False`` is a replay. Each timed call is one ``Store.commit``, JSON encoding
included, into a state dir on the project's file system (where logs/state lives).
Run alone: ``.venv/bin/python -m bench.bench_store``.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import numpy as np

from bench.common import ROOT, headline, write_result
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
        paper_account={"balance": 10_000.0 + n, "orders": orders,
                       "last_prices": dict(zip(SYMBOLS, marks.tolist(), strict=True))},
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


def run(small: bool = False) -> dict[str, Any]:
    """Commit latencies, durable (paced paper / live) and not (replay)."""
    commits = 20 if small else COMMITS
    paced = time_commits(True, commits)
    replay = time_commits(False, commits)
    return {
        "benchmark": NAME,
        "symbols": len(SYMBOLS),
        "paced_durable": paced,
        "replay": replay,
        "headline": [
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
    result = run()
    path = write_result(NAME, result)
    for key in ("paced_durable", "replay"):
        r = result[key]
        print(f"{key}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms over "
              f"{r['commits']} commits ({r['memory_json_bytes']:,} B of memory JSON)")  # fmt: skip
    print(f"-> {path}")


if __name__ == "__main__":
    main()
