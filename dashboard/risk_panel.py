"""Risk Diagnostics (spec §6.1, §6.2): exit health and the veto heatmap.

``render_veto_heatmap`` and ``render_exit_pipeline_status`` keep the spec's names; given no
state they load it themselves, as the spec's versions did with load_runtime_diagnostics_state.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import charts
from dashboard.coerce import as_count, as_dict, as_float, as_str, parse_ts
from dashboard.formatting import format_age, format_count, format_pct
from dashboard.health import ICONS, ExitHealth, exit_counts, exit_health, unprotected_symbols
from dashboard.state import DashboardState, load_dashboard_state
from dashboard.tables import gating_summary
from dashboard.verdict_panel import level_of
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
    level, headline = exit_banner(state, health)
    show_level(level, headline, ICONS.get(level))
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


def exit_banner(state: DashboardState, health: ExitHealth) -> tuple[str, str]:
    """The exit-health callout: coloured by the verdict's protection answer (cross-checked on
    the files), so it never reads green above a row that says "no TP/SL"."""
    protection = state.verdict.protection if state.verdict is not None else None
    if protection is None:
        return health.level, health.headline()
    level = level_of(protection.severity)
    if protection.status == "protected":
        return level, f"Exit pipeline healthy: {protection.detail}"
    engine_says = "; ".join(r for r in health.reasons if r not in protection.detail)
    extra = f" (engine counts: {engine_says})" if engine_says else ""
    return level, f"Exit pipeline needs attention: {protection.detail}{extra}"


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
        _render_heatmaps(state, diag, heatmap)
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
        st.markdown(
            f"Most frequent first-failing veto since start: **{top[0]}** ({top[1]:.0%} of "
            "vetoes); the root cause is in the verdict at the top of the page."
        )


FIRST_FAILING = "first failing (the decision)"
ALL_FAILING = "every failing check"


def _symbol_matrix(diag: dict[str, Any], heatmap: dict[str, Any]) -> tuple[Any, str]:
    """The reason x symbol counts the operator chose: first failing, or every failing check."""
    all_failing = as_dict(as_dict(diag.get("veto_causes")).get("all_failing"))
    if not all_failing:
        return heatmap.get("by_reason_symbol"), "Vetoes by reason x symbol (first failing check)"
    choice = st.radio("Count a vetoed signal under", (FIRST_FAILING, ALL_FAILING), horizontal=True)
    if choice == ALL_FAILING:
        return all_failing, "Vetoed signals by every failing check x symbol"
    return heatmap.get("by_reason_symbol"), "Vetoes by reason x symbol (first failing check)"


def _render_heatmaps(state: DashboardState, diag: dict[str, Any], heatmap: dict[str, Any]) -> None:
    matrix, title = _symbol_matrix(diag, heatmap)
    by_symbol = charts.symbol_heatmap_frame(matrix)
    if by_symbol.empty:
        st.info("No vetoes recorded yet: the heatmap is empty.")
        return
    st.altair_chart(charts.symbol_heatmap_chart(by_symbol, title), width="stretch")
    # The whole run when the engine publishes its timeline; else the heatmap's recent buckets.
    timeline = diag.get("veto_timeline")
    whole_run = isinstance(timeline, dict) and bool(timeline.get("by_reason_time"))
    source: dict[str, Any] = timeline if isinstance(timeline, dict) and whole_run else heatmap
    bucket = as_float(source.get("bucket_seconds")) or 0.0
    bucket = bucket if bucket > 0 else 3600.0
    by_time = charts.merge_time_buckets(
        charts.time_heatmap_frame(source.get("by_reason_time"), bucket)
    )
    if by_time.empty:
        st.info("No time buckets published yet.")
        return
    stopped = stopped_at(state)
    first, last = by_time["bucket"].min().timestamp(), by_time["bucket_end"].max().timestamp()
    # The axis spans what the engine kept (readable cells); the stop is marked when it falls
    # inside it, and named in the caption when it is older than the kept buckets.
    span = (
        (min(first, stopped), last) if stopped is not None and stopped >= first - 3 * 3600 else None
    )
    st.altair_chart(
        charts.time_heatmap_chart(by_time, span, stopped if span else None), width="stretch"
    )
    shown = by_time["bucket_end"].iloc[0] - by_time["bucket"].iloc[0]
    columns = f"columns of {format_age(shown.total_seconds())} (at most {charts.MAX_TIME_COLUMNS})"
    if whole_run:
        st.caption(
            f"Every veto since the engine started, in {columns}: the engine merges its buckets "
            "as the run grows. Counts are written in the cells (log colour scale)."
            + (" The dashed line marks when trading stopped." if stopped is not None else "")
        )
        return
    kept = format_age(bucket * as_count(heatmap.get("max_buckets")))
    stop_note = ""
    if stopped is not None:
        when = as_str(state.verdict.trading.since) if state.verdict else None
        stop_note = (
            " The dashed line marks when trading stopped."
            if span
            else f" Trading stopped at {when}, before the buckets the engine keeps."
        )
    st.caption(
        f"The engine keeps the last {kept} of buckets ({format_age(bucket)} each), shown in "
        f"{columns}; "
        "earlier vetoes are in the totals above. Counts are written in the cells (log colour "
        "scale)." + stop_note
    )


def stopped_at(state: DashboardState) -> float | None:
    """When trading stopped, from the verdict (None while it trades)."""
    verdict = state.verdict
    if verdict is None or verdict.trading.status != "not_trading":
        return None
    return parse_ts(verdict.trading.since)


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
