"""The report reads the journal streamed (trades as columns, fees and funding summed as read):
its figures are those of the rows read whole, bit for bit."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from execution.report import build_report, load_inputs
from execution.report.load import ReportInputs
from execution.report.metrics import Trade, trade_from_row
from execution.report.trade_table import ROW_COLUMNS, TradeTable
from execution.store import read_closed_trades, read_fills, stream_rows
from report.journal_factory import HOUR, T0, four_trades, write_store


def _many_trades(n: int) -> list[Trade]:
    """Trades with awkward floats (sums that depend on their order), some without TP/SL."""
    rnd = random.Random(7)
    out = []
    for i in range(n):
        entry = T0 + i * 0.3 * HOUR + rnd.random()  # overlapping: exposure merges intervals
        pnl, fee = rnd.uniform(-3, 3) / 3, rnd.random() / 7
        tp = None if i % 3 else 100.0 + rnd.random()
        out.append(Trade(rnd.choice(("BTCUSDT", "ETHUSDT", "SOLUSDT")), rnd.choice(("long", "short")),
                         entry, entry + rnd.uniform(0.1, 2) * HOUR, 100.0 + rnd.random(),
                         100.0 + rnd.random(), 0.1 + rnd.random(), rnd.choice(("tp", "sl", "signal")),
                         pnl, fee, tp, None if i % 4 else 90.0))  # fmt: skip
    return out


def test_a_trade_table_reads_back_the_trades_it_was_given() -> None:
    trades = four_trades()
    table = TradeTable(
        (t.symbol, t.side, t.entry_ts, t.exit_ts, t.entry_price, t.exit_price, t.qty,
         t.exit_reason, t.pnl, t.fees, t.tp, t.sl) for t in trades
    )  # fmt: skip
    assert list(table) == trades
    assert table[-1] == trades[-1] and table[1:3] == trades[1:3] and len(table) == 4
    with pytest.raises(IndexError):
        table[4]


def test_the_streamed_report_equals_the_report_of_the_rows_read_whole(tmp_path: Path) -> None:
    trades = _many_trades(300)
    navs = [(T0 + k * HOUR, 1000.0 + (k % 17) * 0.37 - k * 0.011) for k in range(120)]
    write_store(tmp_path, trades, navs)
    streamed = load_inputs(tmp_path, with_prices=False)
    assert isinstance(streamed.trades, TradeTable)
    whole = ReportInputs(
        **{**streamed.__dict__,
           "trades": tuple(trade_from_row(r) for r in read_closed_trades(tmp_path)),
           "fees": sum(float(f["fee"]) for f in read_fills(tmp_path))},
    )  # fmt: skip
    assert list(streamed.trades) == list(whole.trades) == trades
    assert build_report(streamed) == build_report(whole)  # exact: no approx


def test_stream_rows_reads_in_journal_order_and_refuses_a_foreign_column(tmp_path: Path) -> None:
    write_store(tmp_path, four_trades(), [(T0, 1000.0), (T0 + 5 * HOUR, 1009.0)])
    rows = list(stream_rows(tmp_path, "closed_trades", ROW_COLUMNS))
    assert [r[0] for r in rows] == ["BTCUSDT", "ETHUSDT", "BTCUSDT", "ETHUSDT"]
    assert list(stream_rows(tmp_path, "equity", ("nav",))) == [(1000.0,), (1009.0,)]
    with pytest.raises(ValueError, match="no column"):
        list(stream_rows(tmp_path, "fills", ("fee; DROP TABLE fills",)))
