"""`v7 trades` prints the journal's closed trades: a table, JSON, or CSV that pandas loads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from execution.cli import main
from execution.store import JournalBatch, Store

from .helpers import ROOT, T0, memory_at, trade

KEYS = ["symbol", "side", "entry_ts", "entry_price", "exit_ts", "exit_price", "qty", "tp", "sl",
        "exit_reason", "pnl", "fees"]  # fmt: skip


def _journal(state_dir: Path, trades: int = 3) -> Path:
    with Store.open(state_dir, durable=True) as store:
        batch = JournalBatch()
        for k in range(trades):
            batch.closed_trade(trade("ETHUSDT" if k == 1 else "BTCUSDT", k))
        store.commit(memory_at(1), batch)
    return state_dir


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["trades", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_lists_the_trades_newest_last_with_iso_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--state-dir", str(_journal(tmp_path)), "--json")
    rows = json.loads(out)
    assert code == 0 and [list(r) for r in rows] == [KEYS] * 3
    assert [r["symbol"] for r in rows] == ["BTCUSDT", "ETHUSDT", "BTCUSDT"]
    assert rows[0] == {
        "symbol": "BTCUSDT", "side": "long", "entry_ts": "2024-01-01T00:00:00Z",
        "entry_price": 100.0, "exit_ts": "2024-01-01T00:01:00Z", "exit_price": 101.0,
        "qty": 0.5, "tp": 103.0, "sl": 98.0, "exit_reason": "tp", "pnl": 12.5, "fees": 0.5,
    }  # fmt: skip


def test_csv_has_a_header_and_loads_into_pandas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--state-dir", str(_journal(tmp_path)), "--csv")
    frame = pd.read_csv(io.StringIO(out), parse_dates=["entry_ts", "exit_ts"])
    assert code == 0 and list(frame.columns) == KEYS and len(frame) == 3
    assert frame["exit_ts"].iloc[2] == pd.Timestamp(T0 + 240 + 60, unit="s", tz="UTC")
    assert frame["pnl"].sum() == 37.5


def test_symbol_keeps_only_that_symbols_trades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(_journal(tmp_path))
    _, out, _ = _run(capsys, "--state-dir", state, "--symbol", "ETHUSDT", "--json")
    assert [r["symbol"] for r in json.loads(out)] == ["ETHUSDT"]


def test_the_table_has_a_row_per_trade_and_the_net_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--state-dir", str(_journal(tmp_path)))
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [k.upper() for k in KEYS]
    assert len(lines) == 5 and "2024-01-01T00:02:00Z" in lines[2]
    assert lines[-1] == "3 closed trades, net PnL 36.00"


def test_json_and_csv_together_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--state-dir", str(_journal(tmp_path)), "--json", "--csv")
    assert code == 2 and out == "" and "not allowed with" in err


def test_a_dir_without_a_store_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("V7_STATE_DIR", str(tmp_path))
    code, out, err = _run(capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"no store in {tmp_path}" in err
    assert list(tmp_path.iterdir()) == []


def test_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    state = _journal(tmp_path, trades=3000)
    done = subprocess.run(
        f"{sys.executable} -m execution.cli trades --state-dir {state} --csv | head -1",
        shell=True, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.stdout == ",".join(KEYS) + "\n"
    assert done.stderr == ""
