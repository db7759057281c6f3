"""State files far wider than the engine writes, inside the size bound: 100,000 positions in the
ledger. The doctor and the dashboard answer in time linear in the file, never a hang."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dashboard.state import load_dashboard_state
from doctor.cli import run_doctor
from execution.state_v7 import POSITIONS_LEDGER_FILE

WIDE = 100_000


def _wide_ledger(good: Path, tmp: Path) -> Path:
    d = tmp / "state"
    shutil.copytree(good, d)
    ledger: dict[str, Any] = json.loads((d / POSITIONS_LEDGER_FILE).read_text())
    one = next(iter(ledger["positions"].values()))
    ledger["positions"] = {f"S{i}USDT": one | {"symbol": f"S{i}USDT"} for i in range(WIDE)}
    (d / POSITIONS_LEDGER_FILE).write_text(json.dumps(ledger))
    return d


# The verdict once tested each position against the list of unprotected ones: 100,000 positions
# took over a minute in the doctor and in every dashboard refresh.
@pytest.mark.timeout(30)
def test_a_ledger_of_100000_unprotected_positions_gets_its_verdict_without_a_hang(
    good_state: Path, tmp_path: Path
) -> None:
    d = _wide_ledger(good_state, tmp_path)
    code, text = run_doctor(d, as_json=True, config_path=None)
    protection = json.loads(text)["verdict"]["protection"]
    assert code == 2 and protection["status"] == "unprotected"
    verdict = load_dashboard_state(d).verdict
    assert verdict is not None and verdict.protection.status == "unprotected"
