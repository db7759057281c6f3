"""v7 against backtesting.py: one strategy, the same bars, the same trades, bars/s of each.

The strategy is ``sma_cross_pct`` (execution/signal_screener.py): long when SMA(10) crosses
above SMA(30), short when below, a reversal closes the open position, TP/SL at 0.4% / 0.2% of
the signal bar's close, placed at that distance from the fill. backtesting.py runs the same
rules in :class:`SmaCrossPctBT` (``exclusive_orders=True`` for the reversal, brackets via
``buy(sl=, tp=)``). Both sides: fees 0, slippage 0; v7's risk limits are relaxed so nothing is
vetoed. Data: the real BTC perpetual 1m bars next to the project if present, else 45k synthetic
bars written to a CSV, so v7 reads them through `v7 run --data` either way.

Timing: v7 = what `v7 run --fast` times (paper exchange, diagnostics on, publishing as
configured; CSV parsing excluded); backtesting.py = ``Backtest(...).run()`` (construction and
its end-of-run statistics included, progress bar off). The two alternate, 5 pairs; figures are
medians, the ratio is the median of the pairs' ratios (wall time; CPU time reported too).

Run alone: ``.venv/bin/python -m bench.bench_vs_backtesting`` (writes
bench/results/vs_backtesting.json). Fill-rule differences: docs/performance.md.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import (
    BTC_1M_DIR,
    config_dict,
    fill_recorder,
    headline,
    median,
    prepare_replay,
    relaxed_risk,
    run_prepared,
    temp_dir,
    write_result,
)
from bench.vs_trades import Trade, bt_trades, compare_trades, gapped_entries, v7_trades
from execution.config import SymbolSpec, SyntheticConfig
from execution.market.bars import synthetic_series
from execution.types import Fill

NAME = "vs_backtesting"
RUNS = 5
SYNTHETIC_BARS = 45_000


@dataclass(frozen=True)
class Params:
    fast: int = 10
    slow: int = 30
    tp_pct: float = 0.004
    sl_pct: float = 0.002


DEFAULT = Params()


# --- the strategy in backtesting.py ------------------------------------------------------------


def _bt_strategy_class(opens: np.ndarray, anchor: bool, p: Params) -> type:
    """Build the backtesting.py twin of v7's sma_cross_pct (imports backtesting lazily)."""
    from backtesting import Strategy

    def sma(values: np.ndarray, n: int) -> np.ndarray:
        return np.asarray(pd.Series(values).rolling(n).mean())

    class SmaCrossPctBT(Strategy):
        """SMA cross, reversal, TP/SL at a fraction of the signal close from the fill price.

        v7 places the levels at their distance from the actual fill (the next bar's open);
        backtesting.py fixes them when the order is placed, so with ``anchor`` the strategy
        passes the next open it will fill at (slippage is 0). Where backtesting.py refuses
        such levels (a gap past a level: it requires SL < last close < TP), the order goes
        without brackets and :meth:`next` attaches them after the fill, one bar late.
        """

        unanchored: list[int]

        def init(self) -> None:
            self.f = self.I(sma, self.data.Close, p.fast)
            self.s = self.I(sma, self.data.Close, p.slow)
            self.unanchored = []
            self.late: tuple[float, float] | None = None

        def next(self) -> None:
            if self.late is not None and self.trades:
                self.trades[-1].tp, self.trades[-1].sl = self.late
                self.late = None
            above = self.f[-1] > self.s[-1]
            if above == (self.f[-2] > self.s[-2]):
                return
            i = len(self.data) - 1
            close = float(self.data.Close[-1])
            fill = float(opens[i + 1]) if anchor and i + 1 < len(opens) else close
            sign = 1.0 if above else -1.0
            tp = close * (1.0 + sign * p.tp_pct) + (fill - close)
            sl = close * (1.0 - sign * p.sl_pct) + (fill - close)
            order = self.buy if above else self.sell
            try:
                order(size=1, tp=tp, sl=sl)
            except ValueError:
                self.unanchored.append(i + 1)
                self.late = (tp, sl)
                order(size=1)

    return SmaCrossPctBT


