"""One strategy in v7 and in backtesting.py, and the hand-made bars that show their fill rules.

The strategy is ``sma_cross_pct`` (execution/signal_screener.py) and its backtesting.py twin
:class:`SmaCrossPctBT`, with the config and the runners both engines need; bench_vs_backtesting
builds its benchmark on them (this module never imports it, so the dependency goes one way).

Each case is a few 1m bars run through both engines with ``sma_cross_pct`` at fast=1, slow=2
(a long signal when a close is above the previous one after one that was not, a short signal
the other way round), TP 2% / SL 1%. ``expect_same`` is what docs/performance.md states; the
smoke test holds the two together.
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
    config_dict,
    fill_recorder,
    prepare_replay,
    relaxed_risk,
    run_prepared,
    temp_dir,
)
from bench.vs_trades import Trade, bt_trades, v7_trades
from execution.types import Fill


@dataclass(frozen=True)
class Params:
    fast: int = 10
    slow: int = 30
    tp_pct: float = 0.004
    sl_pct: float = 0.002


DEFAULT = Params()


# --- the strategy in backtesting.py ------------------------------------------------------------


def _bt_strategy_class(opens: np.ndarray, anchor: bool, params: Params) -> type:
    """Build the backtesting.py twin of v7's sma_cross_pct (imports backtesting lazily)."""
    from backtesting import Strategy

    def sma(values: np.ndarray, window: int) -> np.ndarray:
        return np.asarray(pd.Series(values).rolling(window).mean())

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
            self.fast_sma = self.I(sma, self.data.Close, params.fast)
            self.slow_sma = self.I(sma, self.data.Close, params.slow)
            self.unanchored = []
            self.late_levels: tuple[float, float] | None = None

        def next(self) -> None:
            if self.late_levels is not None and self.trades:
                self.trades[-1].tp, self.trades[-1].sl = self.late_levels
                self.late_levels = None
            above = self.fast_sma[-1] > self.slow_sma[-1]
            if above == (self.fast_sma[-2] > self.slow_sma[-2]):
                return
            signal_bar = len(self.data) - 1
            close = float(self.data.Close[-1])
            has_next = anchor and signal_bar + 1 < len(opens)
            fill = float(opens[signal_bar + 1]) if has_next else close
            sign = 1.0 if above else -1.0
            tp = close * (1.0 + sign * params.tp_pct) + (fill - close)
            sl = close * (1.0 - sign * params.sl_pct) + (fill - close)
            order = self.buy if above else self.sell
            try:
                order(size=1, tp=tp, sl=sl)
            except ValueError:
                self.unanchored.append(signal_bar + 1)
                self.late_levels = (tp, sl)
                order(size=1)

    return SmaCrossPctBT


