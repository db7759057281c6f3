"""The dashboard's trades panel (AppTest) and its pure builders, on a hand-made journal."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.formatting import format_prices, price_decimals
from dashboard.report_charts import equity_frame, trades_frame
from execution.report import Trade
from execution.store import EngineLock, FundingRow, JournalBatch, Store
from report.journal_factory import HOUR, T0, four_trades, write_store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def _cheap_trade() -> Trade:
    # NXTBTC at 0.00003123 with no TP: Streamlit's default shows 0.00003 and "None".
    return Trade("NXTBTC", "long", T0, T0 + HOUR, 0.00003123, 0.00003188, 1e6, "signal", 0.65,
                 0.01, None, 0.00003050)  # fmt: skip


def _panel(state_dir: str) -> None:
    from dashboard import trades_panel
    from dashboard.state import load_dashboard_state

    trades_panel.render(load_dashboard_state(state_dir))


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    navs = [(T0 + HOUR, 1009.0), (T0 + 3 * HOUR, 1003.0), (T0 + 5 * HOUR, 1009.65)]
    write_store(tmp_path, [*four_trades(), _cheap_trade()], navs)
    return tmp_path


def test_panel_shows_equity_fees_and_every_trade_then_filters_by_symbol(state_dir: Path) -> None:
    at = AppTest.from_function(_panel, kwargs={"state_dir": str(state_dir)}).run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Closed trades"] == "5" and metrics["Fees"] == "2.01 USDT"
    assert len(at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")) == 1
    table = at.dataframe[0].value
    assert len(table) == 5
    at.selectbox(key="trades_symbol").select("NXTBTC").run()
    table = at.dataframe[0].value
    assert list(table["Symbol"]) == ["NXTBTC"]
    assert table["Entry"][0] == "0.00003123" and table["TP"][0] == "—"
    assert at.metric[0].value == "1"


def test_panel_without_a_store_says_so_instead_of_failing(tmp_path: Path) -> None:
    at = AppTest.from_function(_panel, kwargs={"state_dir": str(tmp_path)}).run()
    assert not at.exception and "no store" in at.info[0].value


def test_the_whole_app_places_the_trades_panel(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("V7_STATE_DIR", str(state_dir))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Closed trades" in [s.value for s in at.subheader]


def test_cheap_prices_keep_their_digits_and_missing_ones_show_a_dash() -> None:
    assert price_decimals([0.00003123, 61000.0]) == 8  # the column's cheapest price decides
    assert format_prices([0.00003123, None]) == ["0.00003123", "—"]
    assert format_prices([60500.0]) == ["60,500.00"] and price_decimals([None]) == 2


def test_trades_table_is_newest_first_and_equity_drawdown_is_below_the_peak() -> None:
    rows = [{"symbol": t.symbol, "side": t.side, "entry_ts": t.entry_ts, "exit_ts": t.exit_ts,
             "entry_price": t.entry_price, "exit_price": t.exit_price, "qty": t.qty, "tp": t.tp,
             "sl": t.sl, "exit_reason": t.exit_reason, "pnl": t.pnl, "fees": t.fees}
            for t in four_trades()]  # fmt: skip
    frame = trades_frame(rows)
    assert list(frame["Net PnL"]) == [6.0, -6.0, 0.0, 9.0]
    eq = equity_frame([{"ts": T0, "nav": 100.0}, {"ts": T0 + 1, "nav": 80.0}])
    assert list(eq["drawdown_pct"]) == pytest.approx([0.0, -20.0])


def test_panel_shows_funding_beside_fees_apart_from_the_trades_pnl(state_dir: Path) -> None:
    batch = JournalBatch()
    for ts, symbol, payment in ((T0 + HOUR, "BTCUSDT", -0.3), (T0 + 2 * HOUR, "ETHUSDT", 0.1)):
        batch.funding_payment(FundingRow(ts, symbol, 0.0001, 100.0, 1.0, payment))
    with EngineLock(state_dir), Store.open(state_dir, durable=False) as store:
        memory = store.load()
        assert memory is not None
        store.commit(memory, batch)
    at = AppTest.from_function(_panel, kwargs={"state_dir": str(state_dir)}).run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Funding"] == "-0.20 USDT" and metrics["Fees"] == "2.01 USDT"
    assert metrics["Net PnL (after fees)"] == "9.64 USDT"  # the trades' PnL: no funding in it
    at.selectbox(key="trades_symbol").select("BTCUSDT").run()
    assert {m.label: m.value for m in at.metric}["Funding"] == "-0.30 USDT"


def test_spot_journal_without_funding_shows_no_funding_metric(state_dir: Path) -> None:
    at = AppTest.from_function(_panel, kwargs={"state_dir": str(state_dir)}).run()
    assert "Funding" not in [m.label for m in at.metric]
