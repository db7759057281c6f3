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
    for f in fills:
        if f.kind is OrderKind.ENTRY:
            opened = ("long" if f.side == "buy" else "short", f.ts, f.price)
        elif opened is not None:
            kind = f.exit_kind.value if f.exit_kind else "exit"
            trades.append(Trade(opened[0], opened[1], opened[2], f.ts, f.price, kind))
            opened = None
    return trades, int(opened is not None)


def bt_trades(stats: Any) -> list[Trade]:
    """Read backtesting.py's closed trades, naming the exit by the level it filled at."""
    out = []
    for row in stats._trades.itertuples():
        kind = "signal"
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


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= PRICE_TOL * max(abs(a), abs(b), 1.0)


def _cause(v: Trade, b: Trade, df: pd.DataFrame, late: set[float], late_cause: str) -> str:
    """Name the fill rule behind one differing trade (see docs/performance.md)."""
    bar = df.loc[pd.Timestamp(v.exit_ts, unit="s")] if v.exit_ts == b.exit_ts else None
    if v.entry_ts in late:
        return late_cause
    if bar is not None and v.exit_kind == "tp" and _same(v.exit_price, float(bar.Open)):
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
    by_key = {(t.entry_ts, t.side): t for t in bt}
    matched, causes = 0, Counter[str]()
    examples: list[dict[str, Any]] = []
    for v in v7:
        b = by_key.pop((v.entry_ts, v.side), None)
        if b is None:
            causes["only_in_v7"] += 1
            continue
        if (
            _same(v.entry_price, b.entry_price)
            and v.exit_ts == b.exit_ts
            and _same(v.exit_price, b.exit_price)
        ):
            matched += 1
            continue
        cause = _cause(v, b, df, set(late), late_cause)
        causes[cause] += 1
        if len(examples) < 6:
            examples.append({"cause": cause, "v7": asdict(v), "backtesting": asdict(b)})
    causes["only_in_backtesting"] += len(by_key)
    return {
        "v7_trades": len(v7),
        "backtesting_trades": len(bt),
        "matched": matched,
        "mismatched": sum(causes.values()),
        "mismatch_causes": {k: n for k, n in causes.items() if n},
        "examples": examples,
        "v7_exits_by_kind": dict(Counter(t.exit_kind for t in v7)),
        "backtesting_exits_by_kind": dict(Counter(t.exit_kind for t in bt)),
    }


def gapped_entries(df: pd.DataFrame) -> frozenset[float]:
    """Bar times whose open differs from the previous close (where an entry fills off the close)."""
    opens, closes = df["Open"].to_numpy(), df["Close"].to_numpy()
    gapped = np.flatnonzero(opens[1:] != closes[:-1]) + 1
    return frozenset(df.index[gapped].as_unit("ns").asi8 / 1e9)
