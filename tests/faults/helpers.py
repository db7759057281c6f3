"""Shared pieces of the fault suite: the engine as a subprocess, state-dir invariants, figures.

Every check here reads the state dir the way a restart would: the store's committed memory
(ledger, registry, paper account, counters), and the JSON views through the defensive loaders.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execution import diagnostics_metrics as diag
from execution.clock import ReplayClock, to_iso
from execution.config import load_config
from execution.diagnostics.testing import capture_diagnostics
from execution.position_ledger import PositionLedger
from execution.position_tp_sl_registry import TpSlRegistry
from execution.run.memory import paper_account_whole
from execution.run.reconcile import reconcile
from execution.state_io import read_json_defensive
from execution.state_publish import write_runtime_diagnostics_state
from execution.state_v7 import (
    INTEL_FILE,
    PAPER_EXCHANGE_FILE,
    POSITIONS_LEDGER_FILE,
    STATE_FILES,
    TP_SL_REGISTRY_FILE,
)
from execution.store import Memory, NoStore, read_closed_trades, read_fills, read_memory
from execution.venues.paper import PaperExchange

# The paced engine (tests/faults/conftest.py: holding_state) holds a short HELD position after
# exactly this many bars.
HOLDING_BARS = 1260
HELD = "ETHUSDT"

REPO = Path(__file__).resolve().parents[2]
BASE_CONFIG = REPO / "config" / "strategy_config.json"
ENGINE_FILES = (*STATE_FILES, PAPER_EXCHANGE_FILE)  # the JSON views; the memory is engine.db

# Figures for docs/reliability.md, summed over the session (printed by conftest.py).
FIGURES: Counter[str] = Counter()


def v7_command() -> list[str]:
    """The installed ``v7`` script of this interpreter's venv, else ``python -m execution.cli``."""
    script = Path(sys.executable).with_name("v7")
    return [str(script)] if script.exists() else [sys.executable, "-m", "execution.cli"]


def write_config(path: Path, **sections: dict[str, Any]) -> Path:
    """Write the shipped config with ``sections`` merged over its blocks; return ``path``."""
    cfg = json.loads(BASE_CONFIG.read_text())
    for key, value in sections.items():
        cfg[key] = {**cfg[key], **value} if isinstance(cfg.get(key), dict) else value
    path.write_text(json.dumps(cfg, indent=1))
    return path


def frequent_publish_config(path: Path, every_bars: int = 500, interval: float = 3600.0) -> Path:
    """A config that checkpoints every ``every_bars`` bars of a replay.

    ``min_interval_seconds`` is the wall-clock throttle: 0 makes *every* loop publish, so the
    bar count is the only trigger only when the interval is long.
    """
    publish = {"min_interval_seconds": interval, "replay_every_bars": every_bars}
    return write_config(path, publish=publish)


def run_args(cfg: Path, state_dir: Path, max_bars: int, *extra: str) -> list[str]:
    return [
        "run", "--fast", "--max-bars", str(max_bars), "--config", str(cfg),
        "--state-dir", str(state_dir), "--no-progress", "--json-summary", *extra,
    ]  # fmt: skip


