"""Top of the page: which engine and state dir this is, and loud notices for unreadable files."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard.coerce import as_str
from dashboard.formatting import format_age
from dashboard.state import DashboardState, engine_mode, publish_age


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(state: DashboardState) -> None:
    """Draw the identity line, then one notice per missing, empty, partial or corrupt file."""
    mode = engine_mode(state)
    updated = as_str(state.intel.get("updated_ts")) or "never"
    clock = (
        "ages are measured against the last published bar time (replay)"
        if mode == "replay" and state.reference_time != state.now
        else "ages are measured against the wall clock"
    )
    st.caption(
        f"State dir {state.state_dir} · engine mode {mode} · intel.json updated {updated} · "
        f"read at {_utc(state.now)} · {clock}"
    )
    _render_file_notices(state)
    _render_engine_notices(state)


def _render_file_notices(state: DashboardState) -> None:
    problems = state.problems()
    if (
        problems
        and all(p.status == "missing" for p in problems)
        and len(problems) == len(state.files)
    ):
        st.error(
            f"No state files in {state.state_dir}: "
            + ", ".join(p.name for p in problems)
            + " are all missing. Start the engine with --state-dir pointing here, or run the "
            "dashboard with --state-dir / V7_STATE_DIR set to the engine's state directory."
        )
        return
    for problem in problems:
        st.warning(f"State file {problem.message()}")


def _render_engine_notices(state: DashboardState) -> None:
    running = state.engine.get("running")
    if running is False:
        protection = state.verdict.protection if state.verdict is not None else None
        if protection is not None and protection.severity == "critical":
            # The same severity as the verdict and the doctor: positions nobody watches.
            st.error(f"The engine has stopped: this is its final publish. {protection.detail}")
        else:
            st.info("The engine has stopped: this is its final publish.")
        return
    age = publish_age(state.intel, state.now)
    stale = state.settings.exit_scan_stale_seconds
    if running is True and age is not None and age > stale:
        st.error(
            f"intel.json has not been updated for {format_age(age)} (limit {format_age(stale)}): "
            "is the engine still alive?"
        )
