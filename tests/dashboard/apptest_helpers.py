"""Run dashboard/app.py in Streamlit's AppTest against a state dir and collect what it shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def run_app(monkeypatch: pytest.MonkeyPatch, state_dir: Path, timeout: float = 30) -> AppTest:
    """Render the app once with V7_STATE_DIR pointing at ``state_dir``."""
    monkeypatch.setenv("V7_STATE_DIR", str(state_dir))
    return AppTest.from_file(str(APP), default_timeout=timeout).run()


def page_text(at: AppTest) -> str:
    """Every string the page shows: headings, callouts, metrics, tables and dataframes."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
    ):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    parts += [e.value.to_string() for e in at.table]
    parts += [e.value.to_string() for e in at.dataframe]
    return "\n".join(parts)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def assert_clean(at: AppTest) -> None:
    """No exception element and no panel that failed to draw."""
    assert not at.exception, [e.value for e in at.exception]
    broken = [e.value for e in at.error if "could not be drawn" in e.value]
    assert not broken, broken
