"""The playbook's repair works on a damaged TP/SL: `v7 doctor --sync-registry --apply`.

A registry entry whose TP or SL is not a finite price is no protection, and the engine refuses
to resume such a memory, naming the key. Before, the doctor planned the repair, printed
"registered ETHUSDT short: ... -> tp ..., sl ..." and exited 0, but kept the damaged entry
(it only added entries for symbols that had none): the engine still refused, and the only way
left, --fresh, moves the position's memory aside.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from execution.state_v7 import TP_SL_REGISTRY_FILE
from execution.store import read_memory
from faults.helpers import HELD, paced, run_v7
from faults.helpers import HOLDING_BARS as BARS


def _damage_tp(state: Path, bad: object) -> None:
    """The held position's TP made ``bad`` in the store and in its view alike."""
    with sqlite3.connect(state / "engine.db", isolation_level=None) as conn:
        conn.execute(
            "UPDATE memory SET data = json_set(data, ?, json(?)) WHERE component = 'registry'",
            (f"$.entries.{HELD}.tp_price", json.dumps(bad)),
        )
    conn.close()
    view = state / TP_SL_REGISTRY_FILE
    doc = json.loads(view.read_text())
    doc["entries"][HELD]["tp_price"] = bad
    view.write_text(json.dumps(doc))


@pytest.mark.parametrize("bad", ["n/a", None, -1.0], ids=["string", "null", "negative"])
def test_the_doctors_sync_replaces_a_damaged_entry_and_the_engine_resumes(
    holding_state: Path, tmp_path: Path, bad: object
) -> None:
    state = tmp_path / "state"
    subprocess.run(["cp", "-a", str(holding_state), str(state)], check=True)
    _damage_tp(state, bad)
    refused = paced(state, BARS + 70, "--pace", "0")
    assert refused.returncode == 2 and f"registry.{HELD}.tp_price" in refused.stderr
    assert "v7 doctor --sync-registry --apply" in refused.stderr  # the way out that keeps it

    repair = run_v7(["doctor", "--state-dir", str(state), "--sync-registry", "--apply"])
    assert repair.returncode == 0, repair.stdout + repair.stderr
    memory = read_memory(state)
    assert memory is not None
    entry = memory.registry["entries"][HELD]
    assert entry["source"] == "sync" and isinstance(entry["tp_price"], float)
    assert entry["tp_price"] < entry["sl_price"]  # a short's TP is below its SL
    view = json.loads((state / TP_SL_REGISTRY_FILE).read_text())["entries"][HELD]
    assert view["tp_price"] == entry["tp_price"]

    resumed = paced(state, BARS + 70, "--pace", "0")
    assert resumed.returncode == 0, resumed.stderr
