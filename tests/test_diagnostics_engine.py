"""Diagnostics over whole `v7 run --fast` replays (the engine as the user runs it).

The accounting identity, heatmap and liveness on the published intel.json; the window and
heatmap bounds on a long run; and diagnostics on vs off: the same replay must take exactly the
same trading decisions (diagnostics observe, they never decide).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from execution.clock import from_iso
from execution.diagnostics_metrics import STAGES
from execution.run.summary import summary_text
from execution.state_v7 import (
    INTEL_FILE,
    PAPER_EXCHANGE_FILE,
    POSITIONS_LEDGER_FILE,
    POSITIONS_STATE_FILE,
    RISK_SNAPSHOT_FILE,
    TP_SL_REGISTRY_FILE,
)
from execution.store import COMPONENTS, read_closed_trades, read_memory, read_orders
from execution.venues.paper import ORDER_HISTORY_LIMIT

ROOT = Path(__file__).resolve().parents[1]
REPO_CONFIG = ROOT / "config" / "strategy_config.json"
SHORT_BARS = 7_000
TRADING_FILES = (
    POSITIONS_LEDGER_FILE,
    PAPER_EXCHANGE_FILE,
    TP_SL_REGISTRY_FILE,
    POSITIONS_STATE_FILE,
    RISK_SNAPSHOT_FILE,
)


def v7_command() -> list[str]:
    exe = Path(sys.executable).parent / "v7"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("v7")
    return [found] if found else [sys.executable, "-m", "execution.cli"]


@dataclass(frozen=True)
class Run:
    state_dir: Path
    config: dict[str, Any]
    summary: dict[str, Any]

    def read(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state_dir / name).read_text())
        return data

    @property
    def intel(self) -> dict[str, Any]:
        return self.read(INTEL_FILE)

    @property
    def diag(self) -> dict[str, Any]:
        block: dict[str, Any] = self.intel["runtime_diagnostics"]
        return block


def run_engine(base: Path, diagnostics_enabled: bool, max_bars: int | None) -> Run:
    """Run `v7 run --fast` on a copy of the repo config that differs only in diagnostics.enabled."""
    config = json.loads(REPO_CONFIG.read_text())
    config["diagnostics"]["enabled"] = diagnostics_enabled
    base.mkdir(parents=True)
    config_path = base / "strategy_config.json"
    config_path.write_text(json.dumps(config))
    state_dir = base / "state"
    cmd = [*v7_command(), "run", "--fast", "--no-progress", "--json-summary"]
    cmd += ["--config", str(config_path), "--state-dir", str(state_dir)]
    if max_bars is not None:
        cmd += ["--max-bars", str(max_bars)]
    proc = subprocess.run(cmd, cwd=base, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return Run(state_dir, config, json.loads(proc.stdout))


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_engine(tmp_path_factory.mktemp("short") / "on", True, SHORT_BARS)


@pytest.fixture(scope="module")
def whole_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """The whole default `v7 run --fast` replay, with diagnostics on and off."""
    base = tmp_path_factory.mktemp("whole")
    with ThreadPoolExecutor(2) as pool:  # two subprocesses side by side
        on = pool.submit(run_engine, base / "on", True, None)
        off = pool.submit(run_engine, base / "off", False, None)
        return on.result(), off.result()


# --- the accounting identity ------------------------------------------------------------------


def assert_identity(diag: dict[str, Any]) -> None:
    acc, vc = diag["accounting"], diag["veto_counters"]
    outcomes = acc["total_vetoes"] + acc["entry_orders"] + acc["order_failures"] + acc["in_flight"]
    assert acc["total_signals"] == outcomes
    assert (acc["unaccounted"], acc["identity_ok"]) == (0, True)
    assert acc["total_signals"] == vc["total_signals"] > 0
    assert acc["total_vetoes"] == vc["total_vetoes"] == sum(vc["by_reason"].values())
    assert acc["entry_orders"] == acc["orders_by_kind"]["entry"] > 0
    assert vc["total_orders"] == sum(acc["orders_by_kind"].values())
    assert acc["order_failures"] == acc["order_failures_by_kind"]["entry"]
    failures = sum(acc["order_failures_by_kind"].values())
    assert failures == sum(acc["order_failures_by_error"].values())


def test_the_identity_holds_after_a_short_fast_run(short_run: Run) -> None:
    assert_identity(short_run.diag)
    assert short_run.summary["identity_ok"] is True


def test_the_identity_holds_after_the_whole_default_fast_run(whole_runs: tuple[Run, Run]) -> None:
    on, _ = whole_runs
    assert on.summary["completed"] is True
    assert on.summary["bars"] == 50_000 * len(on.config["universe"])
    assert_identity(on.diag)


def test_the_summary_agrees_with_intel_json(short_run: Run) -> None:
    s, diag = short_run.summary, short_run.diag
    vc, acc = diag["veto_counters"], diag["accounting"]
    assert (s["signals"], s["vetoes"], s["orders"]) == (
        vc["total_signals"],
        vc["total_vetoes"],
        vc["total_orders"],
    )
    assert s["vetoes_by_reason"] == vc["by_reason"]
    assert s["orders_by_kind"] == acc["orders_by_kind"]
    assert s["exits_by_kind"] == diag["exit_triggers_by_kind"]


def test_every_exit_trigger_became_an_exit_order_attempt(short_run: Run) -> None:
    diag = short_run.diag
    acc = diag["accounting"]
    exit_attempts = acc["orders_by_kind"]["exit"] + acc["order_failures_by_kind"]["exit"]
    assert sum(diag["exit_triggers_by_kind"].values()) == exit_attempts > 0
    assert set(diag["exit_triggers_by_kind"]) <= {"tp", "sl", "signal"}


# --- heatmap, window, liveness ----------------------------------------------------------------


def test_heatmap_sums_equal_the_veto_counts(short_run: Run) -> None:
    diag = short_run.diag
    by_reason = diag["veto_counters"]["by_reason"]
    heatmap = diag["heatmap"]
    # 1,000 one-minute bars fit in the configured buckets, so nothing was evicted.
    vm = short_run.config["diagnostics"]["veto_metrics"]
    assert vm["heatmap_bucket_seconds"] * vm["heatmap_max_buckets"] > 1_000 * 60
    assert {r: sum(s.values()) for r, s in heatmap["by_reason_symbol"].items()} == by_reason
    assert {r: sum(t.values()) for r, t in heatmap["by_reason_time"].items()} == by_reason
    symbols = {u["symbol"] for u in short_run.config["universe"]}
    assert all(set(per) <= symbols for per in heatmap["by_reason_symbol"].values())
    assert heatmap["by_reason_symbol"]["tier_block"] == {"PEPEUSDT": by_reason["tier_block"]}


def test_the_timeline_covers_the_whole_35_day_run_in_bounded_columns(
    whole_runs: tuple[Run, Run],
) -> None:
    on, _ = whole_runs
    timeline, by_reason = on.diag["veto_timeline"], on.diag["veto_counters"]["by_reason"]
    assert {r: sum(t.values()) for r, t in timeline["by_reason_time"].items()} == by_reason
    starts = sorted({label for per in timeline["by_reason_time"].values() for label in per})
    assert len(starts) <= 96
    first_bar = from_iso(on.config["data"]["synthetic"]["start"])
    first_bucket = from_iso(starts[0])
    assert first_bar is not None and first_bucket is not None
    # The first day is still there after 35 days (buckets align to whole widths since 1970).
    assert first_bar - timeline["bucket_seconds"] < first_bucket <= first_bar + 86_400


def test_the_heatmap_and_window_stay_bounded_on_a_long_run(whole_runs: tuple[Run, Run]) -> None:
    on, _ = whole_runs
    diag = on.diag
    by_reason = diag["veto_counters"]["by_reason"]
    heatmap, window = diag["heatmap"], diag["window"]
    vm = on.config["diagnostics"]["veto_metrics"]
    assert heatmap["max_buckets"] == vm["heatmap_max_buckets"]
    labels = {label for per in heatmap["by_reason_time"].values() for label in per}
    assert len(labels) <= vm["heatmap_max_buckets"]
    assert {r: sum(s.values()) for r, s in heatmap["by_reason_symbol"].items()} == by_reason
    for reason, per_time in heatmap["by_reason_time"].items():
        assert sum(per_time.values()) <= by_reason[reason]
    assert sum(sum(t.values()) for t in heatmap["by_reason_time"].values()) < sum(
        by_reason.values()
    )  # 833 hours of bars: the old buckets were dropped
    assert window["window_signals"] == vm["window_signals"]
    assert window["signals"] <= vm["window_signals"]
    assert window["signals"] == window["vetoes"] + window["orders"] + window["order_failures"]
    assert all(n <= by_reason[r] for r, n in window["by_reason"].items())


def test_the_window_covers_only_the_last_window_seconds(short_run: Run) -> None:
    window = short_run.diag["window"]
    vm = short_run.config["diagnostics"]["veto_metrics"]
    assert window["window_seconds"] == vm["window_seconds"]
    # 1,000 minutes were replayed; the window holds only the last hour's outcomes.
    assert 0 < window["signals"] < short_run.diag["accounting"]["total_signals"]


def test_every_stage_is_alive_at_the_last_bar(short_run: Run) -> None:
    intel = short_run.intel
    liveness = intel["runtime_diagnostics"]["liveness"]
    assert list(liveness["stages"]) == list(STAGES)
    for name, stage in liveness["stages"].items():
        assert stage["last_success_ts"] == intel["updated_ts"], name
        assert (stage["last_error"], stage["error_count"]) == (None, 0), name
    assert liveness["loop_count"] == SHORT_BARS // len(short_run.config["universe"])
    assert set(liveness["last_loop"]) == {"signals", "vetoes", "orders", "exits"}
    assert set(liveness["gating"]) == {u["symbol"] for u in short_run.config["universe"]}
    assert "tier_block" in liveness["gating"]["PEPEUSDT"]


def test_timestamps_are_bar_times_not_wall_time(short_run: Run) -> None:
    intel = short_run.intel
    start = from_iso(short_run.config["data"]["synthetic"]["start"])
    assert start is not None
    last_bar = start + (SHORT_BARS // len(short_run.config["universe"]) - 1) * 60
    assert from_iso(intel["updated_ts"]) == last_bar
    diag = intel["runtime_diagnostics"]
    stamps = [diag["veto_counters"][k] for k in ("last_signal_ts", "last_order_ts", "last_veto_ts")]
    stamps += [diag["exit_pipeline"]["last_exit_scan_ts"]]
    stamps += [diag["exit_pipeline"]["last_exit_trigger_ts"]]
    for ts in stamps:
        parsed = from_iso(ts)
        assert parsed is not None and start <= parsed <= last_bar, ts
    assert diag["exit_pipeline"]["last_exit_scan_ts"] == intel["updated_ts"]


def test_the_exit_pipeline_block_matches_the_published_book(short_run: Run) -> None:
    ep = short_run.diag["exit_pipeline"]
    assert ep["tp_sl_registered_count"] + ep["tp_sl_missing_count"] == ep["open_positions_count"]
    assert ep["underwater_without_tp_sl_count"] <= ep["tp_sl_missing_count"]
    assert ep["tp_sl_missing_count"] == 0  # the engine registers TP/SL for every entry it makes


# --- on vs off: identical trading decisions ---------------------------------------------------


def test_diagnostics_on_and_off_take_identical_trading_decisions(
    whole_runs: tuple[Run, Run],
) -> None:
    on, off = whole_runs
    assert on.config == {**off.config, "diagnostics": on.config["diagnostics"]}
    ledger_on, ledger_off = on.read(POSITIONS_LEDGER_FILE), off.read(POSITIONS_LEDGER_FILE)
    assert ledger_on["closed_count"] == ledger_off["closed_count"] > 0
    assert ledger_on["realized_pnl"] == ledger_off["realized_pnl"]
    ex_on, ex_off = on.read(PAPER_EXCHANGE_FILE), off.read(PAPER_EXCHANGE_FILE)
    assert ex_on["orders"] == ex_off["orders"]
    placed = on.diag["veto_counters"]["total_orders"]
    assert len(ex_on["orders"]) == min(placed, ORDER_HISTORY_LIMIT)  # the view keeps the newest
    assert (ex_on["fill_seq"], ex_on["balance"]) == (ex_off["fill_seq"], ex_off["balance"])
    for name in TRADING_FILES:  # every other file the engine writes, byte for byte
        assert (on.state_dir / name).read_bytes() == (off.state_dir / name).read_bytes(), name
    memory_on, memory_off = read_memory(on.state_dir), read_memory(off.state_dir)
    assert memory_on is not None and memory_off is not None
    for name in COMPONENTS:  # the whole memory but the counters themselves
        if name != "diagnostics":
            assert getattr(memory_on, name) == getattr(memory_off, name), name
    assert read_closed_trades(on.state_dir) == read_closed_trades(off.state_dir)
    assert read_orders(on.state_dir) == read_orders(off.state_dir)
    keys = ("bars", "open_positions", "realized_pnl", "fees_paid", "nav", "pnl")
    assert {k: on.summary[k] for k in keys} == {k: off.summary[k] for k in keys}


def test_the_disabled_run_publishes_enabled_false(whole_runs: tuple[Run, Run]) -> None:
    on, off = whole_runs
    assert off.diag == {"enabled": False}
    assert on.diag["enabled"] is True
    intel_on, intel_off = on.intel, off.intel
    for intel in (intel_on, intel_off):
        intel.pop("runtime_diagnostics")
        intel["engine"].pop("pid")
    assert intel_on == intel_off


def test_the_summary_says_what_diagnostics_counted(whole_runs: tuple[Run, Run]) -> None:
    """A run with diagnostics off prints no zero counts and no broken identity: it says that
    nothing was counted. A run with them on says so."""
    on, off = whole_runs
    assert on.summary["diagnostics"] == "on"
    on_text = summary_text(on.summary)
    assert "identity ok" in on_text and f"diagnostics {on.summary['diagnostics']}" in on_text
    assert off.summary["diagnostics"] == "off"
    off_text = summary_text(off.summary)
    assert "diagnostics off" in off_text and "not counted" in off_text
    assert "BROKEN" not in off_text and "signals " not in off_text
    assert off.summary["pnl"] == on.summary["pnl"]  # diagnostics observe; they never decide
