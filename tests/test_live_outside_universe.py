"""A position the reconcile adopts on a symbol outside the universe (opened by hand before a
start whose universe lacks it, or during the run) gets its mark every loop, so the exit
scanner sees it: the under-water canary counts it at once, not only after a restart has made
its symbol exit-only. The real ccxt binanceusdm runs against the canned Binance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ccxt_canned import canned_client
from test_live_loop import ENV, _args, _config, _fake

from execution.cli.live import run_live
from execution.config import EngineConfig

OUTSIDE = "ETHUSDT"


def _btc_only() -> EngineConfig:
    cfg = _config()
    return cfg.model_copy(
        update={"universe": tuple(s for s in cfg.universe if s.symbol != OUTSIDE)}
    )


def _exit_pipeline(state: Path) -> dict[str, Any]:
    intel = json.loads((state / "intel.json").read_text())
    pipeline: dict[str, Any] = intel["runtime_diagnostics"]["exit_pipeline"]
    return pipeline


def test_a_hand_opened_position_outside_the_universe_under_water_is_counted_by_the_canary(
    tmp_path: Path,
) -> None:
    fake = _fake()
    fake.positions[OUTSIDE] = (0.5, 3_300.0)  # opened by hand, 9% under water at 3,000
    client, _ = canned_client(fake)

    assert run_live(_btc_only(), _args(max_loops=2), tmp_path, ccxt_client=client, env=ENV) == 0

    ledger = json.loads((tmp_path / "positions_ledger.json").read_text())
    assert ledger["positions"][OUTSIDE]["adopted"] is True
    pipeline = _exit_pipeline(tmp_path)
    assert (pipeline["open_positions_count"], pipeline["tp_sl_missing_count"]) == (1, 1)
    assert pipeline["underwater_without_tp_sl_count"] == 1, "the canary did not see it"
    assert not [o for o in fake.orders if o["symbol"] == OUTSIDE], "no order for it"


def test_a_hand_opened_position_outside_the_universe_above_water_is_not_under_water(
    tmp_path: Path,
) -> None:
    fake = _fake()
    fake.positions[OUTSIDE] = (0.5, 2_900.0)  # 3% in profit at 3,000
    client, _ = canned_client(fake)

    assert run_live(_btc_only(), _args(max_loops=1), tmp_path, ccxt_client=client, env=ENV) == 0

    pipeline = _exit_pipeline(tmp_path)
    assert (pipeline["tp_sl_missing_count"], pipeline["underwater_without_tp_sl_count"]) == (1, 0)
