"""v7 against backtesting.py: one strategy, the same bars, the same trades, bars/s of each.

The strategy is ``sma_cross_pct`` (execution/signal_screener.py): long when SMA(10) crosses
above SMA(30), short when below, a reversal closes the open position, TP/SL at 0.4% / 0.2% of
the signal bar's close, placed at that distance from the fill. backtesting.py runs the same
rules in :class:`SmaCrossPctBT` (in bench/fill_rules.py: ``exclusive_orders=True`` for the
reversal, brackets via ``buy(sl=, tp=)``). Both sides: fees 0, slippage 0; v7's risk limits are
relaxed so nothing is vetoed. Data: the real BTC perpetual 1m bars next to the project if
present, else 45k synthetic bars written to a CSV, so v7 reads them through `v7 run --data`
either way.

Timing: v7 = what `v7 run --fast` times (paper exchange, diagnostics on, publishing as
configured; CSV parsing excluded); backtesting.py = ``Backtest(...).run()`` (construction and
its end-of-run statistics included, progress bar off). The two alternate, 5 pairs; figures are
medians, the ratio is the median of the pairs' ratios (wall time; CPU time reported too).

Run alone: ``.venv/bin/python -m bench.bench_vs_backtesting`` (writes
bench/results/vs_backtesting.json). Fill-rule differences: docs/performance.md.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from bench.common import (
    BTC_1M_DIR,
    config_dict,
    fill_recorder,
    headline,
    median,
    prepare_replay,
    run_prepared,
    temp_dir,
    write_result,
)
from bench.fill_rules import DEFAULT, bars_frame, run_all_cases, run_backtesting, v7_config
from bench.vs_trades import bt_trades, compare_trades, gapped_entries, v7_trades
from execution.config import SymbolSpec, SyntheticConfig
from execution.market.bars import synthetic_series
from execution.types import Fill

NAME = "vs_backtesting"
RUNS = 5
SYNTHETIC_BARS = 45_000


# --- data -------------------------------------------------------------------------------------


def _write_synthetic_csv(directory: Path, n_bars: int) -> Path:
    """Write ``n_bars`` synthetic 1m bars of one symbol as a `ts,open,high,low,close,volume` CSV."""
    spec = SymbolSpec(**config_dict(1)["universe"][0])
    series = synthetic_series([spec], n_bars, SyntheticConfig(), 60)
    bars = next(iter(series.values()))
    path = directory / "SYNTH-1m.csv"
    cols = (bars.ts * 1000, bars.open, bars.high, bars.low, bars.close, bars.volume)
    lines = ["ts,open,high,low,close,volume"]
    lines += [",".join(repr(float(x)) for x in row) for row in zip(*cols, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the benchmark ----------------------------------------------------------------------------


def _timed_pairs(data_dir: Path, df: pd.DataFrame, runs: int) -> dict[str, Any]:
    """Alternate v7 and backtesting.py runs; each pair gives a ratio under the same conditions."""
    prep = prepare_replay(v7_config(), None, data_dir)
    fills: list[Fill] = []
    v7: list[tuple[float, float]] = []  # (wall s, cpu s)
    bt: list[tuple[float, float]] = []
    summary: dict[str, Any] = {}
    stats: Any = None
    unanchored: list[int] = []
    for run_index in range(runs):
        recorder = fill_recorder(fills) if run_index == 0 else None
        with temp_dir("v7-vs-bt-") as state_dir:
            result = run_prepared(prep, state_dir, None, recorder)
        v7.append((result.elapsed_s, result.cpu_s))
        summary = summary or result.summary
        stats, wall, cpu, unanchored = run_backtesting(df)
        bt.append((wall, cpu))
    bars = len(df)
    return {
        "fills": fills,
        "summary": summary,
        "stats": stats,
        "unanchored": unanchored,
        "v7_runs_bars_per_s": [bars / wall for wall, _ in v7],
        "backtesting_runs_bars_per_s": [bars / wall for wall, _ in bt],
        "v7_runs_bars_per_cpu_s": [bars / cpu for _, cpu in v7],
        "backtesting_runs_bars_per_cpu_s": [bars / cpu for _, cpu in bt],
        "ratio_runs": [ours[0] / theirs[0] for ours, theirs in zip(v7, bt, strict=True)],
        "ratio_cpu_runs": [ours[1] / theirs[1] for ours, theirs in zip(v7, bt, strict=True)],
    }


def _measure(data_dir: Path, runs: int) -> dict[str, Any]:
    df = bars_frame(data_dir)
    timed = _timed_pairs(data_dir, df, runs)
    trades, still_open = v7_trades(timed.pop("fills"))
    unanchored = timed.pop("unanchored")
    vetoes = timed.pop("summary")["vetoes"]
    plain_stats, _, _, _ = run_backtesting(df, anchor=False)
    unanchored_ts = frozenset(
        df.index[entry_bar].value / 1e9 for entry_bar in unanchored if entry_bar < len(df)
    )
    comparison = compare_trades(trades, bt_trades(timed.pop("stats")), df, unanchored_ts)
    naive = compare_trades(
        trades, bt_trades(plain_stats), df, gapped_entries(df), "levels_fixed_at_signal_close"
    )
    return {
        "bars": len(df),
        **timed,
        "v7_vetoes": vetoes,
        "v7_open_at_end": still_open,
        "trades": comparison,
        "trades_levels_from_signal_close": {
            key: naive[key] for key in ("matched", "mismatched", "mismatch_causes")
        },
        "unanchored_entries": len(unanchored),
    }


def run(small: bool = False) -> dict[str, Any]:
    """Compare trades and time both engines (``small``: 3k synthetic bars, one run each)."""
    runs = 1 if small else RUNS
    with temp_dir("v7-vs-bt-data-") as tmp:
        real = BTC_1M_DIR.is_dir() and any(BTC_1M_DIR.glob("*.csv")) and not small
        if not real:
            _write_synthetic_csv(tmp, 3_000 if small else SYNTHETIC_BARS)
        measured = _measure(BTC_1M_DIR if real else tmp, runs)
    if not small:
        measured["fill_rule_cases"] = run_all_cases()
    v7_rate = median(measured["v7_runs_bars_per_s"])
    bt_rate = median(measured["backtesting_runs_bars_per_s"])
    ratio = median(measured["ratio_runs"])
    cpu = {
        "v7_bars_per_cpu_s": round(median(measured["v7_runs_bars_per_cpu_s"])),
        "backtesting_bars_per_cpu_s": round(median(measured["backtesting_runs_bars_per_cpu_s"])),
        "ratio_cpu_v7_over_backtesting": round(median(measured["ratio_cpu_runs"]), 2),
    }
    trades = measured["trades"]
    for key, values in measured.items():
        if key.endswith("_runs"):
            measured[key] = [round(value, 3) for value in values]
        elif key.endswith(("_runs_bars_per_s", "_runs_bars_per_cpu_s")):
            measured[key] = [round(value) for value in values]
    return {
        "benchmark": NAME,
        "data": "btc_perp_1m (real, FTX)" if real else f"synthetic ({measured['bars']} 1m bars)",
        "strategy": {"name": "sma_cross_pct", **asdict(DEFAULT)},
        "v7_bars_per_s": round(v7_rate),
        "backtesting_bars_per_s": round(bt_rate),
        "ratio_v7_over_backtesting": round(ratio, 2),
        **cpu,
        "goal": "v7 >= backtesting.py",
        "goal_met": ratio >= 1.0,
        **measured,
        "headline": [
            headline("v7 replay, 1 sym (same bars)", round(v7_rate), "bars/s", "-", None),
            headline(
                "backtesting.py, same strategy", round(bt_rate), "bars/s", "v7/bt >= 1", ratio
            ),
            headline(
                "  ratio on CPU time",
                cpu["ratio_cpu_v7_over_backtesting"],
                "",
                "v7/bt >= 1",
                cpu["ratio_cpu_v7_over_backtesting"],
            ),
            headline(
                "  same trades (matched/v7 total)",
                f"{trades['matched']}/{trades['v7_trades']}",
                "trades",
                "all",
                None,
            ),
            *_fill_rule_row(measured.get("fill_rule_cases")),
        ],
    }


def _fill_rule_row(cases: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    if not cases:
        return []
    ok = sum(case["same"] == case["expected_same"] for case in cases.values())
    return [headline("  fill-rule cases as documented", f"{ok}/{len(cases)}", "", "all", None)]


def main() -> None:
    result = run()
    path = write_result(NAME, result)
    trades = result["trades"]
    print(
        f"v7 {result['v7_bars_per_s']:,} bars/s, backtesting.py "
        f"{result['backtesting_bars_per_s']:,} bars/s, ratio {result['ratio_v7_over_backtesting']}"
        f"; trades matched {trades['matched']}/{trades['v7_trades']}"
        f" ({trades['mismatch_causes']}) -> {path}"
    )


if __name__ == "__main__":
    main()
