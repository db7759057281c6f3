"""`v7 report` on a hand-made store: JSON keys and values, text, and the refusal without a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execution.cli import main
from execution.store import EngineLock, FundingRow, JournalBatch, Store
from report.journal_factory import HOUR, T0, four_trades, write_store

JSON_KEYS = {"trades", "win_rate", "profit_factor", "expectancy", "max_drawdown_pct", "sharpe",
             "sortino", "calmar", "net_pnl", "fees", "per_symbol", "exit_reasons"}  # fmt: skip


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    navs = [(T0 + HOUR, 1009.0), (T0 + 3 * HOUR, 1003.0), (T0 + 5 * HOUR, 1009.0)]
    write_store(tmp_path, four_trades(), navs)
    return tmp_path


def test_report_json_carries_the_promised_keys_with_the_hand_worked_values(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--state-dir", str(state_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report.keys() >= JSON_KEYS
    assert report["trades"] == 4 and report["win_rate"] == 0.5
    assert report["profit_factor"] == pytest.approx(2.5)
    assert report["net_pnl"] == pytest.approx(9.0)  # final NAV 1009 - starting balance 1000
    assert report["fees"] == 2.0 and report["funding"] == 0.0
    # NAV 1000 (start) -> 1009 -> 1003 -> 1009: 6 below the 1009 peak
    assert report["max_drawdown_pct"] == pytest.approx(6 / 1009 * 100)
    assert report["exposure_pct"] == pytest.approx(3.5 / 5 * 100)  # 3.5 h open of 5 h
    assert report["per_symbol"]["BTCUSDT"]["trades"] == 2
    assert report["exit_reasons"]["tp"]["net_pnl"] == 15.0
    assert report["sharpe"] is None  # one day of samples: no daily returns to annualize


def test_report_text_lists_the_tables(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--state-dir", str(state_dir)]) == 0
    out = capsys.readouterr().out
    assert "win rate 50.0 %" in out and "profit factor 2.50" in out
    assert "exit reason" in out and "ETHUSDT" in out


def test_report_without_a_store_exits_2_naming_the_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--state-dir", str(tmp_path)]) == 2
    assert "no store" in capsys.readouterr().err


def _journal_funding(state_dir: Path, payments: list[tuple[float, str, float]]) -> None:
    """Funding rows as the paper venue journals them at each settlement."""
    batch = JournalBatch()
    for ts, symbol, payment in payments:
        batch.funding_payment(FundingRow(ts, symbol, 0.0001, 100.0, 1.0, payment))
    with EngineLock(state_dir), Store.open(state_dir, durable=False) as store:
        memory = store.load()
        assert memory is not None
        store.commit(memory, batch)


def test_report_shows_funding_apart_from_the_trades_pnl(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _journal_funding(state_dir, [(T0 + HOUR, "BTCUSDT", -0.25), (T0 + 2 * HOUR, "BTCUSDT", -0.25),
                                 (T0 + 2 * HOUR, "ETHUSDT", 0.1)])  # fmt: skip
    assert main(["report", "--state-dir", str(state_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["funding"] == pytest.approx(-0.4) and report["funding_payments"] == 3
    assert report["funding_by_symbol"] == pytest.approx({"BTCUSDT": -0.5, "ETHUSDT": 0.1})
    assert report["realized_net_pnl"] == pytest.approx(9.0)  # the trades' PnL: no funding in it
    assert main(["report", "--state-dir", str(state_dir)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "funding" in ln)
    assert "-0.40 over 3 payment(s) (BTCUSDT -0.50, ETHUSDT +0.10)" in line
    assert "not in the trades' PnL (+9.00 after fees)" in line
