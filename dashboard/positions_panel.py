"""Positions and portfolio risk: open positions with TP/SL distances; NAV/DD/VaR/CVaR vs limits."""

from __future__ import annotations

import streamlit as st

from dashboard.coerce import as_float
from dashboard.formatting import format_age, format_money, format_pct
from dashboard.state import DashboardState, age_seconds
from dashboard.tables import positions_frame, risk_limit_rows, risk_limits_frame
from dashboard.widgets import require_file
from execution.state_v7 import POSITIONS_STATE_FILE, RISK_SNAPSHOT_FILE

_PCT = st.column_config.NumberColumn(format="%.2f")


def render(state: DashboardState) -> None:
    """Draw the open positions table, then NAV / drawdown / VaR / CVaR against limits."""
    render_positions(state)
    render_risk_limits(state)


def render_positions(state: DashboardState) -> None:
    """Open positions: entry, mark, PnL %, TP, SL and how far the mark is from each."""
    st.subheader("Open positions")
    if not require_file(state, POSITIONS_STATE_FILE, "positions"):
        return
    frame = positions_frame(
        state.positions_state.get("positions"), state.settings.underwater_threshold_pct
    )
    age = age_seconds(state.positions_state.get("updated_ts"), state.reference_time)
    st.caption(
        f"{len(frame)} open position(s); marks {format_age(age)} old. "
        "'To TP %' / 'To SL %': how far the mark must move to hit the level "
        "(negative = already crossed, the exit should have fired). Prices at one precision "
        "per row."
        + (
            " Perpetuals: 'To liq. %' is how far the mark may move against the position before "
            "liquidation; 'Funding' is the position's funding so far (apart from its PnL)."
            if "Funding" in frame.columns
            else ""
        )
    )
    if frame.empty:
        st.info("No open positions.")
        return
    config = {c: _PCT for c in ("PnL %", "To TP %", "To SL %", "To liq. %", "Funding")}
    config["Leverage"] = st.column_config.NumberColumn(format="%gx")
    st.dataframe(
        frame, hide_index=True, width="stretch", column_order=list(frame.columns),
        column_config=config,
    )  # fmt: skip


def _funding(state: DashboardState) -> str:
    """Perpetuals' funding so far (positions_ledger.json; written once the first is paid)."""
    funding = as_float(state.positions_ledger.get("funding_pnl"))
    return "" if funding is None else f", funding {format_money(funding)} (apart from realized)"


def render_risk_limits(state: DashboardState) -> None:
    """NAV, drawdown, VaR and CVaR with their limits from risk_snapshot.json."""
    st.subheader("NAV, drawdown, VaR / CVaR vs limits")
    if not require_file(state, RISK_SNAPSHOT_FILE, "risk snapshot"):
        return
    snapshot = state.risk_snapshot
    rows = risk_limit_rows(snapshot)
    cols = st.columns(len(rows))
    for col, row in zip(cols, rows, strict=True):
        col.metric(row.metric, row.value, help=f"limit: {row.limit}; {row.status}")
    if snapshot.get("trading_halted") is True:
        st.error("Trading is halted (risk_snapshot.json trading_halted: true).")
    st.dataframe(
        risk_limits_frame(snapshot),
        hide_index=True,
        width="stretch",
        column_config={"Use of limit (%)": st.column_config.NumberColumn(format="%.1f")},
    )
    st.caption(
        f"Balance {format_money(as_float(snapshot.get('balance')))}, unrealized "
        f"{format_money(as_float(snapshot.get('unrealized_pnl')))}, realized "
        f"{format_money(as_float(snapshot.get('realized_pnl')))}{_funding(state)}, gross exposure "
        f"{format_money(as_float(snapshot.get('gross_exposure')))}; "
        f"drawdown {format_pct(as_float(snapshot.get('drawdown_pct')))} below peak NAV."
    )
