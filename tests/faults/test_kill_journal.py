"""Kill the engine at random moments, run the same command again: nothing it knew is lost.

- A replay (`--fast`) killed with SIGKILL again and again, then run to its end, journals exactly
  the rows (orders, fills, closed trades, equity) of an uninterrupted replay, and ends with the
  same memory.
- A paced paper engine killed the same way keeps every journal row it had committed before each
  kill, never journals a row twice, and never holds a position without TP/SL after a restart.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from execution.store import read_closed_trades, read_equity, read_fills, read_memory, read_orders
from faults.helpers import FIGURES, REPO, run_v7, v7_command, write_config

REPLAY_BARS = 40_000
REPLAY_KILLS = 30
PACED_KILLS = 22


def journal(state: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        "orders": read_orders(state),
        "fills": read_fills(state),
        "closed_trades": read_closed_trades(state),
        "equity": read_equity(state),
    }


def as_committed(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as a commit leaves them for good: an order's status and its time still follow
    the order's later fills, committed after it."""
    if table != "orders":
        return rows
    return [{k: v for k, v in row.items() if k not in ("status", "ts")} for row in rows]


def _replay_cmd(cfg: Path, state: Path) -> list[str]:
    return [*v7_command(), "run", "--fast", "--no-progress", "--max-bars", str(REPLAY_BARS),
            "--config", str(cfg), "--state-dir", str(state)]  # fmt: skip


def _kill_at(cmd: list[str], after: float) -> int:
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return proc.returncode


def test_a_replay_killed_at_random_moments_journals_exactly_what_an_uninterrupted_one_does(
    tmp_path: Path,
) -> None:
    # Commit often (every 0.05 s of wall time) so kills land between, during and after commits.
    cfg = write_config(tmp_path / "cfg.json", publish={"min_interval_seconds": 0.05})
    whole = tmp_path / "whole"
    t0 = time.perf_counter()
    out = subprocess.run(_replay_cmd(cfg, whole), cwd=REPO, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    duration = time.perf_counter() - t0
    assert out.returncode == 0, out.stderr
    expected = journal(whole)
    final_memory = read_memory(whole)
    assert expected["closed_trades"] and expected["equity"] and final_memory is not None

    rng = random.Random(20261202)
    killed = chains = 0
    while killed < REPLAY_KILLS:
        chains += 1
        cut = tmp_path / f"chain{chains}"
        for _ in range(8):  # kill this chain a few times, each time later in its remaining run
            if _kill_at(_replay_cmd(cfg, cut), rng.uniform(0.25, 0.9 * duration)) != -9:
                break  # it finished first
            killed += 1
            memory = read_memory(cut) if (cut / "engine.db").exists() else None
            if memory is not None and memory.progress:
                # What survives each kill is one whole commit: a prefix of the whole journal.
                got = journal(cut)
                for table, rows in got.items():
                    whole = expected[table][: len(rows)]
                    assert as_committed(table, rows) == as_committed(table, whole), table
        final = subprocess.run(_replay_cmd(cfg, cut), cwd=REPO, capture_output=True, text=True,
                               timeout=300)  # fmt: skip
        assert final.returncode == 0, final.stderr
        assert journal(cut) == expected, f"chain {chains}: the journal differs"
        memory = read_memory(cut)
        assert memory is not None
        assert memory.ledger["positions"] == final_memory.ledger["positions"]
        assert memory.paper_account["balance"] == final_memory.paper_account["balance"]
        assert memory.diagnostics == final_memory.diagnostics  # heatmap, window, liveness
    FIGURES["kills.journal.replay"] += killed
    FIGURES["chains.journal.replay_identical"] += chains


def test_a_paced_engine_killed_at_random_moments_keeps_every_committed_row(tmp_path: Path) -> None:
    state = tmp_path / "state"
    cmd = [*v7_command(), "run", "--state-dir", str(state), "--pace", "0.002"]
    rng = random.Random(7)
    seen: dict[str, list[dict[str, Any]]] = {}
    killed = 0
    for _ in range(PACED_KILLS):
        killed += _kill_at(cmd, rng.uniform(1.2, 3.0)) == -signal.SIGKILL
        if not (state / "engine.db").exists():
            continue
        got = journal(state)
        for table, rows in seen.items():
            kept = as_committed(table, got[table][: len(rows)])
            assert kept == as_committed(table, rows), f"{table}: a committed row lost or changed"
        ids = [r["client_order_id"] for r in got["orders"]]
        assert len(ids) == len(set(ids)), "an order journaled twice"
        seen = got
        memory = read_memory(state)
        assert memory is not None
        _assert_protected(memory.ledger, memory.registry)
    assert killed >= PACED_KILLS - 2
    FIGURES["kills.journal.paced"] += killed
    assert seen["orders"], "the paced engine placed orders between kills"
    out = run_v7(
        [
            "run",
            "--state-dir",
            str(state),
            "--pace",
            "0.002",
            "--max-bars",
            str(read_memory(state).progress["bars_processed"] + 200),
        ]
    )  # type: ignore[union-attr]
    assert out.returncode == 0, out.stderr


def _assert_protected(ledger: dict[str, Any], registry: dict[str, Any]) -> None:
    """Every open position the memory holds has finite TP and SL in the registry."""
    entries = registry.get("entries", {})
    for symbol in ledger.get("positions", {}):
        entry = entries.get(symbol)
        assert entry is not None, f"{symbol} open without TP/SL after a kill"
        for key in ("tp_price", "sl_price"):
            assert isinstance(entry[key], int | float) and entry[key] > 0, (symbol, key)
