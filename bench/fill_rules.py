"""Hand-made bars that show, one rule at a time, where v7 and backtesting.py fill alike or not.

Each case is a few 1m bars run through both engines with ``sma_cross_pct`` at fast=1, slow=2
(a long signal when a close is above the previous one after one that was not, a short signal
the other way round), TP 2% / SL 1%. ``expect_same`` is what docs/performance.md states; the
smoke test holds the two together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.bench_vs_backtesting import Params, bars_frame, run_backtesting, v7_replay
from bench.common import temp_dir
from bench.vs_trades import Trade, bt_trades

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
        {**asdict(t), "entry_bar": _bar(t.entry_ts), "exit_bar": _bar(t.exit_ts)} for t in trades
    ]


def _bar(ts: float) -> int:
    return round((ts * 1000 - T0_MS) / 60_000)


def _key(t: Trade) -> tuple[str, float, float, float, float]:
    return (t.side, t.entry_ts, round(t.entry_price, 9), t.exit_ts, round(t.exit_price, 9))


def run_case(case: Case) -> dict[str, Any]:
    """Both engines on the case's bars: their closed trades and whether they agree."""
    with temp_dir("v7-fill-rule-") as d:
        _write(d, case.bars)
        v7, _, _ = v7_replay(d, PARAMS)
        stats, _, _, _ = run_backtesting(bars_frame(d), case.anchor, PARAMS)
    bt = bt_trades(stats)
    same = [_key(t) for t in v7] == [_key(t) for t in bt]
    return {
        "shows": case.shows,
        "same": same,
        "expected_same": case.expect_same,
        "v7": _rows(v7),
        "backtesting": _rows(bt),
    }


def run_all_cases() -> dict[str, dict[str, Any]]:
    """Every case (a second or two)."""
    return {name: run_case(case) for name, case in CASES.items()}


if __name__ == "__main__":
    for name, r in run_all_cases().items():
        flag = "ok " if r["same"] == r["expected_same"] else "!! "
        print(f"{flag}{name}: same={r['same']}")
        for who in ("v7", "backtesting"):
            for t in r[who]:
                print(
                    f"     {who:12s} {t['side']:5s} in bar {t['entry_bar']} @ {t['entry_price']:.3f}"
                    f" out bar {t['exit_bar']} @ {t['exit_price']:.3f} ({t['exit_kind']})"
                )
