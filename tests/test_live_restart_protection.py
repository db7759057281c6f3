"""A live engine stopped hard around an entry, then restarted on the same state dir: every
position the exchange holds is protected by TP/SL again (or counted by the canary when nothing
says where its levels are). The real ccxt binanceusdm runs against the canned Binance."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ccxt_canned import SERVER_MS, CannedBinance, canned_client
from test_live_loop import ENV, _args, _config, _fake

from doctor.sync import sync_registry
from execution import diagnostics_metrics as diag
from execution.cli import main
from execution.cli.live import run_live
from execution.clock import ReplayClock
from execution.run.live import LiveLoop
from execution.run.runner import EngineRunner, RunOptions
from execution.state_v7 import TP_SL_REGISTRY_FILE
from execution.store import DB_FILE, Memory, read_memory, read_orders
from execution.venues.ccxt_orders import MAX_UNSURE_LOOKUPS
from execution.venues.ccxt_venue import CcxtExchange

ENTRY = ("POST", "/fapi/v1/order")


def _start(state: Path, fake: CannedBinance, clock: ReplayClock) -> tuple[LiveLoop, EngineRunner]:
    """A live runner over ``state`` with a new venue object (a restarted process knows nothing)."""
    cfg = _config()
    client, _ = canned_client(fake)
    exchange = CcxtExchange.from_config(cfg, clock, env=ENV, ccxt_client=client)
    exchange.load_markets()
    runner = EngineRunner(cfg, RunOptions("live", "live:test"), state, clock, lambda s: exchange)
    return LiveLoop(runner, exchange, 0.0), runner


def _signal(fake: CannedBinance, clock: ReplayClock) -> None:
    """Closed bars that make the strategy go long BTCUSDT on the next loop; the clock is a
    second past the last one's close (the exchange's time, not this machine's)."""
    last_t = fake.klines["BTCUSDT"][-1][0]
    closes = [60_000.0 + 400 * i for i in range(1, 6)]
    fake.set_klines("BTCUSDT", last_t + 60_000, closes)
    fake.marks["BTCUSDT"] = closes[-1]
    clock.set((last_t + 6 * 60_000) / 1000 + 1)


def _signalled(state: Path) -> tuple[CannedBinance, ReplayClock, LiveLoop, EngineRunner]:
    """A live runner over ``state``, warmed up, whose next loop goes long BTCUSDT."""
    fake, clock = _fake(), _clock()
    loop, runner = _start(state, fake, clock)
    loop.warm_up()
    _signal(fake, clock)
    return fake, clock, loop, runner


def _clock() -> ReplayClock:
    """The canned exchange's time (its bars are from 2023): a wall clock would age every intent
    past the hour after which a pending entry is given up."""
    return ReplayClock(SERVER_MS / 1000)


def _accounting() -> dict[str, Any]:
    """The published accounting identity (what the doctor and the dashboard show)."""
    accounting: dict[str, Any] = diag.get_diagnostics().snapshot().accounting
    return accounting


def _protected(runner: EngineRunner, symbol: str) -> bool:
    level = runner.executor.registry.get(symbol)
    return level is not None and math.isfinite(level.tp_price) and math.isfinite(level.sl_price)


def test_an_entry_accepted_behind_a_timeout_and_filled_before_a_kill_is_protected_on_restart(
    tmp_path: Path,
) -> None:
    """The send times out after the exchange accepted (and filled) it, and the lookups do not
    see it yet: the engine keeps the intent pending and commits it. Killed there, the restart
    finds a position it did not know: its levels are the pending intent's, not none."""
    fake, clock, loop, runner = _signalled(tmp_path)
    retries = runner.cfg.exchange.max_retries
    fake.fail(*ENTRY, "timeout_after_accept", *["timeout"] * retries)  # every resend times out
    fake.hidden_orders = 50  # every lookup of this process misses it
    loop.once()  # the loop ends with a commit: the pending intent is in the memory
    assert "BTCUSDT" in fake.positions, "the exchange filled the entry"
    (intent,) = runner.executor.pending_intents.values()  # it waits for its fill
    runner.close()  # killed: no final publish, the venue object and its tracked orders are gone
    fake.hidden_orders = 0

    _, again = _start(tmp_path, fake, clock)
    try:
        assert "BTCUSDT" in again.executor.ledger.positions
        assert _protected(again, "BTCUSDT"), "the filled entry lost its TP/SL on restart"
        level = again.executor.registry.get("BTCUSDT")
        shift = fake.positions["BTCUSDT"][1] - intent.ref_price  # as its fill would move them
        assert level is not None
        assert (level.tp_price, level.sl_price) == (intent.tp + shift, intent.sl + shift)
        assert not again.executor.pending_intents, "the intent is used up"
        accounting = _accounting()  # its outcome was counted before the kill: not again
        assert accounting["order_failures_by_error"] == {"transient": 1}
        assert (accounting["entry_orders"], accounting["in_flight"]) == (0, 0)
        assert accounting["identity_ok"]
    finally:
        again.close()


