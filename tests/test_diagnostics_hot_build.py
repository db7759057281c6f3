"""The diagnostics hot path runs compiled (mypyc, setup.py) where it could be built, and as plain
Python otherwise: both must behave the same, and a compiled module must not be stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import execution
from execution import diagnostics_hot

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "execution" / "diagnostics_hot.py"


def test_a_compiled_hot_path_is_not_older_than_its_source() -> None:
    if not execution.hot_path_compiled():
        pytest.skip("the hot path runs from source here (no C compiler at install time)")
    built = Path(diagnostics_hot.__file__)
    assert built.stat().st_mtime >= SOURCE.stat().st_mtime, (
        f"{built.name} is older than diagnostics_hot.py: rebuild it (make test reinstalls, or "
        "pip install -e .)"
    )


def test_the_pure_python_hot_path_passes_the_diagnostics_tests() -> None:
    """V7_PURE_PYTHON=1 loads the source even where the module was compiled."""
    env = {**os.environ, "V7_PURE_PYTHON": "1"}
    check = subprocess.run(
        [sys.executable, "-c", "import execution; assert not execution.hot_path_compiled()"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    tests = ["tests/test_veto_metrics.py", "tests/test_diagnostics_queue.py"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
