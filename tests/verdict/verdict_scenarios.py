"""State dirs whose verdict is known: the healthy baseline of tests/doctor_state_factory.py with
one situation applied, and the answer an operator should read for it.

Each ``Scenario`` says what both questions must answer (status, reason, severity); the
scenario suite checks it on `v7 doctor`, the dashboard and /metrics.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import doctor_state_factory as f

from execution.clock import to_iso

State = f.State
Mutator = Callable[[State], None]


@dataclass(frozen=True)
class Expected:
    """What the verdict must say: (status, reason, severity) and (status, severity)."""

    trading: tuple[str, str | None, str]
    protection: tuple[str, str]
    unprotected: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    mutators: tuple[Mutator, ...]
    expected: Expected
    halt_file: bool = False
    extra: Callable[[Path], None] | None = None
    detail_has: tuple[str, ...] = field(default_factory=tuple)
    protection_has: tuple[str, ...] = field(default_factory=tuple)

    def build(self, directory: Path) -> Path:
        state = copy.deepcopy(f.healthy_state())
        for mutate in self.mutators:
            mutate(state)
        f.write_state(directory, state)
        if self.halt_file:
            (directory / "HALT").write_text("", encoding="utf-8")
        if self.extra is not None:
            self.extra(directory)
        return directory


def _diag(state: State) -> dict[str, Any]:
    return state["intel.json"]["runtime_diagnostics"]


def all_vetoed_by(reason: str, n: int = 40) -> Mutator:
    """The window: n signals, every one vetoed by ``reason`` (first failing), no order."""

    def mutate(state: State) -> None:
        _diag(state)["window"].update(
            signals=n, vetoes=n, orders=0, order_failures=0, by_reason={reason: n}
        )

    mutate.__name__ = f"all_vetoed_by_{reason}"
    return mutate


def mostly_vetoed_by_per_trade_nav_pct(state: State) -> None:
    """The real-data case: 95 % of signals vetoed on sizing since start, a few orders."""
    window = _diag(state)["window"]
    window.update(signals=4, vetoes=4, orders=0, by_reason={"per_trade_nav_pct": 4})
    _diag(state)["veto_counters"].update(
        total_signals=1770, total_vetoes=1683,
        by_reason={"per_trade_nav_pct": 1679, "cooldown": 4},
    )  # fmt: skip
    _diag(state)["accounting"].update(total_signals=1770, total_vetoes=1683, entry_orders=87)


def sole_blocker_beats_first_failing(state: State) -> None:
    """per_trade_nav_pct fails first on 30 signals, but max_concurrent fails on all 40 and
    alone on 10: max_concurrent is the root cause."""
    _diag(state)["window"].update(
        signals=40, vetoes=40, orders=0,
        by_reason={"per_trade_nav_pct": 30, "max_concurrent": 10},
    )  # fmt: skip
    _diag(state)["veto_causes"] = {
        "all_failing": {"per_trade_nav_pct": {"BTCUSDT": 30}, "max_concurrent": {"BTCUSDT": 40}},
        "sole": {"max_concurrent": {"BTCUSDT": 10}},
        "window": {
            "all_failing": {"per_trade_nav_pct": 30, "max_concurrent": 40},
            "sole": {"max_concurrent": 10},
            "vetoed": 40,
        },
    }


def two_reasons_without_causes(state: State) -> None:
    _diag(state)["window"].update(
        signals=40, vetoes=40, orders=0, by_reason={"symbol_cap": 25, "var_limit": 15}
    )


def no_signals(state: State) -> None:
    _diag(state)["veto_counters"]["last_signal_ts"] = f.ago(7200)
    _diag(state)["window"].update(signals=0, vetoes=0, orders=0, by_reason={})


def live_stopped(state: State) -> None:
    state["intel.json"]["engine"].update(mode="live", running=False)


def flat(state: State) -> None:
    state["positions_state.json"]["positions"] = []
    state["positions_ledger.json"]["positions"] = {}
    state["tp_sl_registry.json"]["entries"] = {}
    _diag(state)["exit_pipeline"].update(open_positions_count=0, tp_sl_registered_count=0)
    state["risk_snapshot.json"]["open_positions"] = 0


def live_alive_now(state: State) -> None:
    """A live engine that published a few seconds ago (wall clock)."""
    now = time.time()
    stamp = to_iso(now - 5)
    state["intel.json"].update(updated_ts=stamp)
    state["intel.json"]["engine"].update(mode="live", running=True)
    _diag(state)["exit_pipeline"]["last_exit_scan_ts"] = stamp
    _diag(state)["veto_counters"]["last_signal_ts"] = stamp
    for stage in _diag(state)["liveness"]["stages"].values():
        stage["last_success_ts"] = stamp


def scanner_an_hour_old(state: State) -> None:
    stamp = to_iso(time.time() - 3600)
    _diag(state)["exit_pipeline"]["last_exit_scan_ts"] = stamp
    _diag(state)["liveness"]["stages"]["exit_scanner"]["last_success_ts"] = stamp


def lost_registry_entry(state: State) -> None:
    del state["tp_sl_registry.json"]["entries"]["ETHUSDT"]


def nan_levels(state: State) -> None:
    state["tp_sl_registry.json"]["entries"]["BTCUSDT"]["sl_price"] = math.nan


def drawdown(dd: float, dd_state: str = "warn") -> Mutator:
    def mutate(state: State) -> None:
        mode = "OK" if dd_state == "normal" else "DEFENSIVE"
        state["risk_snapshot.json"].update(drawdown_pct=dd, dd_state=dd_state, risk_mode=mode)

    return mutate


def all_marks_stale(state: State) -> None:
    symbols = state["intel.json"]["engine"]["symbols"]
    _diag(state)["liveness"]["gating"] = {s: ["stale_mark"] for s in symbols}


def diagnostics_disabled(state: State) -> None:
    state["intel.json"]["runtime_diagnostics"] = {"enabled": False}


def perps_margin_columns(state: State) -> None:
    """Perpetuals at 10x: each liquidation price lies beyond its stop (the stop fills first)."""
    liquidations = {"BTCUSDT": 54_300.0, "ETHUSDT": 3_285.0}
    for row in state["positions_state.json"]["positions"]:
        liq, mark = liquidations[row["symbol"]], row["mark_price"]
        distance = (mark - liq) / mark if row["side"] == "long" else (liq - mark) / mark
        row.update(
            leverage=10.0, margin=row["qty"] * row["entry_price"] / 10, liquidation_price=liq,
            liquidation_distance_pct=round(distance, 6), funding=-0.42,
        )  # fmt: skip
    _diag(state)["exit_pipeline"]["liquidation_before_stop_count"] = 0


def btc_at_50x_liquidates_before_its_stop(state: State) -> None:
    """BTCUSDT long at 50x: liquidation at 59,100, its stop at 58,800 is never reached."""
    perps_margin_columns(state)
    btc = state["positions_state.json"]["positions"][0]
    distance = round((btc["mark_price"] - 59_100.0) / btc["mark_price"], 6)
    btc.update(leverage=50.0, margin=12.0, liquidation_price=59_100.0,
               liquidation_distance_pct=distance)  # fmt: skip
    _diag(state)["exit_pipeline"]["liquidation_before_stop_count"] = 1


def positions_state_unreadable(directory: Path) -> None:
    (directory / "positions_state.json").write_text('{"schema_version": 1, "pos', "utf-8")


def _corrupt_ledger(directory: Path) -> None:
    (directory / "positions_ledger.json").write_text('{"schema_version": 1, "posi', "utf-8")


def _no_intel(directory: Path) -> None:
    (directory / "intel.json").unlink()


OK_P = ("protected", "ok")
CRIT_P = ("unprotected", "critical")

VETO_REASONS = (
    "tier_block", "stale_mark", "cooldown", "min_notional", "per_trade_nav_pct",
    "max_concurrent", "symbol_cap", "var_limit", "cvar_limit", "trading_halted",
)  # fmt: skip

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy", (), Expected(("trading", None, "ok"), OK_P)),
    *(
        Scenario(
            f"{reason}_blocks_every_signal",
            (all_vetoed_by(reason),),
            Expected(("not_trading", reason, "warn"), OK_P),
        )
        for reason in VETO_REASONS
    ),
    Scenario(
        "per_trade_nav_pct_vetoes_95_percent_since_start",
        (mostly_vetoed_by_per_trade_nav_pct,),
        Expected(("slowed", "per_trade_nav_pct", "warn"), OK_P),
        detail_has=("1,683 of 1,770",),
    ),
    Scenario(
        "sole_blocker_beats_the_first_failing_check",
        (sole_blocker_beats_first_failing,),
        Expected(("not_trading", "max_concurrent", "warn"), OK_P),
    ),
    Scenario(
        "two_reasons_the_larger_wins",
        (two_reasons_without_causes,),
        Expected(("not_trading", "symbol_cap", "warn"), OK_P),
    ),
    Scenario(
        "no_signals_for_two_hours",
        (no_signals,),
        Expected(("not_trading", "no_signals", "warn"), OK_P),
    ),
    Scenario(
        "engine_down_with_open_positions",
        (live_stopped,),
        Expected(("engine_down", "engine_down", "critical"), CRIT_P, ("BTCUSDT", "ETHUSDT")),
    ),
    Scenario(
        "engine_down_flat",
        (live_stopped, flat),
        Expected(("engine_down", "engine_down", "warn"), OK_P),
    ),
    Scenario(
        "engine_hung_says_running_but_silent",
        (f.live_engine_hung,),
        Expected(("engine_down", "engine_down", "critical"), CRIT_P, ("BTCUSDT", "ETHUSDT")),
    ),
    Scenario(
        "stale_exit_scanner_on_a_live_engine",
        (live_alive_now, scanner_an_hour_old),
        Expected(("trading", None, "ok"), CRIT_P, ("BTCUSDT", "ETHUSDT")),
    ),
    Scenario(
        "lost_registry_entry",
        (lost_registry_entry,),
        Expected(("trading", None, "ok"), CRIT_P, ("ETHUSDT",)),
    ),
    Scenario(
        "nan_stop_loss_level",
        (nan_levels,),
        Expected(("trading", None, "ok"), CRIT_P, ("BTCUSDT",)),
    ),
    Scenario(
        "perpetuals_with_stops_in_front_of_liquidation",
        (perps_margin_columns,),
        Expected(("trading", None, "ok"), OK_P),
    ),
    Scenario(
        "liquidation_price_before_the_stop",
        (btc_at_50x_liquidates_before_its_stop,),
        Expected(("trading", None, "ok"), CRIT_P, ("BTCUSDT",)),
        protection_has=("BTCUSDT long liquidates at 59,100", "stop 58,800"),
    ),
    Scenario(
        "engine_counts_liquidation_before_stop_but_positions_state_unreadable",
        (btc_at_50x_liquidates_before_its_stop,),
        Expected(("trading", None, "ok"), ("unknown", "critical")),
        extra=positions_state_unreadable,
    ),
    Scenario(
        "drawdown_circuit_tripped",
        (drawdown(0.0831), all_vetoed_by("per_trade_nav_pct")),
        Expected(("not_trading", "portfolio_dd_circuit", "critical"), OK_P),
        detail_has=("8.31% ≥ circuit 8.00%",),
    ),
    Scenario(
        "drawdown_just_under_the_circuit_still_trades",
        (drawdown(0.0797),),
        Expected(("trading", None, "ok"), OK_P),
    ),
    Scenario(
        "drawdown_panic_halts_entries",
        (drawdown(0.16, "panic"),),
        Expected(("not_trading", "trading_halted", "critical"), OK_P),
        detail_has=("16.00% ≥ panic 15.00%",),
    ),
    Scenario(
        "halt_file_present",
        (),
        Expected(("not_trading", "halted", "critical"), OK_P),
        halt_file=True,
    ),
    Scenario(
        "stale_marks_on_every_symbol",
        (all_marks_stale,),
        Expected(("not_trading", "stale_data", "critical"), OK_P),
    ),
    Scenario(
        "diagnostics_disabled",
        (diagnostics_disabled,),
        Expected(("unknown", None, "warn"), ("unknown", "warn")),
    ),
    Scenario(
        "intel_missing",
        (),
        Expected(("unknown", None, "warn"), ("unknown", "warn")),
        extra=_no_intel,
    ),
    Scenario(
        "corrupt_ledger",
        (),
        Expected(("trading", None, "ok"), ("unknown", "critical")),
        extra=_corrupt_ledger,
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}
