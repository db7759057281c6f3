"""Make tests/verdict's helpers and tests/dashboard's AppTest helpers importable."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for entry in (str(HERE.parents[1]), str(HERE), str(HERE.parent / "dashboard")):
    if entry not in sys.path:
        sys.path.insert(0, entry)
