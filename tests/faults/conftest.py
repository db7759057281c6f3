"""The fault suite's figures (kills survived, faults injected, inputs tried, data lost).

Printed at the end of the run; with ``V7_FAULT_FIGURES=path`` also written there as JSON, which
is where docs/reliability.md takes its numbers from.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .helpers import FIGURES


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
