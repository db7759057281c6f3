"""Benchmark risk_limits.check_order: p50/p99 latency with 1, 20 and 100 open positions.

Every position has a full 500-bar return window (random returns) and the intent passes every
check, so each call computes the post-trade portfolio VaR/CVaR — the expensive path. check_order
keeps nothing between calls, so every timed call pays for that estimate, as each intent the
executor decides does.

Run: ``.venv/bin/python -m bench.bench_check_order`` (writes bench/results/check_order.json).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from execution.config import RiskConfig
from execution.risk_limits import PortfolioView, RiskLimits, check_order, post_trade_var
from execution.types import Intent, MarketRules, Side

LOOKBACK = 500
POSITION_COUNTS = (1, 20, 100)
CALLS = 5_000
WARMUP = 500
TARGET_P99_US_AT_20 = 100.0
RESULTS = Path(__file__).resolve().parent / "results" / "check_order.json"
NOW = 1_700_000_000.0
NAV = 1_000_000.0


def _limits(symbols: list[str]) -> RiskLimits:
    """Limits loose enough that the bench intent passes every check (VaR/CVaR included)."""
    cfg = RiskConfig(
        max_concurrent=1_000,
        per_trade_nav_pct=0.5,
        symbol_cap_nav_pct=0.5,
        var_limit_nav_pct=10.0,
        cvar_limit_nav_pct=10.0,
        lookback_bars=LOOKBACK,
        min_returns=50,
    )
    rules = {s: MarketRules(s, min_notional=5.0, qty_step=0.001) for s in symbols}
    return RiskLimits(cfg, {s: "core" for s in symbols}, rules)


def _scenario(n_positions: int, seed: int) -> tuple[Intent, PortfolioView, RiskLimits]:
    """Hold ``n_positions`` symbols and ask for one more, every window full of random returns."""
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:03d}USDT" for i in range(n_positions + 1)]
    held, new = symbols[:-1], symbols[-1]
    windows = {s: rng.normal(0.0, 0.002, LOOKBACK) for s in symbols}
    signs = rng.choice([-1.0, 1.0], n_positions)
    positions = {s: float(sign * NAV * 0.002) for s, sign in zip(held, signs, strict=True)}
    view = PortfolioView(
        now=NOW,
        nav=NAV,
        peak_nav=NAV,
        positions=positions,
        last_mark_ts={s: NOW - 30.0 for s in symbols},
        marks={s: 100.0 for s in symbols},
        returns=windows.get,
    )
    intent = Intent(f"{new}:bench:long", new, Side.LONG, NAV * 0.01, 100.0, 103.0, 98.0, NOW)
    return intent, view, _limits(symbols)


def _time_calls(intent: Intent, view: PortfolioView, limits: RiskLimits) -> np.ndarray:
    if post_trade_var(intent, view, limits).status != "ok":
        raise RuntimeError("the bench book has too few returns: VaR/CVaR would be skipped")
    clock = time.perf_counter_ns
    for _ in range(WARMUP):
        check_order(intent, view, limits)
    samples = np.empty(CALLS, dtype=np.int64)
    for call in range(CALLS):
        started = clock()
        result = check_order(intent, view, limits)
        samples[call] = clock() - started
        if result.vetoed:
            raise RuntimeError(f"bench intent was vetoed: {result.describe()}")
    return samples / 1_000.0  # ns -> µs


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run() -> dict[str, Any]:
    """Time check_order per position count; return p50/p99/mean in microseconds."""
    cases: dict[str, dict[str, float | int]] = {}
    for n_positions in POSITION_COUNTS:
        latencies_us = _time_calls(*_scenario(n_positions, seed=n_positions))
        cases[str(n_positions)] = {
            "positions": n_positions,
            "calls": len(latencies_us),
            "p50_us": round(float(np.percentile(latencies_us, 50)), 2),
            "p99_us": round(float(np.percentile(latencies_us, 99)), 2),
            "mean_us": round(float(latencies_us.mean()), 2),
        }
    p99_at_20 = float(cases["20"]["p99_us"])
    return {
        "benchmark": "check_order",
        "lookback_bars": LOOKBACK,
        "warmup_calls": WARMUP,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "cases": cases,
        "target_p99_us_at_20": TARGET_P99_US_AT_20,
        "target_met": p99_at_20 <= TARGET_P99_US_AT_20,
    }


def main() -> None:
    result = run()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for n_positions, case in result["cases"].items():
        print(
            f"check_order {n_positions:>3} positions: p50 {case['p50_us']:8.2f} µs  p99 {case['p99_us']:8.2f} µs"
        )
    print(f"target p99 <= {TARGET_P99_US_AT_20} µs at 20 positions: {result['target_met']}")


if __name__ == "__main__":
    main()
