"""Pure builders of the trades panel: the closed-trades table and the equity/drawdown chart.

Inputs are the store readers' rows (``read_closed_trades``, ``read_equity``); nothing here
reads a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from dashboard.formatting import format_prices
from execution.clock import to_iso

TRADE_COLUMNS = ["Symbol", "Side", "Entry time", "Entry", "Exit time", "Exit", "Qty", "TP", "SL",
                 "Exit reason", "PnL", "Fees", "Net PnL"]  # fmt: skip
_PRICES = (("Entry", "entry_price"), ("Exit", "exit_price"), ("TP", "tp"), ("SL", "sl"))


def symbols_of(trades: Sequence[dict[str, Any]]) -> list[str]:
    """The symbols that have closed trades, sorted."""
    return sorted({str(t.get("symbol")) for t in trades})


def trades_frame(trades: Sequence[dict[str, Any]], symbol: str | None = None) -> pd.DataFrame:
    """Closed trades, newest first; prices at one precision per column, a missing level "—"."""
    rows = [t for t in trades if symbol is None or t.get("symbol") == symbol][::-1]
    frame = pd.DataFrame({
        "Symbol": [t["symbol"] for t in rows],
        "Side": [t["side"] for t in rows],
        "Entry time": [to_iso(t["entry_ts"]) for t in rows],
        "Exit time": [to_iso(t["exit_ts"]) for t in rows],
        "Qty": [float(t["qty"]) for t in rows],
        "Exit reason": [t["exit_reason"] for t in rows],
        "PnL": [float(t["pnl"]) for t in rows],
        "Fees": [float(t["fees"]) for t in rows],
        "Net PnL": [float(t["pnl"]) - float(t["fees"]) for t in rows],
    })  # fmt: skip
    # One precision per column, chosen by its cheapest price: a symbol filter can change it.
    for column, key in _PRICES:
        frame[column] = format_prices([t.get(key) for t in rows])
    return frame[TRADE_COLUMNS]


def trade_totals(trades: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Count, gross PnL, fees and net PnL of the given trades."""
    pnl = sum(float(t["pnl"]) for t in trades)
    fees = sum(float(t["fees"]) for t in trades)
    wins = sum(1 for t in trades if float(t["pnl"]) - float(t["fees"]) > 0)
    return {"trades": float(len(trades)), "wins": float(wins), "pnl": pnl, "fees": fees,
            "net_pnl": pnl - fees}  # fmt: skip


def equity_frame(equity: Sequence[dict[str, Any]], max_points: int = 2_000) -> pd.DataFrame:
    """NAV and drawdown below the running peak (percent, <= 0), thinned to ``max_points``."""
    if not equity:
        return pd.DataFrame({"time": [], "nav": [], "drawdown_pct": []})
    nav = np.array([float(r["nav"]) for r in equity])
    dd = (nav / np.maximum.accumulate(nav) - 1.0) * 100.0
    step = max(1, -(-len(nav) // max_points))
    keep = np.unique(np.r_[np.arange(0, len(nav), step), len(nav) - 1])
    ts = np.array([float(r["ts"]) for r in equity])[keep]
    return pd.DataFrame({"time": pd.to_datetime(ts, unit="s", utc=True), "nav": nav[keep],
                         "drawdown_pct": dd[keep]})  # fmt: skip


def equity_drawdown_chart(frame: pd.DataFrame) -> alt.VConcatChart:
    """NAV above its drawdown, sharing the time axis."""
    base = alt.Chart(frame).encode(x=alt.X("time:T", title=None))
    nav = base.mark_line().encode(
        y=alt.Y("nav:Q", title="NAV", scale=alt.Scale(zero=False)),
        tooltip=["time:T", alt.Tooltip("nav:Q", format=",.2f")],
    )
    dd = base.mark_area(color="#d62728", opacity=0.5).encode(
        y=alt.Y("drawdown_pct:Q", title="drawdown %"),
        tooltip=["time:T", alt.Tooltip("drawdown_pct:Q", format=".2f")],
    )
    return alt.vconcat(nav.properties(height=200), dd.properties(height=90))
