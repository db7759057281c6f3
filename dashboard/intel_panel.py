"""Engine intel: stage liveness, per-symbol gating, the accounting identity, bad bars."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.coerce import as_count, as_dict, as_list, as_str
from dashboard.formatting import format_age
from dashboard.state import DashboardState, engine_mode
from dashboard.tables import (
    accounting_summary,
    bad_bars_frame,
    count_frame,
    gating_frame,
    liveness_frame,
)
from dashboard.widgets import diagnostics_or_notice, require_file, section
from execution.state_v7 import INTEL_FILE


def render(state: DashboardState) -> None:
    """Draw engine identity, liveness, gating, accounting and bad bars."""
    if not require_file(state, INTEL_FILE, "engine intel"):
        return
    render_engine(state)
    diag = diagnostics_or_notice(state, "liveness or accounting")
    if diag is not None:
        render_liveness(state, diag)
        render_gating(diag)
        render_accounting(diag)
    render_bad_bars(state.intel.get("bad_bars"))


def render_engine(state: DashboardState) -> None:
    """One line: mode, running, exchange, symbols, bars processed, start time."""
    engine = state.engine
    symbols = as_list(engine.get("symbols"))
    running = engine.get("running")
    st.subheader("Engine")
    st.markdown(
        f"Mode **{engine_mode(state)}** · "
        f"{'running' if running is True else 'stopped' if running is False else 'state unknown'} · "
        f"exchange {as_str(engine.get('exchange')) or '?'} · {len(symbols)} symbols · "
        f"{as_count(engine.get('bars_processed')):,} bars processed · "
        f"started {as_str(engine.get('started_ts')) or '?'}"
    )


def render_liveness(state: DashboardState, diag: dict[str, Any]) -> None:
    """Per stage: seconds since its last success and its last error."""
    st.subheader("Stage liveness")
    liveness = section(diag, "liveness", "stage liveness")
    if liveness is None:
        return
    stale = state.settings.exit_scan_stale_seconds
    frame = liveness_frame(liveness, state.reference_time, stale)
    last_loop = as_dict(liveness.get("last_loop"))
    st.caption(
        f"{as_count(liveness.get('loop_count')):,} loops; last loop: "
        + ", ".join(f"{k} {as_count(v)}" for k, v in last_loop.items())
        + f". A stage is stale after {format_age(stale)} without success"
        + (
            " (replay: ages are against the last published bar time)."
            if state.engine.get("mode") == "replay"
            else "."
        )
    )
    if frame.empty:
        st.info("No stages have reported yet.")
        return
    st.dataframe(frame, hide_index=True, width="stretch")


def render_gating(diag: dict[str, Any]) -> None:
    """What blocks each symbol right now."""
    st.subheader("Gating — what blocks each symbol now")
    frame = gating_frame(as_dict(diag.get("liveness")).get("gating"))
    if frame.empty:
        st.info("No gating flags published.")
        return
    st.dataframe(frame, hide_index=True, width="stretch")


def render_accounting(diag: dict[str, Any]) -> None:
    """The identity signals = vetoes + entry orders + failures + in flight, and exits by kind."""
    st.subheader("Accounting — every signal ends somewhere")
    summary = accounting_summary(diag.get("accounting"))
    if summary is None:
        st.info(f"No accounting: {INTEL_FILE} has no 'runtime_diagnostics.accounting' block.")
        return
    if summary.ok:
        st.success(f"✅ {summary.equation()}")
    else:
        st.error(f"❌ {summary.equation()} — {summary.unaccounted:,} signal(s) unaccounted for")
    accounting = as_dict(diag.get("accounting"))
    left, mid, right = st.columns(3)
    for col, title, counts, key in (
        (left, "Orders by kind", accounting.get("orders_by_kind"), "Kind"),
        (mid, "Exit triggers by kind", diag.get("exit_triggers_by_kind"), "Kind"),
        (right, "Order failures by error", accounting.get("order_failures_by_error"), "Error"),
    ):
        col.markdown(f"**{title}**")
        frame = count_frame(counts, key)
        if frame.empty:
            col.caption("none")
        else:
            col.dataframe(frame, hide_index=True, width="stretch")


def render_bad_bars(bad_bars: Any) -> None:
    """Bars rejected by the data feed (NaN, zero, duplicate or out-of-order timestamps)."""
    st.subheader("Bad bars")
    total = as_count(as_dict(bad_bars).get("total"))
    frame = bad_bars_frame(bad_bars)
    if not total and frame.empty:
        st.caption("No bad bars rejected.")
        return
    st.markdown(f"**{total:,}** bar(s) rejected and never traded on.")
    if not frame.empty:
        st.dataframe(frame, hide_index=True, width="stretch")
