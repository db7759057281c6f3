"""`v7 report` on a 350k-bar replay: must render in under 2 s.

A default `v7 run --fast` (7 synthetic symbols x 50k 1m bars = 350k bars) writes its store; then
the report is timed in process (read the journal and memory, regenerate the bars for the price
charts, compute the metrics, render the self-contained HTML; the vega bundle warm in its cache)
and as a fresh `v7 report --html` process (interpreter start and imports included). Medians.

Run alone: ``.venv/bin/python -m bench.bench_report`` (writes bench/results/report.json).
"""

from __future__ import annotations

import contextlib
import io
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, headline, median, temp_dir, write_result
from execution.cli import main as v7
from execution.report import build_report, load_inputs
from execution.report.html import render_html, vega_bundle

NAME = "report"
RUNS = 5
TARGET_S = 2.0


def _in_process(state_dir: Path, bundle: str) -> dict[str, float]:
    t0 = time.perf_counter()
    inputs = load_inputs(state_dir)
    t1 = time.perf_counter()
    report = build_report(inputs)
    t2 = time.perf_counter()
    page = render_html(report, inputs, bundle)
    t3 = time.perf_counter()
    return {"load_s": t1 - t0, "metrics_s": t2 - t1, "html_s": t3 - t2, "total_s": t3 - t0,
            "html_bytes": float(len(page)), "trades": float(report["trades"])}  # fmt: skip


def _process(state_dir: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh `v7 report --html` (CPU: steady on a busy machine)."""
    cmd = [str(ROOT / ".venv" / "bin" / "v7"), "report", "--state-dir", str(state_dir),
           "--html", str(out)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run(runs: int = RUNS) -> dict[str, Any]:
    """Time the report of a default 350k-bar replay, in process and as a fresh process."""
    with temp_dir("v7-bench-report-") as tmp:
        state = tmp / "state"
        with contextlib.redirect_stdout(io.StringIO()):  # the run's summary is not the figure
            assert v7(["run", "--fast", "--state-dir", str(state), "--no-progress"]) == 0
        bundle = vega_bundle()  # builds the cache once (~3 s), as a first report would
        inner = [_in_process(state, bundle) for _ in range(runs)]
        outer = [_process(state, tmp / "r.html") for _ in range(runs)]
    result: dict[str, Any] = {
        "bars": 350_000,
        "runs": runs,
        "trades": int(inner[0]["trades"]),
        "html_bytes": int(inner[0]["html_bytes"]),
        **{
            f"median_{k}": round(median([r[k] for r in inner]), 4)
            for k in ("load_s", "metrics_s", "html_s", "total_s")
        },  # fmt: skip
        "median_process_s": round(median([w for w, _ in outer]), 3),
        "median_process_cpu_s": round(median([c for _, c in outer]), 3),
        "process_runs_s": [round(w, 3) for w, _ in outer],
        "target_s": TARGET_S,
    }
    result["headline"] = [
        headline("report of a 350k-bar replay (in process)", result["median_total_s"], "s",
                 f"<= {TARGET_S:g}", result["median_total_s"] / TARGET_S),
        headline("v7 report --html, fresh process (wall)", result["median_process_s"], "s",
                 f"<= {TARGET_S:g}", result["median_process_s"] / TARGET_S),
        headline("  the same, CPU time", result["median_process_cpu_s"], "s",
                 f"<= {TARGET_S:g}", result["median_process_cpu_s"] / TARGET_S),
    ]  # fmt: skip
    return result


if __name__ == "__main__":
    res = run()
    print({k: v for k, v in res.items() if k != "headline"})
    print(write_result(NAME, res))
