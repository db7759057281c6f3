"""Make the repo root importable (dashboard/, execution/) and share state-dir fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
for entry in (str(ROOT), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from state_factory import build_state_dir  # noqa: E402


@pytest.fixture
def full_state_dir(tmp_path: Path) -> Path:
    """A hand-made state dir: 7 symbols, 6 reasons, 4 positions (one underwater, no TP/SL)."""
    return build_state_dir(tmp_path / "state")
