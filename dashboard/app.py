"""Streamlit entry point: ``streamlit run dashboard/app.py -- --state-dir DIR [--refresh S]``.

Reads only the state files (through execution.state_v7); see docs/dashboard.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts dashboard/ on sys.path, not the repo root the packages live in.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from dashboard.page import run_app  # noqa: E402

run_app(sys.argv)
