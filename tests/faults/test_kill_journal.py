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
from pathlib import Path
from typing import Any

from execution.store import read_closed_trades, read_equity, read_fills, read_memory, read_orders
from faults.helpers import FIGURES, REPO, run_v7, v7_command, write_config

REPLAY_BARS = 14_000
REPLAY_KILLS = 30
PACED_KILLS = 22


def journal(state: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        "orders": read_orders(state),
        "fills": read_fills(state),
        "closed_trades": read_closed_trades(state),
        "equity": read_equity(state),
    }


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
    out = subprocess.run(_replay_cmd(cfg, whole), cwd=REPO, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    expected = journal(whole)
    assert expected["closed_trades"] and expected["equity"]

    rng = random.Random(20261202)
    cut = tmp_path / "cut"
    killed = 0
    for _ in range(REPLAY_KILLS):
        code = _kill_at(_replay_cmd(cfg, cut), rng.uniform(0.2, 2.5))
        killed += code == -signal.SIGKILL
        memory = read_memory(cut) if (cut / "engine.db").exists() else None
        if memory is not None and memory.progress.get("completed"):
            break  # it finished before the kill: the rest of the test has nothing to resume
        # What survives each kill is one whole commit: the journal is a prefix of the whole run.
        if memory is not None:
            got = journal(cut)
            for table, rows in got.items():
                assert rows == expected[table][: len(rows)], table
    final = subprocess.run(_replay_cmd(cfg, cut), cwd=REPO, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert final.returncode == 0, final.stderr
    assert killed >= REPLAY_KILLS // 2, "most runs should have been killed mid-way"
    FIGURES["kills.journal.replay"] += killed
    assert journal(cut) == expected
    a, b = read_memory(whole), read_memory(cut)
    assert a is not None and b is not None
    assert a.ledger["positions"] == b.ledger["positions"]
    assert a.paper_account["balance"] == b.paper_account["balance"]
    assert a.diagnostics == b.diagnostics  # the heatmap, the window and liveness included


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
            assert got[table][: len(rows)] == rows, f"{table}: a committed row was lost or changed"
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
