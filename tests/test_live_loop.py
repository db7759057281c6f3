"""`v7 run --live` against the real ccxt binanceusdm class on a canned Binance (no network).

ccxt builds and signs every request and parses every answer; only its HTTP session is fake.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pytest
from ccxt_canned import (
    API_KEY,
    API_SECRET,
    SERVER_MS,
    CannedBinance,
    canned_client,
    leaked_secrets,
)

from execution import diagnostics_metrics as diag
from execution.cli.live import run_live
from execution.clock import WallClock
from execution.config import EngineConfig, load_config
from execution.run.live import LiveLoop
from execution.run.runner import EngineRunner, RunOptions
from execution.venues.ccxt_venue import CcxtExchange

ENV = {"V7_API_KEY": API_KEY, "V7_API_SECRET": API_SECRET}


def _config() -> EngineConfig:
    raw = json.loads(Path("config/strategy_config.json").read_text())
    raw["universe"] = [{"symbol": "BTCUSDT", "tier": "core"}, {"symbol": "ETHUSDT", "tier": "core"}]
    raw["exchange"]["name"] = "binanceusdm"
    raw["strategy"].update(fast=3, slow=8, atr_period=3, risk_per_trade_nav_pct=None,
                           notional_nav_pct=0.05)  # fmt: skip
    raw["risk"].update(per_trade_nav_pct=1.0, symbol_cap_nav_pct=1.0, var_limit_nav_pct=1.0,
                       cvar_limit_nav_pct=1.0, min_returns=10, lookback_bars=50)  # fmt: skip
    raw["publish"]["min_interval_seconds"] = 0
    from execution.config import parse_config

    return parse_config(raw)


def _args(**kw: object) -> argparse.Namespace:
    base = {
        "testnet": False,
        "yes": True,
        "poll": 0.0,
        "max_loops": 3,
        "max_bars": None,
        "fresh": False,
    }
    return argparse.Namespace(**(base | kw))


def _fake() -> CannedBinance:
    fake = CannedBinance()
    flat = [60_300.0 - 5 * i for i in range(60)]  # drifting down: the fast EMA ends below
    fake.set_klines("BTCUSDT", SERVER_MS - 60 * 60_000, flat)
    fake.set_klines("ETHUSDT", SERVER_MS - 60 * 60_000, [3_000.0 + (i % 2) for i in range(60)])
    return fake


def test_whole_live_loop_adopts_flags_publishes_and_never_leaks_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = _fake()
    fake.positions["ETHUSDT"] = (0.5, 3_300.0)  # opened outside the engine, 9% under water
    client, _ = canned_client(fake)
    code = run_live(_config(), _args(), tmp_path, ccxt_client=client, env=ENV)
    assert code == 0
    intel = json.loads((tmp_path / "intel.json").read_text())
    assert intel["engine"]["mode"] == "live" and intel["engine"]["running"] is False
    exit_pipeline = intel["runtime_diagnostics"]["exit_pipeline"]
    assert exit_pipeline["open_positions_count"] == 1
    assert exit_pipeline["tp_sl_missing_count"] == 1
    assert exit_pipeline["underwater_without_tp_sl_count"] == 1
    ledger = json.loads((tmp_path / "positions_ledger.json").read_text())
    assert ledger["positions"]["ETHUSDT"]["adopted"] is True
    assert intel["runtime_diagnostics"]["liveness"]["loop_count"] == 3
    out = capsys.readouterr()
    texts = [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.iterdir() if p.is_file()]
    texts += [caplog.text, out.out, out.err]
    assert all(not leaked_secrets(t) for t in texts)


def _loop(tmp_path: Path, fake: CannedBinance) -> tuple[LiveLoop, EngineRunner]:
    cfg = _config()
    client, _ = canned_client(fake)
    clock = WallClock()
    exchange = CcxtExchange.from_config(cfg, clock, env=ENV, ccxt_client=client)
    exchange.load_markets()
    runner = EngineRunner(cfg, RunOptions("live", "live:test"), tmp_path, clock, lambda s: exchange)
    return LiveLoop(runner, exchange, 0.0), runner


def test_a_live_signal_becomes_one_order_and_the_stop_loss_closes_it(tmp_path: Path) -> None:
    fake = _fake()
    loop, runner = _loop(tmp_path, fake)
    loop.warm_up()
    rows = fake.klines["BTCUSDT"]
    last_t = rows[-1][0]
    closes = [60_000.0 + 400 * i for i in range(1, 6)]
    fake.set_klines("BTCUSDT", last_t + 60_000, closes)
    fake.marks["BTCUSDT"] = closes[-1]
    loop.once()
    entries = [o for o in fake.orders if o["clientOrderId"].startswith("v7e")]
    assert len(entries) == 1 and entries[0]["side"] == "BUY"
    ex = runner.executor
    assert "BTCUSDT" in ex.ledger.positions
    level = ex.registry.get("BTCUSDT")
    assert level is not None and level.sl_price < closes[-1] < level.tp_price
    fake.marks["BTCUSDT"] = level.sl_price * 0.999  # the mark crosses the stop
    loop.once()
    exits = [o for o in fake.orders if o["clientOrderId"].startswith("v7x")]
    assert len(exits) == 1 and exits[0]["reduceOnly"] is True
    assert "BTCUSDT" not in ex.ledger.positions
    assert diag.build_runtime_diagnostics_snapshot().exit_triggers_by_kind == {"sl": 1}


def test_missing_keys_refuse_to_start_and_write_nothing(tmp_path: Path) -> None:
    client, _ = canned_client(_fake(), keys=False)
    state = tmp_path / "state"
    assert run_live(_config(), _args(), state, ccxt_client=client, env={}) == 2
    assert not state.exists()


def test_unknown_symbol_or_no_confirmation_is_exit_2(tmp_path: Path) -> None:
    cfg = _config()
    bad = cfg.model_copy(
        update={
            "universe": (*cfg.universe, cfg.universe[0].model_copy(update={"symbol": "NOPEUSDT"}))
        }
    )
    client, _ = canned_client(_fake())
    assert run_live(bad, _args(), tmp_path / "a", ccxt_client=client, env=ENV) == 2
    client, _ = canned_client(_fake())
    code = run_live(cfg, _args(yes=False), tmp_path / "b", ccxt_client=client, env=ENV,
                    ask=lambda prompt: "no")  # fmt: skip
    assert code == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_default_config_still_loads_for_live() -> None:
    assert load_config("config/strategy_config.json").exchange.api_key_env == "V7_API_KEY"
