"""Small Streamlit helpers shared by the panels (the only place besides panels that draws)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard.coerce import as_dict
from dashboard.health import GREEN, ORANGE, RED
from dashboard.state import DashboardState
from execution.state_v7 import INTEL_FILE


def show_level(level: str, text: str, icon: str | None = None) -> None:
    """Draw ``text`` as a red/orange/green/grey callout, with ``icon`` (🔴, 🟠, 🟢) beside it."""
    {RED: st.error, ORANGE: st.warning, GREEN: st.success}.get(level, st.info)(text, icon=icon)


def require_file(state: DashboardState, name: str, what: str) -> bool:
    """Return True if ``name`` has data; otherwise say which file is the problem."""
    status = state.files.get(name)
    if status is not None and status.usable:
        return True
    detail = status.message() if status is not None else f"{name}: not read"
    st.warning(f"No {what}: {detail}")
    return False


def diagnostics_or_notice(state: DashboardState, what: str) -> dict[str, Any] | None:
    """Return intel.json ``runtime_diagnostics`` if there is one, else explain why not."""
    if not require_file(state, INTEL_FILE, what):
        return None
    diag = state.diagnostics
    if diag.get("enabled") is False:
        st.info(
            f"No {what}: diagnostics are disabled in the engine config "
            "(diagnostics.enabled: false), so intel.json carries no counters."
        )
        return None
    if not diag:
        st.warning(f"No {what}: {INTEL_FILE} has no 'runtime_diagnostics' block yet.")
        return None
    return diag


def section(diag: dict[str, Any], key: str, what: str) -> dict[str, Any] | None:
    """Return ``runtime_diagnostics[key]`` or say that intel.json lacks it."""
    block = as_dict(diag.get(key))
    if block:
        return block
    st.info(f"No {what}: {INTEL_FILE} has no 'runtime_diagnostics.{key}' block.")
    return None


def guarded(name: str, draw: Callable[[DashboardState], None], state: DashboardState) -> None:
    """Draw one panel; if it fails, say which panel instead of showing a traceback."""
    try:
        draw(state)
    except Exception as err:  # one broken panel must not hide the others
        st.error(f"The {name} panel could not be drawn ({type(err).__name__}: {err}).")
