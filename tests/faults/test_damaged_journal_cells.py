"""A journal cell the engine never writes (SQLite keeps text in a REAL column): `v7 trades`,
`v7 report` and the dashboard's trades panel name the file, table, row and column, exit 2,
and never end in a bare runtime failure."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from execution.cli import main
from execution.store import DB_FILE, StoreError, read_closed_trades
from tests.report.journal_factory import HOUR, T0, four_trades, write_store

# (table, column, SQL value put into the first row, what the message must say)
DAMAGE = {
    "text_in_a_price": ("closed_trades", "exit_price", "'zz'", "exit_price is 'zz'"),
    "blob_for_a_symbol": ("closed_trades", "symbol", "x'ff00'", "symbol is b'\\xff\\x00'"),
    "text_for_a_time": ("closed_trades", "entry_ts", "'soon'", "entry_ts is 'soon'"),
    "time_past_year_9999": ("closed_trades", "exit_ts", "1e300", "exit_ts is 1e+300"),
    "infinite_pnl": ("closed_trades", "pnl", "1e999", "pnl is inf"),
    "text_for_a_fee": ("fills", "fee", "'x'", "fee is 'x'"),
    "text_for_a_nav": ("equity", "nav", "'x'", "nav is 'x'"),
}


def _damaged(tmp_path: Path, case: str) -> tuple[Path, str]:
    state = tmp_path / "state"
    write_store(state, four_trades(), [(T0, 1000.0), (T0 + 5 * HOUR, 1009.0)])
    table, column, value, says = DAMAGE[case]
    with sqlite3.connect(state / DB_FILE) as conn:
        conn.execute(f"UPDATE {table} SET {column} = {value} WHERE rowid = 1")
    return state, f"{table} row 1: {says}"


# v7 trades reads the closed trades only; v7 report reads every table.
READERS = [
    (case, command)
    for case in sorted(DAMAGE)
    for command in (["trades"], ["trades", "--json"], ["report", "--json"])
    if command[0] == "report" or DAMAGE[case][0] == "closed_trades"
]


@pytest.mark.parametrize(("case", "command"), READERS)
def test_a_damaged_journal_cell_is_named_by_trades_and_report(
    case: str, command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, says = _damaged(tmp_path, case)
    code = main([*command, "--state-dir", str(state)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert DB_FILE in err and says in err, err
    assert "runtime failure" not in err


def test_the_trades_panel_reads_a_damaged_cell_as_a_store_error(tmp_path: Path) -> None:
    state, says = _damaged(tmp_path, "text_for_a_time")
    with pytest.raises(StoreError, match=says):
        read_closed_trades(state, limit=100)


def test_a_damaged_row_outside_the_newest_n_does_not_stop_reading_the_newest(
    tmp_path: Path,
) -> None:
    state, _ = _damaged(tmp_path, "text_for_a_time")  # row 1 is the oldest of four
    newest = [r["symbol"] for r in read_closed_trades(state, limit=3)]
    assert newest == ["ETHUSDT", "BTCUSDT", "ETHUSDT"]


def test_a_store_missing_another_table_still_lists_its_closed_trades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the memory read and the engine's open need every table: a reader needs its own."""
    state = tmp_path / "state"
    write_store(state, four_trades(), [(T0, 1000.0), (T0 + 5 * HOUR, 1009.0)])
    with sqlite3.connect(state / DB_FILE) as conn:
        conn.execute("DROP TABLE orders")
    conn.close()
    assert len(read_closed_trades(state)) == 4
    assert main(["trades", "--state-dir", str(state), "--json"]) == 0, capsys.readouterr().err