def test_an_entry_the_venue_stopped_looking_for_is_protected_when_reconcile_finds_it(
    tmp_path: Path,
) -> None:
    """No restart: the send timed out after accept and every lookup missed until the venue gave
    the order up; the periodic reconcile then finds the position, with the entry's TP/SL."""
    fake, clock, loop, runner = _signalled(tmp_path)
    fake.fail(*ENTRY, "timeout_after_accept", *["timeout"] * runner.cfg.exchange.max_retries)
    fake.hidden_orders = 1_000
    try:
        for _ in range(MAX_UNSURE_LOOKUPS + 1):  # the venue's lookups, one per loop
            loop.once()
        assert "BTCUSDT" in fake.positions and not loop.exchange.stats()["orders_tracked"]
        assert "BTCUSDT" not in runner.executor.ledger.positions, "the fill was never seen"
        loop.reconcile()
        assert _protected(runner, "BTCUSDT"), "adopted without the entry's TP/SL"
    finally:
        runner.close()


def test_an_entry_filled_and_killed_before_the_loops_commit_is_protected_on_restart(
    tmp_path: Path,
) -> None:
    """SIGKILL after the exchange filled the entry and before the loop committed: the memory
    never saw this loop, yet the restart finds the position and protects it."""
    fake, clock, loop, runner = _signalled(tmp_path)
    ex = runner.executor
    ex.step_live(loop.exchange.marks(ex.symbols), loop.new_bars())  # once() up to its commit
    assert "BTCUSDT" in fake.positions and _protected(runner, "BTCUSDT")
    expected = ex.registry.get("BTCUSDT")
    runner.close()  # killed before check_point: this loop's commit never happened

    _, again = _start(tmp_path, fake, clock)
    try:
        assert "BTCUSDT" in again.executor.ledger.positions
        assert _protected(again, "BTCUSDT"), "the filled entry lost its TP/SL on restart"
        level = again.executor.registry.get("BTCUSDT")
        assert level is not None and expected is not None
        assert (level.tp_price, level.sl_price) == (expected.tp_price, expected.sl_price)
        # The memory is the pre-send commit's (the entry in flight); the exchange's position is
        # that entry's order: it counts as placed, and nothing stays in flight for ever.
        accounting = _accounting()
        assert (accounting["entry_orders"], accounting["in_flight"]) == (1, 0)
        assert accounting["identity_ok"] and accounting["total_signals"] == 1
    finally:
        again.finish()
    # Its order row died with the kill: the restart journals it, as the venue has it.
    (order,) = read_orders(tmp_path)
    assert (order["symbol"], order["kind"], order["status"]) == ("BTCUSDT", "entry", "filled")
    assert order["client_order_id"].startswith("v7e"), "the id the entry was sent under"
    assert order["sl"] < order["price"] < order["tp"], "a long, with the levels it was sent with"


# A live engine that commits before its first entry and is SIGKILLed right then (the exchange
# never gets the order): the canned Binance lives in this process, so the kill is a real one.
# ``start`` (module:function) builds the live loop over the state dir, the fake and the clock.
_KILLED_BEFORE_SEND = """
import importlib, os, signal, sys
from pathlib import Path
from test_live_loop import _fake
from test_live_restart_protection import _clock, _signal
module, name = sys.argv[2].split(":")
start = getattr(importlib.import_module(module), name)
fake, clock = _fake(), _clock()
loop = start(Path(sys.argv[1]), fake, clock)
loop.warm_up()
_signal(fake, clock)
commit = loop.runner.executor.before_entry
def commit_then_die(*args):
    commit(*args)
    os.kill(os.getpid(), signal.SIGKILL)
loop.runner.executor.before_entry = commit_then_die
loop.once()
"""


def start_loop(state: Path, fake: CannedBinance, clock: ReplayClock) -> LiveLoop:
    return _start(state, fake, clock)[0]


def killed_before_send(
    state: Path, start: str = "test_live_restart_protection:start_loop"
) -> Memory:
    """Run a real child engine over ``state`` (its loop built by ``start``), SIGKILLed right
    after the commit that precedes its first entry's send; return the memory it left, which
    holds that entry pending and in flight."""
    tests = Path(__file__).parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(tests.parent), str(tests))))
    out = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_SEND, str(state), start], env=env,
        cwd=tests.parent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == -signal.SIGKILL, out.stderr[-2000:]
    memory = read_memory(state)
    assert memory is not None and memory.diagnostics["in_flight"] == 1
    return memory


