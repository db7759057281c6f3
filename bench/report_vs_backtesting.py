"""Two reporters, one run: `v7 report` beside backtesting.py's ``stats`` on the same strategy.

The sma_cross_pct bench (bench/bench_vs_backtesting.py: real BTC 1m bars, zero costs, the same
1,889 trades) is replayed by v7 into a state dir; its report is built from the journal, as
`v7 report` does. backtesting.py runs the same rules. Three columns:

- ``v7 report``: the report of v7's run;
- ``backtesting.py``: its ``stats``;
- ``report fns on bt``: the report's own metric functions fed backtesting.py's trades and equity
  curve, which shows whether the two define a metric alike independently of position sizing.

Sizing differs (v7: a fixed notional per trade; backtesting.py: all equity in each trade,
compounding), so money figures, return and drawdown differ between the first two columns; the
third column is where definitions are compared. Definitions: docs/performance.md.

Run: ``.venv/bin/python -m bench.report_vs_backtesting`` (needs /work/shared/data/btc_perp_1m;
``--synthetic`` uses 45k synthetic bars instead).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import BTC_1M_DIR, prepare_replay, run_prepared, temp_dir
from bench.fill_rules import bars_frame, run_backtesting, v7_config
from execution.report import Trade, build_report, load_inputs
from execution.report.metrics import equity_stats, profit_factor, trade_stats

# (label, v7 report key, backtesting.py stats key, scale from the report's unit to bt's)
ROWS: tuple[tuple[str, str, str, float], ...] = (
    ("trades", "trades", "# Trades", 1.0),
    ("win rate %", "win_rate", "Win Rate [%]", 100.0),
    ("profit factor (over trade returns)", "profit_factor_pct", "Profit Factor", 1.0),
    ("profit factor (over net PnL)", "profit_factor", "Profit Factor", 1.0),
    ("expectancy % per trade", "expectancy_pct", "Expectancy [%]", 1.0),
    ("best trade %", "best_trade_pct", "Best Trade [%]", 1.0),
    ("worst trade %", "worst_trade_pct", "Worst Trade [%]", 1.0),
    ("SQN", "sqn", "SQN", 1.0),
    ("return %", "return_pct", "Return [%]", 1.0),
    ("max drawdown %", "max_drawdown_pct", "Max. Drawdown [%]", -1.0),
    ("max drawdown duration (days)", "max_drawdown_duration_days", "Max. Drawdown Duration", 1.0),
    ("CAGR %", "cagr", "CAGR [%]", 100.0),
    ("Sharpe", "sharpe", "Sharpe Ratio", 1.0),
    ("Sortino", "sortino", "Sortino Ratio", 1.0),
    ("Calmar", "calmar", "Calmar Ratio", 1.0),
    ("exposure %", "exposure_pct", "Exposure Time [%]", 1.0),
)


def _with_return_pf(report: dict[str, Any], trades: list[Trade]) -> dict[str, Any]:
    """Add the profit factor over trade returns (backtesting.py's) and the duration in days."""
    out = dict(report)
    out["profit_factor_pct"] = profit_factor([t.return_pct for t in trades])
    dur = report.get("max_drawdown_duration_s")
    out["max_drawdown_duration_days"] = dur / 86_400 if dur is not None else None
    return out


def bt_as_report(stats: Any) -> dict[str, Any]:
    """backtesting.py's trades and equity curve through the report's metric functions."""
    rows = stats._trades
    trades = [
        Trade("BT", "long" if r.Size > 0 else "short", r.EntryTime.value / 1e9, r.ExitTime.value / 1e9,
              float(r.EntryPrice), float(r.ExitPrice), abs(float(r.Size)), "-", float(r.PnL), 0.0)
        for r in rows.itertuples()
    ]  # fmt: skip
    curve = stats._equity_curve["Equity"]
    ts = (curve.index.as_unit("ns").asi8 / 1e9).tolist()  # pandas may keep ms: say ns
    report = {**trade_stats(trades), **equity_stats(ts, curve.to_numpy(dtype=float).tolist())}
    return _with_return_pf(report, trades)


def _bt_value(stats: Any, key: str, scale: float) -> float | None:
    value = stats[key]
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds()) / 86_400
    value = float(value)
    return None if np.isnan(value) else value * (1.0 if scale > 0 else -1.0)


def compare(data_dir: Path) -> list[dict[str, Any]]:
    """Replay in v7, run backtesting.py, and line up every metric."""
    with temp_dir("v7-report-vs-bt-") as state_dir:
        run_prepared(prepare_replay(v7_config(), None, data_dir), state_dir)
        inputs = load_inputs(state_dir, with_prices=False)
        ours = _with_return_pf(build_report(inputs), list(inputs.trades))
    stats, _, _, _ = run_backtesting(bars_frame(data_dir))
    theirs = bt_as_report(stats)
    table = []
    for label, key, bt_key, scale in ROWS:
        factor = abs(scale) if key in ("win_rate", "cagr") else 1.0
        v7 = ours.get(key)
        mine = theirs.get(key)
        table.append({
            "metric": label,
            "v7_report": v7 * factor if v7 is not None else None,
            "backtesting": _bt_value(stats, bt_key, scale),
            "report_fns_on_bt": mine * factor if mine is not None else None,
        })  # fmt: skip
    return table


def print_table(table: list[dict[str, Any]]) -> None:
    def cell(x: Any) -> str:
        return "-" if x is None else f"{x:.6g}" if isinstance(x, float) else str(x)

    print(f"{'metric':32s} {'v7 report':>14s} {'backtesting.py':>15s} {'report fns on bt':>17s}")
    for row in table:
        print(f"{row['metric']:32s} {cell(row['v7_report']):>14s} {cell(row['backtesting']):>15s} "
              f"{cell(row['report_fns_on_bt']):>17s}")  # fmt: skip


def main(argv: list[str]) -> int:
    if "--synthetic" in argv or not (BTC_1M_DIR.is_dir() and any(BTC_1M_DIR.glob("*.csv"))):
        from bench.bench_vs_backtesting import SYNTHETIC_BARS, _write_synthetic_csv

        with temp_dir("v7-report-vs-bt-data-") as tmp:
            _write_synthetic_csv(tmp, SYNTHETIC_BARS)
            print(f"data: {SYNTHETIC_BARS} synthetic 1m bars")
            print_table(compare(tmp))
        return 0
    print(f"data: {BTC_1M_DIR}")
    print_table(compare(BTC_1M_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
