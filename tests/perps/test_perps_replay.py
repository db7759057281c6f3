"""A whole replay with funding: balance, ledger, journal, summary and positions_state agree."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from execution.cli import main
from execution.store import read_closed_trades, read_fills, read_funding

XRP = Path("/work/shared/data/futures_xrp")


def _config(tmp_path: Path, **data: Any) -> Path:
    cfg = {
        "universe": [
            {"symbol": "BTCUSDT", "base_price": 60000.0, "qty_step": 0.001},
            {"symbol": "ETHUSDT", "base_price": 3000.0, "qty_step": 0.001},
        ],
        "strategy": {"name": "ema_cross_atr", "fast": 5, "slow": 20},
        "risk": {"max_concurrent": 2, "var_limit_nav_pct": 1.0, "cvar_limit_nav_pct": 1.0},
        "data": data,
    }
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


def _run(tmp_path: Path, cfg: Path, *extra: str) -> tuple[dict[str, Any], Path]:
    state = tmp_path / "state"
    argv = ["run", "--fast", "--json-summary", "--no-progress", "--config", str(cfg)]
    argv += ["--state-dir", str(state), *extra]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return json.loads(buf.getvalue()), state


def test_synthetic_funding_reaches_the_balance_ledger_journal_and_summary(tmp_path: Path) -> None:
    cfg = _config(tmp_path, synthetic={"funding": True})
    summary, state = _run(tmp_path, cfg, "--max-bars", "12000")
    paid = read_funding(state)
    assert paid, "positions held over a settlement pay or receive funding"
    assert all(p["ts"] % 28_800 == 0 for p in paid)
    total = sum(p["payment"] for p in paid)
    assert summary["funding_pnl"] == pytest.approx(total, abs=0.006)
    ledger = json.loads((state / "positions_ledger.json").read_text(encoding="utf-8"))
    assert ledger["funding_pnl"] == pytest.approx(total)
    fees = sum(f["fee"] for f in read_fills(state))
    realized = sum(t["pnl"] for t in read_closed_trades(state))
    account = json.loads((state / "paper_exchange.json").read_text(encoding="utf-8"))
    assert account["balance"] == pytest.approx(10_000.0 + realized - fees + total)


def test_without_funding_the_summary_and_ledger_have_no_funding_keys(tmp_path: Path) -> None:
    summary, state = _run(tmp_path, _config(tmp_path), "--max-bars", "4000")
    ledger = json.loads((state / "positions_ledger.json").read_text(encoding="utf-8"))
    assert "funding_pnl" not in summary and "funding_pnl" not in ledger
    assert read_funding(state) == []


@pytest.mark.skipif(not XRP.is_dir(), reason="real data folder /work/shared/data absent")
def test_a_replay_of_the_xrp_folder_journals_its_real_funding(tmp_path: Path) -> None:
    cfg = _config(tmp_path, timeframe="5m")
    summary, state = _run(tmp_path, cfg, "--data", str(XRP))
    paid = read_funding(state)
    assert summary["bars"] == 1999 and paid
    rates = {0.0001, 0.00013046, 0.00013862, 0.00019881}
    assert {p["rate"] for p in paid} <= rates
    for p in paid:
        assert p["payment"] == pytest.approx(-p["qty"] * p["mark"] * p["rate"])
