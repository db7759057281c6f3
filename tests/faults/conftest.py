"""The fault suite's figures (kills survived, faults injected, inputs tried, data lost).

Printed at the end of the run; with ``V7_FAULT_FIGURES=path`` also written there as JSON, which
is where docs/reliability.md takes its numbers from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from execution.store import read_memory

from .helpers import FIGURES, HELD, HOLDING_BARS, finished_state_dir, paced


@pytest.fixture(scope="session")
def good_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished replay's state dir, every file intact (each user copies it before damaging)."""
    return finished_state_dir(tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="session")
def holding_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paced paper engine's state dir, stopped while it holds a short HELD position.

    Shared by the tests that damage a memory: each works on a copy (``cp -a``), never on it.
    """
    state = tmp_path_factory.mktemp("holding") / "state"
    out = paced(state, HOLDING_BARS, "--pace", "0")
    assert out.returncode == 0, out.stderr
    memory = read_memory(state)
    assert memory is not None and HELD in memory.ledger["positions"], "premise: a held position"
    return state


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("v7 fault figures")
    for key in sorted(FIGURES):
        terminalreporter.write_line(f"{key:<40} {FIGURES[key]}")
    target = os.environ.get("V7_FAULT_FIGURES")
    if target:
        with open(target, "w", encoding="utf-8") as fh:
            json.dump(dict(sorted(FIGURES.items())), fh, indent=2)
