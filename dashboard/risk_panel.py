"""Risk Diagnostics (spec §6.1, §6.2): exit health and the veto heatmap.

``render_veto_heatmap`` and ``render_exit_pipeline_status`` keep the spec's names; given no
state they load it themselves, as the spec's versions did with load_runtime_diagnostics_state.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import charts
from dashboard.coerce import as_count, as_dict, as_float
from dashboard.formatting import format_age, format_count, format_pct
from dashboard.health import exit_counts, exit_health, unprotected_symbols
from dashboard.state import DashboardState, load_dashboard_state
from dashboard.tables import gating_summary
from dashboard.widgets import diagnostics_or_notice, section, show_level
from execution.state_v7 import POSITIONS_LEDGER_FILE, TP_SL_REGISTRY_FILE

HEADER = "Risk Diagnostics"


def render(state: DashboardState) -> None:
    """Draw the Risk Diagnostics section: exit health, then the veto heatmap."""
    st.header(HEADER)
    render_exit_pipeline_status(state)
    render_veto_heatmap(state)


def render_exit_pipeline_status(state: DashboardState | None = None) -> None:
    """Exit health: TP/SL coverage, underwater-without-TP/SL, last scan and trigger."""
    state = state or load_dashboard_state()
    st.subheader("Exit health — are open positions protected?")
    diag = diagnostics_or_notice(state, "exit health")
    if diag is None:
        return
    settings = state.settings
    health = exit_health(
        diag.get("exit_pipeline"), state.reference_time, settings.exit_scan_stale_seconds
    )
    show_level(health.level, health.headline(), health.icon)
    if health.level == "unknown":
        return
    counts = exit_counts(diag.get("exit_pipeline"))
    cols = st.columns(6)
    cols[0].metric("Open positions", counts.open_positions)
    cols[1].metric("TP/SL registered", counts.tp_sl_registered)
    cols[2].metric("TP/SL missing", counts.tp_sl_missing)
    cols[3].metric("Underwater without TP/SL", counts.underwater_without_tp_sl)
    cols[4].metric("Last exit scan", _ago(health.scan_age_seconds))
    cols[5].metric("Last exit trigger", _ago(health.trigger_age_seconds))
    st.caption(
        f"Orange when the last scan is older than {format_age(settings.exit_scan_stale_seconds)} "
        f"with positions open; underwater means PnL ≤ {format_pct(settings.underwater_threshold_pct, 1)}."
    )
    _render_unprotected(state)


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{format_age(seconds)} ago"


def _render_unprotected(state: DashboardState) -> None:
    usable = all(state.files[n].usable for n in (POSITIONS_LEDGER_FILE, TP_SL_REGISTRY_FILE))
    if not usable:
        return
    missing = unprotected_symbols(state.positions_ledger, state.tp_sl_registry)
    if missing:
        st.warning(
            f"Open in {POSITIONS_LEDGER_FILE} without TP and SL in {TP_SL_REGISTRY_FILE}: "
            + ", ".join(missing)
        )


def render_veto_heatmap(state: DashboardState | None = None) -> None:
    """Veto totals, the reason x symbol and reason x time heatmaps, and the reason tables."""
    state = state or load_dashboard_state()
    st.subheader("Veto heatmap — why is it not trading?")
    diag = diagnostics_or_notice(state, "veto diagnostics")
    if diag is None:
        return
    _render_totals(diag)
    gating = as_dict(diag.get("liveness")).get("gating")
    st.markdown(gating_summary(gating).sentence())
    heatmap = section(diag, "heatmap", "veto heatmap")
    if heatmap is not None:
        _render_heatmaps(heatmap)
    _render_tables(diag)


def _render_totals(diag: dict[str, Any]) -> None:
    totals = charts.veto_totals(diag.get("veto_counters"))
    cols = st.columns(4)
    cols[0].metric("Signals", format_count(totals.signals))
    cols[1].metric("Vetoes", format_count(totals.vetoes))
    cols[2].metric("Orders", format_count(totals.orders), help="Accepted orders, entries and exits")
    cols[3].metric("Veto rate", format_pct(totals.veto_rate, 1), help="vetoes / signals")
    top = charts.dominant_reason(as_dict(diag.get("veto_counters")).get("by_reason"))
    if top is not None:
        st.markdown(f"Dominant veto since start: **{top[0]}** ({top[1]:.0%} of vetoes).")


def _render_heatmaps(heatmap: dict[str, Any]) -> None:
    by_symbol = charts.symbol_heatmap_frame(heatmap.get("by_reason_symbol"))
    if by_symbol.empty:
        st.info("No vetoes recorded yet: the heatmap is empty.")
        return
    st.altair_chart(charts.symbol_heatmap_chart(by_symbol), width="stretch")
    bucket = as_float(heatmap.get("bucket_seconds")) or 3600.0
    by_time = charts.time_heatmap_frame(heatmap.get("by_reason_time"), bucket)
    if by_time.empty:
        st.info("No time buckets published yet.")
    else:
        st.altair_chart(charts.time_heatmap_chart(by_time), width="stretch")
    st.caption(
        f"Heatmap buckets of {format_age(bucket)}, at most {heatmap.get('max_buckets', '?')}."
    )


def _render_tables(diag: dict[str, Any]) -> None:
    window = as_dict(diag.get("window"))
    cumulative = as_dict(diag.get("veto_counters")).get("by_reason")
    left, right = st.columns(2)
    with left:
        st.markdown("**Last window**")
        st.caption(_window_caption(window))
        _veto_table(window.get("by_reason"))
    with right:
        st.markdown("**Since start**")
        st.caption("Every veto since the engine started.")
        _veto_table(cumulative)


def _window_caption(window: dict[str, Any]) -> str:
    if not window:
        return "No window published."
    size = as_count(window.get("window_signals"))
    seconds = as_float(window.get("window_seconds"))
    signals, vetoes = as_count(window.get("signals")), as_count(window.get("vetoes"))
    rate = charts.veto_rate(vetoes, signals)
    return (
        f"Last {size:,} signals within {format_age(seconds)}: {signals:,} signals, "
        f"{vetoes:,} vetoes, {as_count(window.get('orders')):,} orders "
        f"(veto rate {format_pct(rate, 1)})."
    )


def _veto_table(by_reason: Any) -> None:
    table = charts.veto_table(by_reason)
    if table.empty:
        st.info("No vetoes.")
        return
    # A static table: a closed set of reasons, all visible at once, and plain text in the page.
    st.table(table.style.format({charts.SHARE: "{:.1f}"}).hide(axis="index"))
