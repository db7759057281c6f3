"""The page: script arguments, auto-refresh, and the order of the panels."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dashboard import (
    files_panel,
    intel_panel,
    overview_panel,
    positions_panel,
    risk_panel,
    trades_panel,
    verdict_panel,
)
from dashboard.state import DashboardState, load_dashboard_state, refresh_interval
from dashboard.widgets import guarded
from execution.store import half_moved_way_out, interrupted_backups

APP_PATH = Path(__file__).resolve().parent / "app.py"
TITLE = "v7 — why is it (not) trading?"
TABS = ("Positions & risk", "Liveness, gating & accounting", "State files")


@dataclass(frozen=True)
class ScriptArgs:
    """Arguments after ``--`` in ``streamlit run app.py -- --state-dir DIR --refresh S``."""

    state_dir: str | None = None
    refresh: float | None = None
    error: str | None = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dashboard/app.py", allow_abbrev=False, exit_on_error=False
    )
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--refresh", type=float, default=None)
    return parser


def parse_script_args(argv: Sequence[str]) -> ScriptArgs:
    """Parse the script's own arguments; argv[0] must be app.py (AppTest keeps pytest's argv)."""
    if not argv or Path(argv[0]).resolve() != APP_PATH:
        return ScriptArgs()
    try:
        known, _ = _parser().parse_known_args(list(argv[1:]))
    except (argparse.ArgumentError, SystemExit) as err:
        return ScriptArgs(error=f"ignored bad dashboard arguments: {err}")
    refresh = known.refresh if known.refresh is None or known.refresh >= 0 else None
    return ScriptArgs(known.state_dir, refresh)


def render_page(state: DashboardState) -> None:
    """Draw every panel from one state snapshot; a failing panel never hides the others."""
    guarded("memory", _half_moved, state)
    guarded("verdict", verdict_panel.render, state)
    overview_panel.render(state)
    guarded("Risk Diagnostics", risk_panel.render, state)
    positions_tab, intel_tab, files_tab = st.tabs(list(TABS))
    with positions_tab:
        guarded("positions", positions_panel.render, state)
        guarded("trades", trades_panel.render, state)
    with intel_tab:
        guarded("intel", intel_panel.render, state)
    with files_tab:
        guarded("state files", files_panel.render, state)


def _half_moved(state: DashboardState) -> None:
    """An interrupted --fresh: the engine refuses to start, and the views left say nothing."""
    interrupted = interrupted_backups(state.state_dir)
    if interrupted:
        st.error(f"An interrupted `--fresh` left the memory half moved into "
                 f"`{interrupted[0].name}`: the engine refuses to start. "
                 f"{half_moved_way_out(state.state_dir)}.")  # fmt: skip


def run_app(argv: Sequence[str]) -> None:
    """Entry point of app.py: read the state once, then redraw it every refresh interval."""
    st.set_page_config(page_title="v7 dashboard", page_icon="🧭", layout="wide")
    st.title(TITLE)
    args = parse_script_args(argv)
    if args.error:
        st.warning(args.error)
    first = load_dashboard_state(args.state_dir)
    every = refresh_interval(args.refresh, first.settings)
    pending = [first]  # the full run reuses the state it just read; fragment reruns re-read

    @st.fragment(run_every=every)
    def live_body() -> None:
        state = pending.pop() if pending else load_dashboard_state(args.state_dir)
        render_page(state)
        note = f"auto-refresh every {every:g} s" if every else "auto-refresh off"
        st.caption(f"{note} · reads only the state files")

    live_body()
