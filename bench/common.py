"""Shared pieces of the benchmarks: configs, the in-process `v7 run --fast` path, machine info.

The replay helpers call the same functions ``execution.cli.run._run_replay`` calls (load the
data, build the runner with a paper exchange, ``run_replay``), so a benchmark measures exactly
what ``v7 run --fast`` does in its loop; data generation is done before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execution.cli import run as cli_run
from execution.clock import ReplayClock
from execution.config import EngineConfig, parse_config
from execution.market.bars import MergedBars
from execution.market.stream import StreamedBars
from execution.run.runner import EngineRunner, RunOptions
from execution.run.summary import summary_dict
from execution.types import Fill, RejectCounts

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_CONFIG = ROOT / "config" / "strategy_config.json"
# Real candles live next to the project, never inside it; benchmarks fall back to synthetic.
SHARED_DATA = Path(os.environ.get("V7_BENCH_DATA", ROOT.parent / "shared" / "data"))
BTC_1M_DIR = SHARED_DATA / "btc_perp_1m"
TIERS_TRADED = ("core", "alt")


def machine_info() -> dict[str, Any]:
    """Return what a reader needs to compare figures: CPU, cores, Python, key libraries."""
    import numpy as np

    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def median(values: Sequence[float]) -> float:
    """Return the median of ``values`` (the figure every benchmark reports)."""
    return float(statistics.median(values))


def peak_rss_mb() -> float:
    """Return this process's own peak resident set size in MiB.

    Linux's ``VmHWM`` first: ``ru_maxrss`` survives ``exec``, so a child started by a large
    parent (``make bench``'s, ~400 MiB) would report the parent's peak as its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, IndexError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def current_rss_mb() -> float:
    """Return this process's current resident set size in MiB (0 where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """Yield a fresh temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        yield Path(d)


# --- configs ----------------------------------------------------------------------------------


def default_config_dict() -> dict[str, Any]:
    """Return the shipped config/strategy_config.json as a dict."""
    data: dict[str, Any] = json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    return data


def universe(n_symbols: int) -> list[dict[str, Any]]:
    """Return ``n_symbols`` tradable symbols: the config's own first, then generated ones."""
    shipped = [s for s in default_config_dict()["universe"] if s.get("tier") in TIERS_TRADED]
    out = shipped[:n_symbols]
    for i in range(n_symbols - len(out)):
        price = 5.0 * (1 + i % 40)
        out.append(
            {"symbol": f"S{i:03d}USDT", "tier": "alt", "base_price": price, "qty_step": 0.01}
        )
    return out


def config_dict(n_symbols: int, **sections: dict[str, Any]) -> dict[str, Any]:
    """Return the shipped config with ``n_symbols`` symbols and sections updated key by key."""
    data = default_config_dict()
    data["universe"] = universe(n_symbols)
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return data


def relaxed_risk() -> dict[str, Any]:
    """Risk limits nothing in a one-symbol comparison can hit (no veto, no cooldown)."""
    return {
        "min_notional": 0.0,
        "per_trade_nav_pct": 10.0,
        "max_concurrent": 1000,
        "symbol_cap_nav_pct": 1000.0,
        "dd_warn_pct": 0.97,
        "dd_circuit_pct": 0.98,
        "dd_panic_pct": 0.99,
        "var_limit_nav_pct": 1e9,
        "cvar_limit_nav_pct": 1e9,
        "stale_mark_seconds": 1e12,
        "cooldown_seconds_after_sl": 0.0,
    }


# --- the in-process `v7 run --fast` -----------------------------------------------------------


@dataclass(frozen=True)
class PreparedReplay:
    """A config and its merged bars, built once and replayed as often as needed."""

    cfg: EngineConfig
    merged: MergedBars | StreamedBars
    rejects: RejectCounts
    source: str
    prepare_s: float


@dataclass(frozen=True)
class ReplayResult:
    bars: int
    elapsed_s: float
    cpu_s: float  # process CPU time: steadier than wall time on a shared machine
    summary: dict[str, Any]

    @property
    def bars_per_s(self) -> float:
        return self.bars / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def bars_per_cpu_s(self) -> float:
        return self.bars / self.cpu_s if self.cpu_s > 0 else 0.0


def prepare_replay(
    cfg_data: dict[str, Any], max_bars: int | None = None, data_dir: Path | None = None
) -> PreparedReplay:
    """Validate the config and build the bars as `v7 run --fast [--data DIR]` does."""
    start = time.perf_counter()
    cfg = parse_config(cfg_data)
    args = argparse.Namespace(
        data=str(data_dir) if data_dir else None, seed=None, max_bars=max_bars
    )
    cfg, merged, rejects, source = cli_run._load_replay_data(cfg, args)
    return PreparedReplay(cfg, merged, rejects, source, time.perf_counter() - start)


def replay_runner(
    prep: PreparedReplay, state_dir: Path, max_bars: int | None = None, skip_quiet: bool = True
) -> EngineRunner:
    """The engine as `v7 run --fast` builds it over ``prep``, its replay not yet run (the
    caller runs it and calls ``finish()``, which closes the store); ``skip_quiet`` False steps
    every bar (RunOptions.skip_quiet)."""
    clock = ReplayClock(prep.merged.first_ts)  # 0.0 when there are no bars
    opts = RunOptions("replay", prep.source, max_bars, False, skip_quiet=skip_quiet)
    factory = cli_run.paper_exchange_factory(prep.cfg, clock)
    return EngineRunner(prep.cfg, opts, state_dir, clock, factory, prep.rejects)


def run_prepared(
    prep: PreparedReplay,
    state_dir: Path,
    max_bars: int | None = None,
    on_runner: Callable[[EngineRunner], None] | None = None,
) -> ReplayResult:
    """Replay once into ``state_dir``; time exactly what `v7 run --fast` times: the replay and
    its final publish and commit (``finish``), so every journal row written is counted, not
    only those a wall-second publish happened to commit during the run."""
    runner = replay_runner(prep, state_dir, max_bars)
    if on_runner is not None:
        on_runner(runner)
    start, cpu = time.perf_counter(), time.process_time()
    runner.run_replay(prep.merged)
    runner.finish()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    summary = summary_dict(runner, elapsed, runner.bars_done)
    return ReplayResult(runner.bars_done, elapsed, cpu, summary)


def fill_recorder(out: list[Fill]) -> Callable[[EngineRunner], None]:
    """Return an ``on_runner`` hook that appends every fill the executor applies to ``out``."""

    def hook(runner: EngineRunner) -> None:
        ex = runner.executor
        apply = ex.apply_fill

        def recording(fill: Fill) -> None:
            out.append(fill)
            apply(fill)

        ex.apply_fill = recording  # type: ignore[method-assign]

    return hook


def replay_runs(prep: PreparedReplay, runs: int, max_bars: int | None = None) -> list[ReplayResult]:
    """Replay ``runs`` times, each into a fresh state dir; return every run's result."""
    results = []
    for _ in range(runs):
        with temp_dir("v7-bench-") as d:
            results.append(run_prepared(prep, d, max_bars))
    return results


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write one benchmark's result to bench/results/<name>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def headline(
    name: str, figure: float | str, unit: str, target: str, ratio: float | None = None
) -> dict[str, Any]:
    """One row of the summary table: what was measured, its value, the goal, a ratio."""
    return {"name": name, "figure": figure, "unit": unit, "target": target, "ratio": ratio}


def python_cmd() -> list[str]:
    """Return the interpreter running the benchmarks (the project's venv under `make bench`)."""
    return [sys.executable]
