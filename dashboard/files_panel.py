"""State files: how each of the five files read, when it was last written, and where it is."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.coerce import as_str
from dashboard.formatting import DASH, format_age
from dashboard.state import DashboardState, age_seconds

_ICONS = {"ok": "🟢", "partial": "🟠", "missing": "⚪", "empty": "🟠", "corrupt": "🔴"}


def files_frame(state: DashboardState) -> pd.DataFrame:
    """One row per state file: status, updated_ts, age vs the reference time, detail."""
    rows = []
    for name, status in state.files.items():
        data = state.get(name)
        updated = as_str(data.get("updated_ts"))
        age = age_seconds(updated, state.reference_time)
        icon = _ICONS.get(status.status, "⚪")
        rows.append(
            (name, f"{icon} {status.status}", updated or DASH, format_age(age), status.error or "")
        )
    return pd.DataFrame(rows, columns=["File", "Status", "Updated", "Age", "Detail"])


def render(state: DashboardState) -> None:
    """Draw the state files table and the directory they come from."""
    st.subheader("State files")
    st.caption(f"Directory: {state.state_dir} (read-only; the dashboard never writes here).")
    st.dataframe(files_frame(state), hide_index=True, width="stretch")