def test_an_entry_killed_after_its_pre_send_commit_counts_as_lost_at_restart(
    tmp_path: Path,
) -> None:
    """SIGKILL just after the commit that precedes the send: the memory holds the entry in
    flight, the exchange never got it. The restart resolves it as a failed order, named."""
    memory = killed_before_send(tmp_path)  # the pre-send commit: the entry pending, in flight
    assert len(memory.pending_intents) == 1

    fake, clock = _fake(), _clock()  # the exchange as the kill left it: no order, no position
    loop, again = _start(tmp_path, fake, clock)
    try:
        accounting = _accounting()
        assert accounting["in_flight"] == 0, "an entry shown in flight for ever"
        assert accounting["order_failures_by_error"] == {"lost_at_restart": 1}
        assert accounting["entry_orders"] == 0 and accounting["identity_ok"]
        assert accounting["total_signals"] == 1
        loop.once()  # and the published view says the same
        published = json.loads((tmp_path / "intel.json").read_text())
        assert published["runtime_diagnostics"]["accounting"]["in_flight"] == 0
    finally:
        again.close()


def test_a_position_closed_on_the_exchange_while_down_is_closed_with_its_levels_on_restart(
    tmp_path: Path,
) -> None:
    fake, clock, loop, runner = _signalled(tmp_path)
    loop.once()
    assert _protected(runner, "BTCUSDT")
    runner.close()
    del fake.positions["BTCUSDT"]  # closed by hand on the exchange's site

    _, again = _start(tmp_path, fake, clock)
    try:
        assert "BTCUSDT" not in again.executor.ledger.positions
        assert again.executor.registry.get("BTCUSDT") is None, "a level left without a position"
    finally:
        again.close()


def test_sync_registry_after_a_live_engine_stops_protects_the_adopted_position_for_good(
    tmp_path: Path,
) -> None:
    fake, clock = _fake(), _clock()
    fake.positions["ETHUSDT"] = (0.5, 3_000.0)  # opened outside the engine, at the mark
    loop, runner = _start(tmp_path, fake, clock)
    loop.warm_up()
    loop.once()
    assert runner.executor.ledger.positions["ETHUSDT"].adopted
    refused = sync_registry(tmp_path, apply=True, tp_pct=0.02, sl_pct=0.01, now=clock.now())
    assert refused.refused and not refused.applied, "applied beside a running engine"
    runner.finish()
    applied = sync_registry(tmp_path, apply=True, tp_pct=0.02, sl_pct=0.01, now=clock.now())
    assert applied.applied, applied.render()

    loop, again = _start(tmp_path, fake, clock)
    try:
        loop.warm_up()
        loop.once()
        loop.reconcile()
        level = again.executor.registry.get("ETHUSDT")
        assert level is not None and level.source == "sync"
        assert _protected(again, "ETHUSDT")
    finally:
        again.finish()
    assert "ETHUSDT" in json.loads((tmp_path / TP_SL_REGISTRY_FILE).read_text())["entries"]


def test_a_live_run_on_a_replays_memory_and_a_replay_on_a_live_memory_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config()
    raw = json.loads(Path("config/strategy_config.json").read_text())
    raw["universe"] = [{"symbol": s, "tier": "core"} for s in cfg.symbols]  # the live one
    config = tmp_path / "config.json"
    config.write_text(json.dumps(raw))
    replay = tmp_path / "replay"
    assert main(["run", "--fast", "--max-bars", "300", "--state-dir", str(replay),
                 "--no-progress", "--config", str(config)]) == 0  # fmt: skip
    before = (replay / DB_FILE).read_bytes()
    client, _ = canned_client(_fake())
    assert run_live(cfg, _args(), replay, ccxt_client=client, env=ENV) == 2
    assert "replay" in capsys.readouterr().err
    assert (replay / DB_FILE).read_bytes() == before

    live = tmp_path / "live"
    client, _ = canned_client(_fake())
    assert run_live(cfg, _args(max_loops=1), live, ccxt_client=client, env=ENV) == 0
    before = (live / DB_FILE).read_bytes()
    assert main(["run", "--fast", "--max-bars", "300", "--state-dir", str(live),
                 "--no-progress", "--config", str(config)]) == 2  # fmt: skip
    assert "live" in capsys.readouterr().err
    assert (live / DB_FILE).read_bytes() == before


def test_a_live_run_on_a_replays_memory_says_so_even_when_the_replay_held_other_symbols(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default universe's replay holds symbols the live universe lacks: the refusal names
    the replay's memory, not "unknown symbols" (the replay's positions are not live's to manage)."""
    replay = tmp_path / "replay"
    assert main(["run", "--fast", "--max-bars", "3000", "--state-dir", str(replay),
                 "--no-progress"]) == 0  # fmt: skip
    held = set(json.loads((replay / "positions_ledger.json").read_text())["positions"])
    assert held - set(_config().symbols), "the scenario needs a held symbol outside live's"
    capsys.readouterr()
    client, _ = canned_client(_fake())
    assert run_live(_config(), _args(), replay, ccxt_client=client, env=ENV) == 2
    err = capsys.readouterr().err
    assert "memory of a replay" in err and "unknown symbols" not in err, err
