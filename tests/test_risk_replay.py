"""Risk in the running engine: a tight-limits replay, the HALT file, exits in DEFENSIVE/panic.

Exits are never vetoed: a reduce-only order (TP/SL, or the close before a reversal) never goes
through check_order, so it still fills while entries are vetoed by trading_halted or
portfolio_dd_circuit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from execution import diagnostics_metrics as diag
from execution.clock import ReplayClock
from execution.config import EngineConfig, load_config
from execution.executor_live import Executor
from execution.risk_limits import VetoReason, check_order
from execution.state_publish import write_risk_snapshot
from execution.state_snapshots import risk_snapshot
from execution.types import Intent, Side
from execution.venues.paper import PaperExchange

ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = ROOT / "config" / "strategy_config.json"
REASONS = {r.value for r in VetoReason}


def _replay(tmp_path: Path, risk: dict[str, Any], *, halt: bool = False) -> dict[str, Any]:
    """Run ``v7 run --fast`` on the synthetic data with ``risk`` overrides; return its summary."""
    cfg = json.loads(BASE_CONFIG.read_text(encoding="utf-8"))
    cfg["risk"].update(risk)
    cfg["strategy"]["risk_per_trade_nav_pct"] = 0.0005  # sized boldly, so every limit is reached
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()
    if halt:
        (state / "HALT").touch()
    cmd = [
        sys.executable, "-m", "execution.cli", "run", "--fast", "--max-bars", "7000",
        "--config", str(path), "--state-dir", str(state), "--json-summary", "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    summary: dict[str, Any] = json.loads(done.stdout)
    summary["risk_snapshot"] = json.loads((state / "risk_snapshot.json").read_text())
    return summary


TIGHT = {
    "min_notional": 400.0,
    "max_concurrent": 2,
    "symbol_cap_nav_pct": 0.08,
    "var_limit_nav_pct": 0.0005,
    "cvar_limit_nav_pct": 0.0006,
}


@pytest.mark.slow
def test_a_replay_with_tight_limits_vetoes_for_at_least_five_reasons_and_still_exits(
    tmp_path: Path,
) -> None:
    s = _replay(tmp_path, TIGHT)
    by_reason = s["vetoes_by_reason"]
    assert len(by_reason) >= 5, by_reason
    assert set(by_reason) <= REASONS
    assert sum(by_reason.values()) == s["vetoes"]
    assert sum(s["exits_by_kind"].values()) > 0 and s["exits_by_kind"].get("sl", 0) > 0
    assert s["identity_ok"] is True
    snap = s["risk_snapshot"]
    assert snap["limits"]["var_limit_nav_pct"] == 0.0005
    assert snap["var_status"] in ("ok", "insufficient_data")


@pytest.mark.slow
def test_a_replay_that_reaches_drawdown_panic_halts_entries_but_closes_every_position(
    tmp_path: Path,
) -> None:
    s = _replay(tmp_path, {"dd_warn_pct": 0.0003, "dd_circuit_pct": 0.0008, "dd_panic_pct": 0.001})
    assert s["vetoes_by_reason"].get("trading_halted", 0) > 0
    assert s["open_positions"] == 0
    assert s["orders_by_kind"]["exit"] == s["orders_by_kind"]["entry"]  # each entry got out
    snap = s["risk_snapshot"]
    assert (snap["dd_state"], snap["risk_mode"], snap["trading_halted"]) == (
        "panic",
        "DEFENSIVE",
        True,
    )


@pytest.mark.slow
def test_a_halt_file_in_the_state_dir_vetoes_every_entry_as_trading_halted(
    tmp_path: Path,
) -> None:
    s = _replay(tmp_path, {}, halt=True)
    assert set(s["vetoes_by_reason"]) == {"trading_halted"}
    assert s["vetoes"] == s["signals"] > 0
    assert s["orders_by_kind"].get("entry", 0) == 0
    assert s["risk_snapshot"]["trading_halted"] is True


# --- engine level: exits pass in DEFENSIVE / panic ---------------------------------------------

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
BTC, ETH = 0, 1  # indexes in the default universe


class Engine:
    def __init__(self) -> None:
        self.cfg: EngineConfig = load_config(BASE_CONFIG)
        self.clock = ReplayClock(T0)
        self.exchange = PaperExchange.from_config(self.cfg, self.clock)
        self.ex = Executor(self.cfg, self.exchange, self.clock, strict=True)
        self.t = T0

    def bar(self, btc: tuple[float, float, float, float], eth: float = 3_000.0) -> None:
        """Advance one minute and step a BTC bar (o, h, l, c) and a flat ETH bar."""
        self.t += 60.0
        self.clock.set(self.t)
        o, h, lo, c = btc
        self.ex.step([(BTC, self.t, o, h, lo, c, 1.0), (ETH, self.t, eth, eth, eth, eth, 1.0)])

    def intent(self, symbol: str, side: Side, ref: float, tp: float, sl: float) -> Intent:
        return Intent(
            f"{symbol}:{int(self.t)}:{side.value}", symbol, side, 500.0, ref, tp, sl, self.t
        )

    def open_btc_long(self) -> None:
        self.bar((60_000.0, 60_000.0, 60_000.0, 60_000.0))
        self.ex.handle_intent(self.intent("BTCUSDT", Side.LONG, 60_000.0, 63_000.0, 59_000.0))
        self.bar((60_000.0, 60_100.0, 59_900.0, 60_050.0))  # the entry fills at this open
        assert "BTCUSDT" in self.ex.ledger.positions
        assert self.ex.registry.get("BTCUSDT") is not None

    def force_drawdown(self, dd: float) -> None:
        self.ex.book.peak_nav = self.ex.book.nav / (1.0 - dd)


@pytest.fixture
def engine() -> Engine:
    diag.reset_diagnostics()
    return Engine()


def test_stop_loss_fills_in_drawdown_panic_while_new_entries_are_halted(engine: Engine) -> None:
    engine.open_btc_long()
    engine.force_drawdown(0.30)
    dd = engine.ex.book.drawdown()
    assert (dd.dd_state, dd.risk_mode) == ("panic", "DEFENSIVE")

    engine.ex.handle_intent(engine.intent("ETHUSDT", Side.LONG, 3_000.0, 3_100.0, 2_950.0))
    assert diag.build_runtime_diagnostics_snapshot().veto_counters.by_reason == {
        "trading_halted": 1
    }

    sl = engine.ex.registry.get("BTCUSDT")
    assert sl is not None
    engine.bar((59_800.0, 59_850.0, 58_000.0, 58_200.0))  # the low crosses the stop
    assert engine.ex.ledger.positions == {}
    assert engine.exchange.positions() == {}
    snap = diag.build_runtime_diagnostics_snapshot()
    assert snap.exit_triggers_by_kind == {"sl": 1}
    # The vetoed ETH entry never reached the venue: one entry order, BTC's.
    assert snap.accounting["orders_by_kind"].get("entry") == 1


def test_a_reversal_closes_the_position_under_the_dd_circuit_but_the_new_entry_is_vetoed(
    engine: Engine,
) -> None:
    engine.open_btc_long()
    engine.force_drawdown(0.10)  # circuit (8%) <= dd < panic (15%)
    assert engine.ex.book.drawdown().dd_state == "warn"

    engine.ex.handle_intent(engine.intent("BTCUSDT", Side.SHORT, 60_050.0, 57_000.0, 61_000.0))
    snap = diag.build_runtime_diagnostics_snapshot()
    assert snap.veto_counters.by_reason == {"portfolio_dd_circuit": 1}
    assert snap.exit_triggers_by_kind == {"signal": 1}

    engine.bar((60_040.0, 60_060.0, 60_000.0, 60_020.0))  # the reduce-only close fills
    assert engine.ex.ledger.positions == {}
    assert engine.exchange.positions() == {}


def test_risk_snapshot_publishes_drawdown_state_and_says_when_var_is_skipped(
    engine: Engine, tmp_path: Path
) -> None:
    engine.open_btc_long()  # two bars: far fewer returns than min_returns (50)
    snap = risk_snapshot(engine.ex, engine.clock.now())
    assert snap["open_positions"] == 1
    assert (snap["var"], snap["cvar"], snap["var_status"]) == (None, None, "insufficient_data")
    assert snap["var_returns"] < engine.cfg.risk.min_returns
    assert (snap["dd_state"], snap["risk_mode"], snap["trading_halted"]) == ("normal", "OK", False)

    engine.force_drawdown(0.06)
    write_risk_snapshot(risk_snapshot(engine.ex, engine.clock.now()), tmp_path)
    published = json.loads((tmp_path / "risk_snapshot.json").read_text())
    assert (published["dd_state"], published["risk_mode"]) == ("warn", "DEFENSIVE")
    assert published["drawdown_pct"] == pytest.approx(0.06)
    assert published["var_status"] == "insufficient_data"
    assert published["limits"]["dd_panic_pct"] == engine.cfg.risk.dd_panic_pct


def test_an_entry_that_passes_with_too_few_returns_says_var_was_skipped(engine: Engine) -> None:
    engine.bar((60_000.0, 60_000.0, 60_000.0, 60_000.0))
    view = engine.ex.book.view(engine.ex.ledger.positions.values(), engine.clock.now())
    intent = engine.intent("BTCUSDT", Side.LONG, 60_000.0, 63_000.0, 59_000.0)
    result = check_order(intent, view, engine.ex.limits)
    assert not result.vetoed
    assert result.detail.startswith("var_limit, cvar_limit skipped: insufficient_data")