def run_backtesting(
    df: pd.DataFrame, anchor: bool = True, p: Params = DEFAULT
) -> tuple[Any, float, float, list[int]]:
    """Run backtesting.py once; return its stats, wall and CPU seconds, unanchored entries."""
    import backtesting.backtesting as bt_mod
    from backtesting import Backtest

    bt_mod._tqdm = lambda seq, **_: seq  # no progress bar
    cls = _bt_strategy_class(df["Open"].to_numpy(), anchor, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start, cpu = time.perf_counter(), time.process_time()
        bt = Backtest(df, cls, cash=1e12, commission=0.0, exclusive_orders=True)
        stats = bt.run()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return stats, elapsed, cpu, list(stats._strategy.unanchored)


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


def bars_frame(data_dir: Path) -> pd.DataFrame:
    """Read the one CSV of ``data_dir`` into backtesting.py's OHLCV frame (UTC index)."""
    (csv,) = sorted(data_dir.glob("*.csv"))
    # Strings first, then float(): correctly rounded like v7's own CSV reader.
    raw = pd.read_csv(csv, dtype=str)
    index = pd.to_datetime(raw["ts"].astype(float).astype("int64"), unit="ms")
    cols = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"}
    frame = raw.rename(columns=cols).set_index(index)[list(cols.values())]
    return frame.astype(float)


def v7_config(p: Params = DEFAULT) -> dict[str, Any]:
    """The shipped config with sma_cross_pct, zero costs and risk that vetoes nothing."""
    strategy: dict[str, Any] = {"name": "sma_cross_pct", **asdict(p)}
    strategy |= {"risk_per_trade_nav_pct": None, "reverse_on_opposite": True}
    exchange = {"taker_fee_bps": 0.0, "slippage_bps": 0.0, "default_min_notional": 0.0}
    exchange |= {"default_qty_step": 1e-6}
    return config_dict(1, strategy=strategy, risk=relaxed_risk(), exchange=exchange)


# --- the benchmark ----------------------------------------------------------------------------


def v7_replay(data_dir: Path, p: Params = DEFAULT) -> tuple[list[Trade], int, dict[str, Any]]:
    """Replay ``data_dir`` once in v7; its round trips, how many stay open, its summary."""
    fills: list[Fill] = []
    with temp_dir("v7-vs-bt-") as d:
        res = run_prepared(
            prepare_replay(v7_config(p), None, data_dir), d, None, fill_recorder(fills)
        )
    trades, still_open = v7_trades(fills)
    return trades, still_open, res.summary


def _timed_pairs(data_dir: Path, df: pd.DataFrame, runs: int) -> dict[str, Any]:
    """Alternate v7 and backtesting.py runs; each pair gives a ratio under the same conditions."""
    prep = prepare_replay(v7_config(), None, data_dir)
    fills: list[Fill] = []
    v7: list[tuple[float, float]] = []  # (wall s, cpu s)
    bt: list[tuple[float, float]] = []
    summary: dict[str, Any] = {}
    stats: Any = None
    unanchored: list[int] = []
    for k in range(runs):
        with temp_dir("v7-vs-bt-") as d:
            res = run_prepared(prep, d, None, fill_recorder(fills) if k == 0 else None)
        v7.append((res.elapsed_s, res.cpu_s))
        summary = summary or res.summary
        stats, wall, cpu, unanchored = run_backtesting(df)
        bt.append((wall, cpu))
    n = len(df)
    return {
        "fills": fills,
        "summary": summary,
        "stats": stats,
        "unanchored": unanchored,
        "v7_runs_bars_per_s": [n / w for w, _ in v7],
        "backtesting_runs_bars_per_s": [n / w for w, _ in bt],
        "v7_runs_bars_per_cpu_s": [n / c for _, c in v7],
        "backtesting_runs_bars_per_cpu_s": [n / c for _, c in bt],
        "ratio_runs": [b[0] / a[0] for a, b in zip(v7, bt, strict=True)],
        "ratio_cpu_runs": [b[1] / a[1] for a, b in zip(v7, bt, strict=True)],
    }


def _measure(data_dir: Path, runs: int) -> dict[str, Any]:
    df = bars_frame(data_dir)
    timed = _timed_pairs(data_dir, df, runs)
    trades, still_open = v7_trades(timed.pop("fills"))
    unanchored = timed.pop("unanchored")
    vetoes = timed.pop("summary")["vetoes"]
    plain_stats, _, _, _ = run_backtesting(df, anchor=False)
    unanchored_ts = frozenset(df.index[i].value / 1e9 for i in unanchored if i < len(df))
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
            k: naive[k] for k in ("matched", "mismatched", "mismatch_causes")
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
        m = _measure(BTC_1M_DIR if real else tmp, runs)
    if not small:
        from bench.fill_rules import run_all_cases  # it builds on this module

        m["fill_rule_cases"] = run_all_cases()
    v7_rate = median(m["v7_runs_bars_per_s"])
    bt_rate = median(m["backtesting_runs_bars_per_s"])
    ratio = median(m["ratio_runs"])
    cpu = {
        "v7_bars_per_cpu_s": round(median(m["v7_runs_bars_per_cpu_s"])),
        "backtesting_bars_per_cpu_s": round(median(m["backtesting_runs_bars_per_cpu_s"])),
        "ratio_cpu_v7_over_backtesting": round(median(m["ratio_cpu_runs"]), 2),
    }
    t = m["trades"]
    for key, values in m.items():
        if key.endswith("_runs"):
            m[key] = [round(r, 3) for r in values]
        elif key.endswith(("_runs_bars_per_s", "_runs_bars_per_cpu_s")):
            m[key] = [round(r) for r in values]
    return {
        "benchmark": NAME,
        "data": "btc_perp_1m (real, FTX)" if real else f"synthetic ({m['bars']} 1m bars)",
        "strategy": {"name": "sma_cross_pct", **asdict(DEFAULT)},
        "v7_bars_per_s": round(v7_rate),
        "backtesting_bars_per_s": round(bt_rate),
        "ratio_v7_over_backtesting": round(ratio, 2),
        **cpu,
        "goal": "v7 >= backtesting.py",
        "goal_met": ratio >= 1.0,
        **m,
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
                f"{t['matched']}/{t['v7_trades']}",
                "trades",
                "all",
                None,
            ),
            *_fill_rule_row(m.get("fill_rule_cases")),
        ],
    }


def _fill_rule_row(cases: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    if not cases:
        return []
    ok = sum(c["same"] == c["expected_same"] for c in cases.values())
    return [headline("  fill-rule cases as documented", f"{ok}/{len(cases)}", "", "all", None)]


def main() -> None:
    result = run()
    path = write_result(NAME, result)
    t = result["trades"]
    print(
        f"v7 {result['v7_bars_per_s']:,} bars/s, backtesting.py "
        f"{result['backtesting_bars_per_s']:,} bars/s, ratio {result['ratio_v7_over_backtesting']}"
        f"; trades matched {t['matched']}/{t['v7_trades']} ({t['mismatch_causes']}) -> {path}"
    )


if __name__ == "__main__":
    main()
