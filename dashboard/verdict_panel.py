"""The top of the page: one coloured answer per question, from the shared verdict.

The same object `v7 doctor` prints first and `/metrics` exports (doctor.verdict), so the
page cannot tell a different story from the other two surfaces.
"""

from __future__ import annotations

import streamlit as st

from dashboard.health import GREEN, ICONS, ORANGE, RED, UNKNOWN
from dashboard.state import DashboardState
from dashboard.widgets import show_level
from doctor.verdict import ProtectionVerdict, TradingVerdict, Verdict

LEVELS = {"ok": GREEN, "warn": ORANGE, "critical": RED}


def level_of(severity: str) -> str:
    """The colour of a verdict severity (ok green, warn orange, critical red)."""
    return LEVELS.get(severity, UNKNOWN)


def trading_line(answer: TradingVerdict) -> str:
    """'Trading: not_trading — portfolio_dd_circuit since T. detail → hint'."""
    why = f" — **{answer.reason}**" if answer.reason else ""
    since = f" since {answer.since}" if answer.since else ""
    hint = f" → {answer.hint}" if answer.hint else ""
    return f"**Trading: {answer.status}**{why}{since}. {answer.detail}{hint}"


def protection_line(answer: ProtectionVerdict) -> str:
    """'Protection: unprotected (ETHUSDT) — detail → hint'."""
    who = f" ({', '.join(answer.unprotected)})" if answer.unprotected else ""
    hint = f" → {answer.hint}" if answer.hint else ""
    return f"**Protection: {answer.status}**{who}. {answer.detail}{hint}"


def answer_lines(verdict: Verdict) -> list[tuple[str, str]]:
    """(colour, markdown) for the two questions, trading first."""
    return [
        (level_of(verdict.trading.severity), trading_line(verdict.trading)),
        (level_of(verdict.protection.severity), protection_line(verdict.protection)),
    ]


def render(state: DashboardState) -> None:
    """Draw the two answers as coloured callouts."""
    if state.verdict is None:
        st.info("No verdict: the state was not read through load_dashboard_state.")
        return
    for level, text in answer_lines(state.verdict):
        show_level(level, text, ICONS.get(level))
