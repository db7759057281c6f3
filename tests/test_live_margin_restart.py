"""A live engine restarted, while it holds a position, with a config whose ``perps.margin_mode``
was edited: Binance refuses to change the margin type of a symbol holding a position (-4048),
and the start must go on to manage that position's exits, the position keeping its mode.

The restart goes through `v7 run --live`'s own start (``run_live``): the real ccxt binanceusdm
against the canned Binance, which refuses such a change as Binance does.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from ccxt_canned import CannedBinance, canned_client
from test_live_loop import ENV, _args, _config, _fake
from test_live_restart_dropped_symbol import start_as_run_live
from test_live_restart_protection import _clock, _signal

from execution.cli.live import run_live
from execution.config import EngineConfig
from execution.store import read_closed_trades


def _with_margin_mode(mode: str) -> EngineConfig:
    cfg = _config()
    return cfg.model_copy(update={"perps": cfg.perps.model_copy(update={"margin_mode": mode})})


def _long_btc_in_isolated_margin(state: Path) -> tuple[CannedBinance, float]:
    """A first live run over ``state`` (isolated margin) that goes long BTCUSDT with its TP/SL,
    then stops; return the exchange as it left it and the position's stop."""
    fake, clock = _fake(), _clock()
    fake.margin_types.update({"BTCUSDT": "ISOLATED", "ETHUSDT": "ISOLATED"})
    loop = start_as_run_live(state, fake, clock)
    loop.warm_up()
    _signal(fake, clock)
    loop.once()
    level = loop.runner.executor.registry.get("BTCUSDT")
    assert "BTCUSDT" in fake.positions and level is not None
    loop.runner.finish()
    return fake, level.sl_price


def test_a_restart_in_cross_margin_holding_an_isolated_position_starts_and_fires_its_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, stop = _long_btc_in_isolated_margin(tmp_path)
    fake.marks["BTCUSDT"] = stop * 0.999  # the mark is below the stop when the engine is back
    client, _ = canned_client(fake)
    caplog.set_level(logging.WARNING)

    code = run_live(_with_margin_mode("cross"), _args(max_loops=2), tmp_path,
                    ccxt_client=client, env=ENV)  # fmt: skip

    assert code == 0, "the refusal to change the margin type failed the start"
    assert "BTCUSDT: holds a position, so its margin stays isolated (not cross)" in caplog.text
    assert fake.margin_types == {"BTCUSDT": "ISOLATED", "ETHUSDT": "CROSSED"}
    assert set(fake.leverage_by_symbol) == {"BTCUSDT", "ETHUSDT"}, "leverage is still set"
    exits = [o for o in fake.orders if o["clientOrderId"].startswith("v7x")]
    assert [(o["symbol"], o["side"], o["reduceOnly"]) for o in exits] == [("BTCUSDT", "SELL", True)]
    assert "BTCUSDT" not in fake.positions
    (trade,) = read_closed_trades(tmp_path, "BTCUSDT")
    assert trade["exit_reason"] == "sl"


def test_any_other_refusal_of_the_margin_type_still_fails_the_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = _fake()
    fake.fail("POST", "/fapi/v1/marginType", "open_orders")  # -4047: not a held position
    client, _ = canned_client(fake)

    code = run_live(_with_margin_mode("isolated"), _args(), tmp_path, ccxt_client=client, env=ENV)

    assert code == 1
    assert "cannot set margin mode and leverage" in capsys.readouterr().err
    assert not fake.orders and not fake.leverage_by_symbol
