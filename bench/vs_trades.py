"""Round trips of both engines and their comparison (used by bench_vs_backtesting, fill_rules).

v7's come from the fills the executor applied; backtesting.py's from ``stats._trades``, whose exit
kind is inferred from the price it filled at. Trades are matched by (entry time, side) and
compared on entry price, exit time and exit price; a difference is named after the fill rule
behind it (docs/performance.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from execution.types import Fill, OrderKind

PRICE_TOL = 1e-9  # relative


@dataclass(frozen=True)
class Trade:
    side: str  # long | short
    entry_ts: float
    entry_price: float
    exit_ts: float
    exit_price: float
    exit_kind: str  # tp | sl | signal (v7's own; inferred from the price for backtesting.py)


def v7_trades(fills: Sequence[Fill]) -> tuple[list[Trade], int]:
    """Pair entry and exit fills into round trips; return them and how many stay open."""
    trades: list[Trade] = []
    opened: tuple[str, float, float] | None = None
    for fill in fills:
        if fill.kind is OrderKind.ENTRY:
            opened = ("long" if fill.side == "buy" else "short", fill.ts, fill.price)
        elif opened is not None:
            kind = fill.exit_kind.value if fill.exit_kind else "exit"
            trades.append(Trade(opened[0], opened[1], opened[2], fill.ts, fill.price, kind))
            opened = None
    return trades, int(opened is not None)


def bt_trades(stats: Any) -> list[Trade]:
    """Read backtesting.py's closed trades, naming the exit by the level it filled at."""
    out = []
    for row in stats._trades.itertuples():
        kind = "signal"
        # A level the trade never had is NaN, which equals nothing, itself included.
        if row.SL == row.SL and _same(row.ExitPrice, row.SL):
            kind = "sl"
        elif row.TP == row.TP and _same(row.ExitPrice, row.TP):
            kind = "tp"
        out.append(
            Trade(
                "long" if row.Size > 0 else "short",
                row.EntryTime.value / 1e9,
                float(row.EntryPrice),
                row.ExitTime.value / 1e9,
                float(row.ExitPrice),
                kind,
            )
        )
    return out


def _same(price: float, other: float) -> bool:
    return abs(price - other) <= PRICE_TOL * max(abs(price), abs(other), 1.0)


def _cause(ours: Trade, theirs: Trade, df: pd.DataFrame, late: set[float], late_cause: str) -> str:
    """Name the fill rule behind one differing trade (see docs/performance.md)."""
    same_exit_bar = ours.exit_ts == theirs.exit_ts
    bar = df.loc[pd.Timestamp(ours.exit_ts, unit="s")] if same_exit_bar else None
    if ours.entry_ts in late:
        return late_cause
    if bar is not None and ours.exit_kind == "tp" and _same(ours.exit_price, float(bar.Open)):
        return "gap_past_tp_and_sl_in_one_bar"
    return "other"


def compare_trades(
    v7: list[Trade],
    bt: list[Trade],
    df: pd.DataFrame,
    late: frozenset[float] = frozenset(),
    late_cause: str = "levels_attached_one_bar_late",
) -> dict[str, Any]:
    """Match round trips by (entry time, side); count matches and name each difference's cause.

    ``late``: entry times whose backtesting.py levels differ from v7's by construction
    (attached a bar late, or fixed from the signal close), reported as ``late_cause``.
    """
    by_key = {(trade.entry_ts, trade.side): trade for trade in bt}
    matched, causes = 0, Counter[str]()
    examples: list[dict[str, Any]] = []
    for ours in v7:
        theirs = by_key.pop((ours.entry_ts, ours.side), None)
        if theirs is None:
            causes["only_in_v7"] += 1
            continue
        if (
            _same(ours.entry_price, theirs.entry_price)
            and ours.exit_ts == theirs.exit_ts
            and _same(ours.exit_price, theirs.exit_price)
        ):
            matched += 1
            continue
        cause = _cause(ours, theirs, df, set(late), late_cause)
        causes[cause] += 1
        if len(examples) < 6:
            examples.append({"cause": cause, "v7": asdict(ours), "backtesting": asdict(theirs)})
    causes["only_in_backtesting"] += len(by_key)
    return {
        "v7_trades": len(v7),
        "backtesting_trades": len(bt),
        "matched": matched,
        "mismatched": sum(causes.values()),
        "mismatch_causes": {cause: n for cause, n in causes.items() if n},
        "examples": examples,
        "v7_exits_by_kind": dict(Counter(trade.exit_kind for trade in v7)),
        "backtesting_exits_by_kind": dict(Counter(trade.exit_kind for trade in bt)),
    }


def gapped_entries(df: pd.DataFrame) -> frozenset[float]:
    """Return the bar times whose open differs from the previous close (entries fill off it)."""
    opens, closes = df["Open"].to_numpy(), df["Close"].to_numpy()
    gapped = np.flatnonzero(opens[1:] != closes[:-1]) + 1
    return frozenset(df.index[gapped].as_unit("ns").asi8 / 1e9)
