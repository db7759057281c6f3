"""Closed trades and equity: the equity curve with its drawdown, fees, the trades by symbol.

Unlike the other panels this one reads the engine's journal, not a JSON view: closed trades and
equity samples live only in the store. It reads through the store's read-only readers (no lock,
safe while the engine writes) and keeps the newest ``MAX_TRADES`` / ``MAX_EQUITY`` rows, so a
long run cannot make a page render unbounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from dashboard.formatting import format_count, format_money, format_pct, format_price
from dashboard.report_charts import (
    equity_drawdown_chart,
    equity_frame,
    symbols_of,
    trade_totals,
    trades_frame,
)
from dashboard.state import DashboardState
from execution.clock import to_iso
from execution.store import (
    NoStore,
    StoreError,
    read_closed_trades,
    read_equity,
    read_external_closes,
    read_funding,
)

MAX_TRADES = 5_000
MAX_EQUITY = 20_000  # hourly samples: over two years
ALL = "all symbols"


@dataclass(frozen=True)
class Journal:
    """The newest closed trades and equity samples, or why there are none."""

    trades: list[dict[str, Any]] = field(default_factory=list)
    equity: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    # Perpetuals' funding payments (every one: a total must not drop the oldest); none on spot.
    funding: list[dict[str, Any]] = field(default_factory=list)
    # Positions that ended outside the engine (the newest MAX_TRADES): no exit, no PnL.
    external: list[dict[str, Any]] = field(default_factory=list)


def load_journal(state_dir: str) -> Journal:
    """Read the journal read-only; never raises (a missing or unusable store is a message)."""
    try:
        return Journal(read_closed_trades(state_dir, limit=MAX_TRADES),
                       read_equity(state_dir, limit=MAX_EQUITY), funding=_funding(state_dir),
                       external=read_external_closes(state_dir, limit=MAX_TRADES))  # fmt: skip
    except NoStore:
        return Journal(problem="no store in this state dir yet: no trades journaled")
    except StoreError as err:
        return Journal(problem=f"the store is unreadable: {err}")


def _funding(state_dir: str) -> list[dict[str, Any]]:
    """Funding rows; none from a store the engine has not migrated yet (no funding table)."""
    try:
        return read_funding(state_dir)
    except StoreError:
        return []


def render(state: DashboardState) -> None:
    """Draw the equity curve with drawdown, the fee totals and the filterable trades table."""
    journal = load_journal(state.state_dir)
    st.subheader("Equity and drawdown")
    if journal.problem:
        st.info(journal.problem)
        return
    if journal.equity:
        st.altair_chart(equity_drawdown_chart(equity_frame(journal.equity)), width="stretch")
    else:
        st.info("No equity sample yet (one per hour of bar time).")
    render_trades(journal.trades, journal.funding, journal.external)


def funding_total(funding: list[dict[str, Any]], symbol: str | None = None) -> float | None:
    """Funding received (+) or paid (-) for ``symbol`` (every symbol: None); None if none."""
    rows = [f for f in funding if symbol is None or f.get("symbol") == symbol]
    return sum(float(f["payment"]) for f in rows) if rows else None


def outside_note(external: list[dict[str, Any]], symbol: str | None = None) -> str | None:
    """The positions that ended outside the engine, newest first (None: there are none)."""
    rows = [r for r in external if symbol is None or r.get("symbol") == symbol]
    if not rows:
        return None
    listed = "; ".join(
        f"{r['symbol']} {r['side']} {r['qty']:g} (entry {format_price(r['entry_price'])}), "
        f"seen gone at {to_iso(r['seen_ts'])}"
        for r in reversed(rows[-5:])
    )
    more = f" and {len(rows) - 5:,} more" if len(rows) > 5 else ""
    return (
        f"{len(rows):,} position(s) closed outside the engine (by hand, or liquidated while it "
        f"was down): {listed}{more}. Their exit was not seen, so they are not in these totals; "
        "`v7 trades` lists them."
    )


def render_trades(
    trades: list[dict[str, Any]],
    funding: list[dict[str, Any]] | None = None,
    external: list[dict[str, Any]] | None = None,
) -> None:
    """Totals (fees and funding apart from PnL) and the closed trades, newest first, filtered
    by symbol; positions that ended outside the engine are named apart."""
    st.subheader("Closed trades")
    symbols = symbols_of([*trades, *(external or [])])
    choice = st.selectbox("Symbol", [ALL, *symbols], key="trades_symbol")
    symbol = None if choice == ALL else choice
    shown = [t for t in trades if symbol is None or t["symbol"] == symbol]
    totals = trade_totals(shown)
    paid = funding_total(funding or [], symbol)
    cols = st.columns(4 if paid is None else 5)
    cols[0].metric("Closed trades", format_count(int(totals["trades"])))
    win_rate = totals["wins"] / totals["trades"] if totals["trades"] else None
    cols[1].metric("Win rate", format_pct(win_rate, 1))
    cols[2].metric("Fees", format_money(totals["fees"]))
    if paid is not None:
        cols[3].metric("Funding", format_money(paid), help="received (+) or paid (-); in NAV, "
                       "not in the trades' PnL")  # fmt: skip
    cols[-1].metric("Net PnL (after fees)", format_money(totals["net_pnl"]))
    capped = f" (the newest {MAX_TRADES:,})" if len(trades) >= MAX_TRADES else ""
    apart = "" if paid is None else f"; funding {format_money(paid)} apart from the trades' PnL"
    st.caption(f"Gross PnL {format_money(totals['pnl'])}, fees {format_money(totals['fees'])}"
               f"{apart}{capped}. `v7 report` has every metric; `v7 trades --csv` exports them.")  # fmt: skip
    note = outside_note(external or [], symbol)
    if note:
        st.warning(note)
    if not shown:
        st.info("No closed trades yet.")
        return
    money = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(trades_frame(trades, symbol), hide_index=True, width="stretch",
                 column_config={"PnL": money, "Fees": money, "Net PnL": money})  # fmt: skip
