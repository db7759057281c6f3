"""Benchmark the dashboard: render the whole page in AppTest for a big state.

State: 200 symbols, 12 veto reasons, 288 five-minute buckets (a day), every heatmap cell
populated, built by tests/dashboard/state_factory.py in a temp dir. Each timed run is a fresh
``AppTest.from_file(app.py).run()`` (read the five files, shape, build both Altair heatmaps and
every table); median of 5 after 1 warm-up. Target: <= 1.5 s.

Run: ``.venv/bin/python -m bench.bench_dashboard`` (writes bench/results/dashboard_render.json).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
FACTORY = ROOT / "tests" / "dashboard" / "state_factory.py"
RESULTS = ROOT / "bench" / "results" / "dashboard_render.json"
SYMBOLS, REASONS, BUCKETS = 200, 12, 288
RUNS, WARMUP = 5, 1
TARGET_S = 1.5


def _factory() -> ModuleType:
    spec = importlib.util.spec_from_file_location("state_factory", FACTORY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def _render_once() -> tuple[float, Any]:
    from streamlit.testing.v1 import AppTest

    start = time.perf_counter()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    return time.perf_counter() - start, at


def _check(at: Any) -> None:
    """Fail loudly if the timed page is not the real page (an error page renders fast)."""
    if at.exception:
        raise RuntimeError(f"app raised: {at.exception[0].value}")
    charts = at.get("vega_lite_chart")
    if len(charts) != 2 or len(at.table) != 2 or len(at.table[1].value) != REASONS:
        raise RuntimeError("page incomplete: expected 2 heatmaps and 2 veto tables of 12 reasons")


def run() -> dict[str, Any]:
    """Build the big state, time the AppTest render, return the result as a dict."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="v7-bench-dashboard-") as tmp:
        state_dir = _factory().build_large_state_dir(Path(tmp) / "state", SYMBOLS, REASONS, BUCKETS)
        previous = os.environ.get("V7_STATE_DIR")
        os.environ["V7_STATE_DIR"] = str(state_dir)
        try:
            times = []
            for i in range(WARMUP + RUNS):
                seconds, at = _render_once()
                _check(at)
                if i >= WARMUP:
                    times.append(seconds)
            intel_bytes = (state_dir / "intel.json").stat().st_size
        finally:
            if previous is None:
                os.environ.pop("V7_STATE_DIR", None)
            else:
                os.environ["V7_STATE_DIR"] = previous
    median = statistics.median(times)
    return {
        "name": "dashboard_render",
        "what": "AppTest.from_file(dashboard/app.py).run(), fresh per run",
        "symbols": SYMBOLS,
        "reasons": REASONS,
        "time_buckets": BUCKETS,
        "intel_json_bytes": intel_bytes,
        "runs": RUNS,
        "warmup_runs": WARMUP,
        "median_s": round(median, 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "target_s": TARGET_S,
        "meets_target": median <= TARGET_S,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


if __name__ == "__main__":
    result = run()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["meets_target"] else 1)