def run_backtesting(
    df: pd.DataFrame, anchor: bool = True, params: Params = DEFAULT
) -> tuple[Any, float, float, list[int]]:
    """Run backtesting.py once; return its stats, wall and CPU seconds, unanchored entries."""
    import backtesting.backtesting as bt_mod
    from backtesting import Backtest

    bt_mod._tqdm = lambda seq, **_: seq  # no progress bar
    strategy_class = _bt_strategy_class(df["Open"].to_numpy(), anchor, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start, cpu = time.perf_counter(), time.process_time()
        backtest = Backtest(df, strategy_class, cash=1e12, commission=0.0, exclusive_orders=True)
        stats = backtest.run()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return stats, elapsed, cpu, list(stats._strategy.unanchored)


def bars_frame(data_dir: Path) -> pd.DataFrame:
    """Read the one CSV of ``data_dir`` into backtesting.py's OHLCV frame (UTC index)."""
    (csv,) = sorted(data_dir.glob("*.csv"))
    # Strings first, then float(): correctly rounded like v7's own CSV reader.
    raw = pd.read_csv(csv, dtype=str)
    index = pd.to_datetime(raw["ts"].astype(float).astype("int64"), unit="ms")
    cols = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"}
    frame = raw.rename(columns=cols).set_index(index)[list(cols.values())]
    return frame.astype(float)


# --- the strategy in v7 ------------------------------------------------------------------------


def v7_config(params: Params = DEFAULT) -> dict[str, Any]:
    """Return the shipped config with sma_cross_pct, zero costs and risk that vetoes nothing."""
    strategy: dict[str, Any] = {"name": "sma_cross_pct", **asdict(params)}
    strategy |= {"risk_per_trade_nav_pct": None, "reverse_on_opposite": True}
    exchange = {"taker_fee_bps": 0.0, "slippage_bps": 0.0, "default_min_notional": 0.0}
    exchange |= {"default_qty_step": 1e-6}
    return config_dict(1, strategy=strategy, risk=relaxed_risk(), exchange=exchange)


def v7_replay(data_dir: Path, params: Params = DEFAULT) -> tuple[list[Trade], int, dict[str, Any]]:
    """Replay ``data_dir`` once in v7; return its round trips, how many stay open, its summary."""
    fills: list[Fill] = []
    with temp_dir("v7-vs-bt-") as state_dir:
        result = run_prepared(
            prepare_replay(v7_config(params), None, data_dir), state_dir, None, fill_recorder(fills)
        )
    trades, still_open = v7_trades(fills)
    return trades, still_open, result.summary


# --- the fill-rule cases -----------------------------------------------------------------------

PARAMS = Params(fast=1, slow=2, tp_pct=0.02, sl_pct=0.01)
T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
OHLC = tuple[float, float, float, float]
# closes 100 -> 99 -> 100: a long signal at bar 2's close (100), filled at bar 3's open.
LONG_AT_100: list[OHLC] = [(100, 100, 100, 100), (100, 100, 99, 99), (99, 100, 99, 100)]


@dataclass(frozen=True)
class Case:
    shows: str
    bars: list[OHLC]
    expect_same: bool
    anchor: bool = True  # backtesting.py gets the levels v7 will use (see SmaCrossPctBT)


CASES: dict[str, Case] = {
    "tp_and_sl_inside_one_bar": Case(
        "long 100, TP 102, SL 99; a later bar spans 98.5..103: both call it SL at 99",
        [*LONG_AT_100, (100, 100.5, 99.5, 100.2), (100.2, 103, 98.5, 100.5)],
        expect_same=True,
    ),
    "levels_tested_on_the_entry_bar": Case(
        "the entry bar itself dips to 98.9: both stop out at 99 on the bar they entered",
        [*LONG_AT_100, (100, 100.2, 98.9, 100.1), (100.1, 100.3, 100, 100.2)],
        expect_same=True,
    ),
    "gap_through_sl": Case(
        "a bar opens at 98, under SL 99: both fill the stop at the open, 98",
        [*LONG_AT_100, (100, 100.5, 99.5, 100.2), (98, 98.5, 97.5, 98.2), (98.2, 98.3, 98, 98.1)],
        expect_same=True,
    ),
    "gap_past_tp_and_sl_in_one_bar": Case(
        "a bar opens at 103 (over TP 102) and later trades at 98.5 (under SL 99): v7 takes "
        "the TP at the open, 103; backtesting.py works its SL order first: SL at 99",
        [*LONG_AT_100, (100, 100.5, 99.5, 100.2), (103, 103.5, 98.5, 103.2)],
        expect_same=False,
    ),
    "reversal_bar_also_crosses_old_sl": Case(
        "a short signal closes the long at the next open (100); that bar also trades at 98.8, "
        "under the long's SL 99: both exit at the open (backtesting.py queues a trade's close "
        "order first, v7 fills pending orders before it scans exits)",
        [
            *LONG_AT_100,
            (100, 100.5, 99.5, 100.3),
            (100.3, 100.4, 99.8, 100.1),
            (100, 100.2, 98.8, 99),
            (99, 99.1, 98.9, 98.95),
        ],
        expect_same=True,
    ),
    "levels_fixed_at_signal_close": Case(
        "the entry bar opens at 100.6, above the signal close 100: v7 sets TP 102.6 from the "
        "fill; backtesting.py given levels at order time from the close (TP 102) takes profit "
        "on a high of 102.2 that v7 does not reach",
        [*LONG_AT_100, (100.6, 102.2, 100.5, 100.7), (100.7, 100.8, 100.6, 100.75)],
        expect_same=False,
        anchor=False,
    ),
    "levels_attached_one_bar_late": Case(
        "the entry opens at 101.2: v7's SL (100.2) lies above the signal close, which "
        "backtesting.py refuses at order time; attached after the fill, it misses the entry "
        "bar's low of 100.1 that stops v7 out",
        [*LONG_AT_100, (101.2, 101.5, 100.1, 101.3), (101.3, 101.4, 101.2, 101.35)],
        expect_same=False,
    ),
}


def _write(directory: Path, bars: list[OHLC]) -> None:
    lines = ["ts,open,high,low,close,volume"]
    lines += [f"{T0_MS + 60_000 * i},{o},{h},{lo},{c},1" for i, (o, h, lo, c) in enumerate(bars)]
    (directory / "CASE-1m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _rows(trades: list[Trade]) -> list[dict[str, Any]]:
    return [
        {**asdict(trade), "entry_bar": _bar(trade.entry_ts), "exit_bar": _bar(trade.exit_ts)}
        for trade in trades
    ]


def _bar(ts: float) -> int:
    return round((ts * 1000 - T0_MS) / 60_000)


def _key(trade: Trade) -> tuple[str, float, float, float, float]:
    entry_price, exit_price = round(trade.entry_price, 9), round(trade.exit_price, 9)
    return (trade.side, trade.entry_ts, entry_price, trade.exit_ts, exit_price)


def run_case(case: Case) -> dict[str, Any]:
    """Run both engines on the case's bars; return their closed trades and whether they agree."""
    with temp_dir("v7-fill-rule-") as data_dir:
        _write(data_dir, case.bars)
        v7, _, _ = v7_replay(data_dir, PARAMS)
        stats, _, _, _ = run_backtesting(bars_frame(data_dir), case.anchor, PARAMS)
    backtesting = bt_trades(stats)
    same = [_key(trade) for trade in v7] == [_key(trade) for trade in backtesting]
    return {
        "shows": case.shows,
        "same": same,
        "expected_same": case.expect_same,
        "v7": _rows(v7),
        "backtesting": _rows(backtesting),
    }


def run_all_cases() -> dict[str, dict[str, Any]]:
    """Run every case (a second or two)."""
    return {name: run_case(case) for name, case in CASES.items()}


if __name__ == "__main__":
    for name, outcome in run_all_cases().items():
        flag = "ok " if outcome["same"] == outcome["expected_same"] else "!! "
        print(f"{flag}{name}: same={outcome['same']}")
        for who in ("v7", "backtesting"):
            for row in outcome[who]:
                print(
                    f"     {who:12s} {row['side']:5s} in bar {row['entry_bar']}"
                    f" @ {row['entry_price']:.3f} out bar {row['exit_bar']}"
                    f" @ {row['exit_price']:.3f} ({row['exit_kind']})"
                )
