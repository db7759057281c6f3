"""A live engine SIGKILLed just after the commit before an entry's send, restarted with a config
whose universe has dropped that entry's symbol (edited between the two runs).

The restart goes through `v7 run --live`'s own start (``run_live``): the real ccxt binanceusdm
against the canned Binance. It must not crash, must settle the entry in flight exactly once
(placed if the exchange holds its position, else ``lost_at_restart``), must keep managing a
position the exchange holds in that symbol to its TP/SL exit (docs/reliability.md: a symbol
removed from the universe while holding a position is added back exit-only), and must only
ever add to the state dir.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ccxt_canned import CannedBinance, canned_client
from test_live_loop import ENV, _args, _config, _fake
from test_live_restart_protection import killed_before_send

from execution.cli.live import run_live
from execution.clock import ReplayClock
from execution.config import EngineConfig
from execution.run.live import LiveLoop
from execution.run.runner import EngineRunner, RunOptions
from execution.state_snapshots import intent_from_dict
from execution.store import (
    DB_FILE,
    read_closed_trades,
    read_external_closes,
    read_fills,
    read_memory,
    read_orders,
)
from execution.types import Intent
from execution.venues.ccxt_venue import CcxtExchange

DROPPED = "BTCUSDT"  # the symbol the kill leaves an entry in flight on


def start_as_run_live(state: Path, fake: CannedBinance, clock: ReplayClock) -> LiveLoop:
    """A live runner over ``state`` with the identity ``run_live`` gives its memory (source and
    account), so that ``run_live`` resumes it; on the canned exchange's clock."""
    cfg = _config()
    client, _ = canned_client(fake)
    exchange = CcxtExchange.from_config(cfg, clock, env=ENV, ccxt_client=client)
    exchange.load_markets()
    opts = RunOptions("live", f"live:{exchange.name}", account=exchange.name)
    runner = EngineRunner(cfg, opts, state, clock, lambda _: exchange)
    return LiveLoop(runner, exchange, 0.0)


def _killed_with_an_entry_in_flight(state: Path) -> Intent:
    """Run a real child engine over ``state`` that is SIGKILLed right after the commit that
    precedes its BTCUSDT entry's send; return that entry's intent as the memory holds it."""
    memory = killed_before_send(state, "test_live_restart_dropped_symbol:start_as_run_live")
    (raw,) = memory.pending_intents
    intent = intent_from_dict(raw, strict=True, key="[0]")
    assert intent is not None and intent.symbol == DROPPED
    assert memory.progress["entry_in_flight"] == intent.intent_id
    return intent


def _without_dropped() -> EngineConfig:
    """The live test config with BTCUSDT removed from the universe."""
    cfg = _config()
    kept = tuple(s for s in cfg.universe if s.symbol != DROPPED)
    return cfg.model_copy(update={"universe": kept})


def _filled_on_the_exchange(intent: Intent, mark: float) -> CannedBinance:
    """The exchange as it is when the entry's order reached it and filled before the kill:
    the position at the intent's reference price (its levels then need no shift)."""
    fake = _fake()
    fake.positions[DROPPED] = (round(intent.notional / intent.ref_price, 3), intent.ref_price)
    fake.marks[DROPPED] = mark
    return fake


def _restart(state: Path, fake: CannedBinance, loops: int) -> int:
    client, _ = canned_client(fake)
    return run_live(_without_dropped(), _args(max_loops=loops), state, ccxt_client=client, env=ENV)


def _journal(state: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        "orders": read_orders(state),
        "fills": read_fills(state),
        "closed_trades": read_closed_trades(state),
        "external_closes": read_external_closes(state),
    }


def _only_added_to(state: Path, before: dict[str, list[dict[str, Any]]]) -> None:
    """The restart kept every journal row and moved no memory aside."""
    after = _journal(state)
    for table, rows in before.items():
        assert after[table][: len(rows)] == rows, f"{table}: a row was lost or changed"
    assert (state / DB_FILE).is_file()
    assert not [p.name for p in state.iterdir() if p.name.startswith("backup-")]


