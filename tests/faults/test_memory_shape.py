"""A store that parses but whose memory is not what the engine committed: refused, never guessed.

Each case edits a paced paper engine's store with SQL (valid JSON of the wrong shape, a missing
row, a missing table), runs the real `v7 run` on it, and expects exit 2 naming engine.db and
the bad part, with the state dir byte-identical. Before, each of these started: a missing or
emptied paper account restarted the account fresh and closed the held position as "closed
outside the engine"; strategy state of the wrong kind killed the screener on every loop with
exit 0; a missing journal table ran the engine halted for ever.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from faults.helpers import HELD, digest, paced
from faults.helpers import HOLDING_BARS as BARS


def _damaged(holding_state: Path, tmp_path: Path, sql: str) -> Path:
    state = tmp_path / "state"
    subprocess.run(["cp", "-a", str(holding_state), str(state)], check=True)
    with sqlite3.connect(state / "engine.db", isolation_level=None) as conn:
        conn.execute(sql)
    conn.close()
    return state


def _assert_refused(state: Path, *named: str) -> None:
    before = digest(state)
    out = paced(state, BARS + 700, "--pace", "0")
    assert out.returncode == 2, out.stderr
    for word in ("engine.db", "--fresh", *named):
        assert word in out.stderr, out.stderr
    assert digest(state) == before


_ACCOUNT = "UPDATE memory SET data = {} WHERE component = 'paper_account'"


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM memory WHERE component = 'paper_account'",
        _ACCOUNT.format("'{}'"),
        "DELETE FROM memory WHERE component = 'paper_orders'",
        "DELETE FROM memory WHERE component = 'pending_intents'",
    ],
    ids=["account_row_deleted", "account_emptied", "order_history_deleted", "intents_deleted"],
)
def test_a_paper_memory_missing_part_of_its_account_is_refused_not_started_afresh(
    holding_state: Path, tmp_path: Path, sql: str
) -> None:
    state = _damaged(holding_state, tmp_path, sql)
    _assert_refused(state, "paper_" if "paper" in sql else "pending_intents")
    with sqlite3.connect(f"file:{state / 'engine.db'}?mode=ro", uri=True) as conn:
        ledger = conn.execute("SELECT data FROM memory WHERE component = 'ledger'").fetchone()
    conn.close()
    assert HELD in ledger[0]


_STRATEGY = "UPDATE memory SET data = {} WHERE component = 'strategy'"


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (_STRATEGY.format(f"json_set(data, '$.per_symbol.{HELD}.fast', 'abc')"), "fast"),
        (_STRATEGY.format(f"json_set(data, '$.per_symbol.{HELD}.atr', json('null'))"), "atr"),
        (_STRATEGY.format(f"json_set(data, '$.per_symbol.{HELD}.count', 'x')"), "count"),
        (_STRATEGY.format(f"json_set(data, '$.per_symbol.{HELD}.above', 1)"), "above"),
        # 1e999 is valid JSON, and Python reads it as an infinity.
        (_STRATEGY.format("replace(data, '\"atr\":', '\"atr\":1e999,\"was\":')"), "strategy"),
    ],
    ids=["string_for_a_number", "null_for_a_number", "string_for_a_count", "int_for_a_bool",
         "infinite_number"],
)  # fmt: skip
def test_strategy_state_of_the_wrong_kind_is_refused_naming_the_key(
    holding_state: Path, tmp_path: Path, sql: str, named: str
) -> None:
    state = _damaged(holding_state, tmp_path, sql)
    _assert_refused(state, "strategy", named)


@pytest.mark.parametrize(
    "table", ["orders", "fills", "closed_trades", "equity", "funding", "external_closes"]
)
def test_a_store_missing_a_journal_table_is_refused_naming_it(
    holding_state: Path, tmp_path: Path, table: str
) -> None:
    state = _damaged(holding_state, tmp_path, f"DROP TABLE {table}")
    _assert_refused(state, table)


_REGISTRY = "UPDATE memory SET data = {} WHERE component = 'registry'"


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (_REGISTRY.format(f"json_set(data, '$.entries.{HELD}.tp_price', "
                          f"json_extract(data, '$.entries.{HELD}.sl_price'), "
                          f"'$.entries.{HELD}.sl_price', "
                          f"json_extract(data, '$.entries.{HELD}.tp_price'))"), "tp_price"),
        # A long's levels, in order, on the short position.
        (_REGISTRY.format(f"json_set(data, '$.entries.{HELD}.side', 'long', "
                          f"'$.entries.{HELD}.tp_price', "
                          f"json_extract(data, '$.entries.{HELD}.sl_price'), "
                          f"'$.entries.{HELD}.sl_price', "
                          f"json_extract(data, '$.entries.{HELD}.tp_price'))"), "side"),
    ],
    ids=["tp_and_sl_swapped", "side_not_the_positions"],
)  # fmt: skip
def test_tp_sl_levels_that_would_close_the_position_at_once_are_refused(
    holding_state: Path, tmp_path: Path, sql: str, named: str
) -> None:
    """Each level finite and positive, but a short's TP above its SL (or a long's entry for a
    short position): before, the restart closed the position on its first bar."""
    state = _damaged(holding_state, tmp_path, sql)
    _assert_refused(state, f"registry.{HELD}.{named}")


def test_an_entry_in_flight_that_is_not_an_intent_id_is_refused_naming_it(
    holding_state: Path, tmp_path: Path
) -> None:
    """The id settles an entry's outcome at a restart: a number there names no entry."""
    sql = (
        "UPDATE memory SET data = json_set(data, '$.entry_in_flight', 42) "
        "WHERE component = 'progress'"
    )
    state = _damaged(holding_state, tmp_path, sql)
    _assert_refused(state, "progress", "entry_in_flight")
