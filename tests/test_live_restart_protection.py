"""A live engine stopped hard around an entry, then restarted on the same state dir: every
position the exchange holds is protected by TP/SL again (or counted by the canary when nothing
says where its levels are). The real ccxt binanceusdm runs against the canned Binance."""

from __future__ import annotations

import math
from pathlib import Path

from ccxt_canned import SERVER_MS, CannedBinance, canned_client
from test_live_loop import ENV, _config, _fake

from execution.clock import ReplayClock
from execution.run.live import LiveLoop
from execution.run.runner import EngineRunner, RunOptions
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


def _clock() -> ReplayClock:
    """The canned exchange's time (its bars are from 2023): a wall clock would age every intent
    past the hour after which a pending entry is given up."""
    return ReplayClock(SERVER_MS / 1000)


def _protected(runner: EngineRunner, symbol: str) -> bool:
    level = runner.executor.registry.get(symbol)
    return level is not None and math.isfinite(level.tp_price) and math.isfinite(level.sl_price)


def test_an_entry_accepted_behind_a_timeout_and_filled_before_a_kill_is_protected_on_restart(
    tmp_path: Path,
) -> None:
    """The send times out after the exchange accepted (and filled) it, and the lookups do not
    see it yet: the engine keeps the intent pending and commits it. Killed there, the restart
    finds a position it did not know: its levels are the pending intent's, not none."""
    fake, clock = _fake(), _clock()
    loop, runner = _start(tmp_path, fake, clock)
    loop.warm_up()
    _signal(fake, clock)
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
    finally:
        again.close()