def _accounting(state: Path) -> dict[str, Any]:
    intel = json.loads((state / "intel.json").read_text())
    accounting: dict[str, Any] = intel["runtime_diagnostics"]["accounting"]
    return accounting


def test_a_dropped_symbols_entry_the_exchange_filled_is_settled_once_and_exits_at_its_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exchange holds the entry's position and its mark is already under the entry's SL:
    the restarted engine adopts it with the entry's levels and closes it at its stop, though
    the universe no longer lists the symbol."""
    intent = _killed_with_an_entry_in_flight(tmp_path)
    before = _journal(tmp_path)
    fake = _filled_on_the_exchange(intent, mark=intent.sl * 0.999)

    assert _restart(tmp_path, fake, loops=2) == 0
    err = capsys.readouterr().err
    sent = [o for o in fake.orders if o["symbol"] == DROPPED]
    assert [(o["side"], o["reduceOnly"]) for o in sent] == [("SELL", True)], "one stop exit"
    assert DROPPED not in fake.positions
    assert f"{DROPPED}: not in the universe" in err, "the start does not say it is kept"
    (trade,) = read_closed_trades(tmp_path, DROPPED)
    assert (trade["exit_reason"], trade["sl"], trade["tp"]) == ("sl", intent.sl, intent.tp)
    entries = [o for o in read_orders(tmp_path, DROPPED) if o["kind"] == "entry"]
    assert [o["status"] for o in entries] == ["filled"], "the entry in flight, journaled once"
    accounting = _accounting(tmp_path)
    assert (accounting["entry_orders"], accounting["in_flight"]) == (1, 0)
    assert accounting["order_failures_by_error"] == {} and accounting["identity_ok"]
    _only_added_to(tmp_path, before)


def test_a_dropped_symbols_entry_the_exchange_filled_keeps_its_levels_across_restarts(
    tmp_path: Path,
) -> None:
    """The mark between the levels: the position and its TP/SL are committed, and a second
    restart with the same (edited) config still holds and protects them."""
    intent = _killed_with_an_entry_in_flight(tmp_path)
    fake = _filled_on_the_exchange(intent, mark=(intent.sl + intent.tp) / 2)
    for run in range(2):
        before = _journal(tmp_path)
        assert _restart(tmp_path, fake, loops=1) == 0
        memory = read_memory(tmp_path)
        assert memory is not None
        assert DROPPED in memory.ledger["positions"], f"run {run}: the position was forgotten"
        level = memory.registry["entries"][DROPPED]
        assert (level["tp_price"], level["sl_price"]) == (intent.tp, intent.sl)
        assert not [o for o in fake.orders if o["symbol"] == DROPPED], "nothing sent for it"
        _only_added_to(tmp_path, before)
    accounting = _accounting(tmp_path)
    assert (accounting["entry_orders"], accounting["in_flight"]) == (1, 0), "counted once"


def test_a_dropped_symbols_entry_the_exchange_never_got_counts_once_as_lost_at_restart(
    tmp_path: Path,
) -> None:
    _killed_with_an_entry_in_flight(tmp_path)
    before = _journal(tmp_path)
    fake = _fake()  # the exchange as the kill left it: no order, no position

    assert _restart(tmp_path, fake, loops=2) == 0
    assert not [o for o in fake.orders if o["symbol"] == DROPPED], "the entry was sent after all"
    accounting = _accounting(tmp_path)
    assert accounting["order_failures_by_error"] == {"lost_at_restart": 1}
    assert (accounting["entry_orders"], accounting["in_flight"]) == (0, 0)
    assert accounting["identity_ok"] and accounting["total_signals"] == 1
    memory = read_memory(tmp_path)
    assert memory is not None and DROPPED not in memory.ledger["positions"]
    assert read_orders(tmp_path, DROPPED) == [], "no order row for an order never placed"
    _only_added_to(tmp_path, before)
