"""The end of `v7 run --fast`: the report's headline, and an interrupted replay never looks done.

The exit codes 130 / 143 and the "run the same command to resume" line of a signalled replay
are proven end to end in tests/faults/test_crash_kill.py (SIGINT and SIGTERM on a real process).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execution.cli import main
from execution.run.summary import summary_text


def test_a_fast_replay_ends_with_the_reports_headline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--fast", "--state-dir", str(tmp_path), "--max-bars", "7000", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("report"))
    for word in ("trades", "win rate", "net PnL", "after fees", "max drawdown", "Sharpe"):
        assert word in line
    assert main(["report", "--state-dir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert f"trades {report['trades']:,}," in line


def _summary(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "resumed": False, "mode": "replay", "completed": True, "bars": 10, "bars_this_run": 10,
        "symbols": 1, "elapsed_s": 1.0, "bars_per_s": 10.0, "diagnostics": "off", "pnl": 0.0,
        "pnl_pct": 0.0, "realized_pnl": 0.0, "fees_paid": 0.0, "nav": 1.0, "open_positions": 0,
        "bad_bars": 0, "state_dir": "x", "report": None, "vetoes_by_reason": {},
        "exits_by_kind": {},
    }  # fmt: skip
    return base | over


def test_an_interrupted_replays_summary_says_it_did_not_finish() -> None:
    assert "INTERRUPTED" in summary_text(_summary(completed=False)).splitlines()[0]
    assert "INTERRUPTED" not in summary_text(_summary())
    # A paced or live run never "completes": stopping it is how it ends.
    assert "INTERRUPTED" not in summary_text(_summary(mode="realtime", completed=False))
