"""Run `v7` as a user would: a child process, from a directory of the test's choosing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def v7(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m execution.cli ARGS`` in ``cwd``; the repo importable, as after `pip install`."""
    child = dict(os.environ if env is None else env)
    child.setdefault("PYTHONPATH", str(REPO))
    child.pop("V7_STATE_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "execution.cli", *args],
        cwd=cwd, env=child, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