def run_v7(args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*v7_command(), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def finished_state_dir(root: Path, max_bars: int = 3_000) -> Path:
    """A real state dir under ``root``: a short replay run to its end (config beside it)."""
    cfg = frequent_publish_config(root / "config.json")
    out = run_v7(run_args(cfg, root / "state", max_bars))
    assert out.returncode == 0, out.stderr
    return root / "state"


@dataclass
class Timed:
    result: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def summary(self) -> dict[str, Any]:
        assert self.result.returncode == 0, self.result.stderr[-2000:]
        data: dict[str, Any] = json.loads(self.result.stdout)
        return data


def timed_run(args: Sequence[str], timeout: float = 120) -> Timed:
    t0 = time.perf_counter()
    out = run_v7(args, timeout)
    return Timed(out, time.perf_counter() - t0)


def load(path: Path) -> dict[str, Any]:
    read = read_json_defensive(path)
    assert read.ok, f"{path.name}: {read.status} ({read.error})"
    return read.data


# --- invariants ---------------------------------------------------------------------------------


def assert_every_file_parses(state_dir: Path) -> list[str]:
    """Every engine file present is a complete JSON object; return the leftover temp files."""
    for name in ENGINE_FILES:
        read = read_json_defensive(state_dir / name)
        assert read.status in ("ok", "missing"), f"{name}: {read.status} ({read.error})"
    return sorted(p.name for p in state_dir.glob(".*.tmp")) if state_dir.is_dir() else []


def paper_account(data: Mapping[str, Any]) -> PaperExchange:
    """Rebuild a paper account from its saved dict (as the runner's factory does)."""
    cfg = load_config(BASE_CONFIG)
    clock = ReplayClock(0.0)
    fresh = PaperExchange.from_config(cfg, clock)
    rules = {s: fresh.market_rules(s) for s in cfg.symbols}
    ex = cfg.exchange
    return PaperExchange.restore(
        dict(data), rules, ex.starting_balance, ex.taker_fee_bps, ex.slippage_bps, clock
    )


def assert_books_agree(
    ledger_d: Mapping[str, Any], registry_d: Mapping[str, Any], account_d: Mapping[str, Any]
) -> None:
    """Ledger, registry and paper account describe the same positions (reconcile: no change)."""
    ledger = PositionLedger.from_dict(dict(ledger_d))
    registry = TpSlRegistry.from_dict(dict(registry_d))
    account = paper_account(account_d)
    report = reconcile(ledger, registry, account.positions(), 0.0)
    assert not report.changed, f"ledger and exchange disagree: {report}"
    assert set(registry.entries) <= set(ledger.positions), "TP/SL for a position not held"
    for sym, entry in registry.entries.items():
        assert entry.side is ledger.positions[sym].side, f"{sym}: TP/SL side != position side"
    assert not account_d.get("unpolled_fills"), "fills the ledger never saw"


def assert_orders_unique(account_d: Mapping[str, Any]) -> None:
    """Each client order id is one exchange order, and no exchange order has two client ids."""
    orders = account_d.get("orders") or {}
    ids = [o["exchange_order_id"] for o in orders.values()]
    assert len(ids) == len(set(ids)), "one exchange order under two client ids"
    assert len(orders) <= int(account_d.get("order_seq", 0))


COUNTER_KEYS = ("total_signals", "total_orders", "total_vetoes")


def counters(block: Mapping[str, Any]) -> dict[str, Any]:
    """The cumulative counters of a runtime_diagnostics block, flattened for comparison."""
    vc = block.get("veto_counters") or {}
    acc = block.get("accounting") or {}
    flat: dict[str, Any] = {k: vc.get(k, 0) for k in COUNTER_KEYS}
    flat.update({f"veto:{k}": v for k, v in (vc.get("by_reason") or {}).items()})
    flat.update({f"orders:{k}": v for k, v in (acc.get("orders_by_kind") or {}).items()})
    flat.update({f"failed:{k}": v for k, v in (acc.get("order_failures_by_kind") or {}).items()})
    flat.update({f"exit:{k}": v for k, v in (block.get("exit_triggers_by_kind") or {}).items()})
    return flat


def assert_not_behind(later: Mapping[str, Any], earlier: Mapping[str, Any], what: str) -> None:
    behind = {k: (later.get(k, 0), v) for k, v in earlier.items() if later.get(k, 0) < v}
    assert not behind, f"{what}: counters went backwards {behind}"


def assert_identity(block: Mapping[str, Any], what: str) -> None:
    acc = block.get("accounting") or {}
    assert acc.get("identity_ok") is True, f"{what}: accounting identity broken {acc}"


@dataclass
class KillSnapshot:
    """What one kill left behind, as the restart will find it."""

    bars: int  # the memory's bars_processed (0: nothing committed yet)
    completed: bool
    counters: dict[str, Any]
    orders: dict[str, str]  # client order id -> exchange order id
    temp_files: list[str]  # a write was cut (the runner removes them at start-up)
    ahead_of_memory: bool  # some published view is newer than the last commit


def committed_memory(state_dir: Path) -> Memory | None:
    """The memory a restart resumes (None: nothing committed yet)."""
    try:
        return read_memory(state_dir)
    except NoStore:
        return None


def inspect_after_kill(state_dir: Path) -> KillSnapshot:
    """Check everything a kill must leave intact; return what the next checks compare."""
    temps = assert_every_file_parses(state_dir)
    memory = committed_memory(state_dir)
    if memory is None or not memory.progress:
        return KillSnapshot(0, False, {}, {}, temps, False)
    account = paper_account_whole(vars(memory)) or {}
    assert_books_agree(memory.ledger, memory.registry, account)
    assert_orders_unique(account)
    committed = counters_of_memory(memory)
    intel = read_json_defensive(state_dir / INTEL_FILE).data
    if intel:  # the views are published just before each commit: never behind it
        assert_identity(intel.get("runtime_diagnostics") or {}, "intel.json")
        assert_not_behind(counters(intel.get("runtime_diagnostics") or {}), committed, "intel")
    ledger_ts = read_json_defensive(state_dir / POSITIONS_LEDGER_FILE).data.get("updated_ts")
    registry_ts = read_json_defensive(state_dir / TP_SL_REGISTRY_FILE).data.get("updated_ts")
    newer = {ledger_ts, registry_ts, intel.get("updated_ts")} - {
        to_iso(memory.progress["last_ts"]),
        None,
    }
    account_orders = account.get("orders") or {}
    orders = {c: o["exchange_order_id"] for c, o in account_orders.items()}
    return KillSnapshot(
        int(memory.progress["bars_processed"]),
        bool(memory.progress["completed"]),
        committed,
        orders,
        temps,
        bool(newer),
    )


def counters_of_memory(memory: Memory) -> dict[str, Any]:
    """The cumulative counters the memory holds (the published block's shape)."""
    block: dict[str, Any] = {}
    with capture_diagnostics():
        diag.restore_state(memory.diagnostics)
        write_runtime_diagnostics_state(block)
    return counters(block["runtime_diagnostics"])


def final_outcome(state_dir: Path) -> dict[str, Any]:
    """Everything a finished replay leaves that must not depend on how often it was killed."""
    memory = committed_memory(state_dir)
    assert memory is not None and memory.progress["completed"] is True
    ledger = load(state_dir / POSITIONS_LEDGER_FILE)
    registry = load(state_dir / TP_SL_REGISTRY_FILE)
    account = load(state_dir / PAPER_EXCHANGE_FILE)
    intel = load(state_dir / INTEL_FILE)
    assert_books_agree(ledger, registry, account)
    assert_orders_unique(account)
    block = intel["runtime_diagnostics"]
    assert_identity(block, "final intel.json")
    strip = ("updated_ts",)
    return {
        "bars": memory.progress["bars_processed"],
        "ledger": {k: v for k, v in ledger.items() if k not in strip},
        "registry": {k: v for k, v in registry.items() if k not in strip},
        "account": {k: v for k, v in account.items() if k not in strip},
        "counters": counters(block),
        "book": memory.book,
        "strategy": memory.strategy,
        "journal": {"trades": read_closed_trades(state_dir), "fills": read_fills(state_dir)},
    }


SUMMARY_KEYS = (
    "bars", "signals", "vetoes", "vetoes_by_reason", "orders", "orders_by_kind",
    "order_failures", "exits_by_kind", "identity_ok", "open_positions", "realized_pnl",
    "fees_paid", "nav", "pnl", "max_drawdown_seen_pct", "bad_bars",
)  # fmt: skip


def summary_core(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: summary.get(k) for k in SUMMARY_KEYS}


def diff_keys(a: Mapping[str, Any], b: Mapping[str, Any], depth: int = 2) -> list[str]:
    """The (dotted) keys whose values differ, down to ``depth`` levels of nested objects."""
    out: list[str] = []
    for k in sorted(set(a) | set(b), key=str):
        va, vb = a.get(k), b.get(k)
        if va == vb:
            continue
        if depth > 1 and isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += [f"{k}.{sub}" for sub in diff_keys(va, vb, depth - 1)]
        else:
            out.append(str(k))
    return out


def env_without_state_dir() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("V7_STATE_DIR", None)
    return env


PACE = "0.005"  # seconds between the loops of a paced engine under test


def digest(state_dir: Path) -> dict[str, str]:
    """Every entry of the state dir and the hash of its bytes (what "byte-identical" means)."""
    out: dict[str, str] = {}
    for p in sorted(state_dir.rglob("*")):
        rel = str(p.relative_to(state_dir))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "special"
    return out


def paced(state: Path, max_bars: int, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["run", "--state-dir", str(state), "--pace", PACE, "--max-bars", str(max_bars), *extra]
    return run_v7(args, timeout=120)


def fast(state: Path, max_bars: int, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["run", "--fast", "--no-progress", "--state-dir", str(state), "--max-bars",
            str(max_bars), *extra]  # fmt: skip
    return run_v7(args, timeout=120)
