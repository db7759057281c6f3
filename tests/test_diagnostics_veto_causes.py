"""Every failing check of a vetoed signal: all_failing and sole, since start and in the window.

The intents are hand-made so that the set of failing checks of each is known: the decision
(``by_reason``) stays the first failing check, the causes count every one of them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from execution import diagnostics_metrics as dm
from execution.diagnostics import Diagnostics, DiagnosticsSettings
from execution.diagnostics.testing import capture_diagnostics
from execution.risk_limits import VetoReason, check_order, evaluate_intent
from execution.state_publish import write_runtime_diagnostics_state
from tests.test_risk_limits import build

R = VetoReason
T0 = 1_704_067_200.0
# (failing checks, in the documented order) of each intent, first one decides.
SEQUENCE: list[tuple[R, ...]] = [
    (R.PER_TRADE_NAV_PCT, R.PORTFOLIO_DD_CIRCUIT),  # the circuit hides behind the cap
    (R.PORTFOLIO_DD_CIRCUIT,),  # the circuit alone
    (R.PORTFOLIO_DD_CIRCUIT,),
    (R.COOLDOWN, R.PER_TRADE_NAV_PCT, R.SYMBOL_CAP),
    (),  # passes
    (R.PER_TRADE_NAV_PCT,),
]


def _evaluate(sequence: list[tuple[R, ...]]) -> None:
    for faults in sequence:
        dm.record_signal_emitted("BTCUSDT")
        evaluate_intent(*build(faults))


def test_a_veto_counts_under_every_failing_check_and_decides_on_the_first() -> None:
    with capture_diagnostics(clock=lambda: T0) as diagnostics:
        _evaluate(SEQUENCE)
        causes = diagnostics.veto_causes()
        assert diagnostics.counts_by_reason() == {
            "per_trade_nav_pct": 2,
            "portfolio_dd_circuit": 2,
            "cooldown": 1,
        }

    assert causes["all_failing"] == {
        "per_trade_nav_pct": {"BTCUSDT": 3},
        "portfolio_dd_circuit": {"BTCUSDT": 3},
        "cooldown": {"BTCUSDT": 1},
        "symbol_cap": {"BTCUSDT": 1},
    }
    # A sole blocker is distinguished from a co-blocker: the cap blocks alone once, the circuit
    # twice although it decided only two of its three vetoes.
    assert causes["sole"] == {
        "portfolio_dd_circuit": {"BTCUSDT": 2},
        "per_trade_nav_pct": {"BTCUSDT": 1},
    }
    assert causes["window"] == {
        "all_failing": {
            "per_trade_nav_pct": 3, "portfolio_dd_circuit": 3, "cooldown": 1, "symbol_cap": 1
        },
        "sole": {"portfolio_dd_circuit": 2, "per_trade_nav_pct": 1},
        "vetoed": 5,
    }  # fmt: skip


def test_the_window_causes_keep_only_the_vetoes_the_outcome_window_holds() -> None:
    small = DiagnosticsSettings(window_signals=2, window_seconds=3600.0)
    with capture_diagnostics(small, clock=lambda: T0) as diagnostics:
        # The last two outcomes (a pass that places no order has none): the cooldown with two
        # co-blockers, then the cap alone.
        _evaluate(SEQUENCE)
        causes = diagnostics.veto_causes()
    assert causes["window"] == {
        "all_failing": {"cooldown": 1, "per_trade_nav_pct": 2, "symbol_cap": 1},
        "sole": {"per_trade_nav_pct": 1},
        "vetoed": 2,
    }
    assert causes["sole"]["portfolio_dd_circuit"] == {"BTCUSDT": 2}  # since start: all of them


def test_var_is_judged_only_for_an_intent_no_earlier_check_vetoed() -> None:
    # The post-trade estimate runs at most once per intent, where the decision needs it: a
    # signal the cap vetoes is not priced, so VaR is not counted as its co-blocker.
    with capture_diagnostics(clock=lambda: T0) as diagnostics:
        _evaluate([(R.PER_TRADE_NAV_PCT, R.VAR_LIMIT), (R.VAR_LIMIT, R.CVAR_LIMIT)])
        causes = diagnostics.veto_causes()
    assert causes["all_failing"] == {
        "per_trade_nav_pct": {"BTCUSDT": 1},
        "var_limit": {"BTCUSDT": 1},
        "cvar_limit": {"BTCUSDT": 1},
    }
    assert causes["sole"] == {"per_trade_nav_pct": {"BTCUSDT": 1}}
    full = check_order(*build((R.PER_TRADE_NAV_PCT, R.VAR_LIMIT)), report_all=True)
    assert full.also_failed == (R.VAR_LIMIT,)  # asked for, the full report still prices it


def test_the_decision_is_the_same_with_and_without_the_causes() -> None:
    for faults in SEQUENCE:
        plain = check_order(*build(faults))
        reported = check_order(*build(faults), report_all=True, price_vetoed=False)
        assert (plain.vetoed, plain.reason, plain.observed, plain.limit) == (
            reported.vetoed, reported.reason, reported.observed, reported.limit,
        )  # fmt: skip


def test_disabled_diagnostics_record_no_causes() -> None:
    with capture_diagnostics(DiagnosticsSettings(enabled=False), clock=lambda: T0):
        _evaluate(SEQUENCE)
        state: dict[str, Any] = {}
        write_runtime_diagnostics_state(state)
    assert state["runtime_diagnostics"] == {"enabled": False}


def test_an_unknown_other_failing_check_is_refused_and_nothing_is_counted() -> None:
    with capture_diagnostics(clock=lambda: T0) as diagnostics:
        with pytest.raises(ValueError, match="too_risky"):
            dm.record_veto("cooldown", "BTCUSDT", ["too_risky"])
        assert diagnostics.counts_by_reason() == {}


def test_the_causes_resume_exactly_from_an_export() -> None:
    clock = lambda: T0  # noqa: E731
    first = Diagnostics(DiagnosticsSettings(window_signals=3), clock)
    first.record_veto("per_trade_nav_pct", "BTCUSDT", ["portfolio_dd_circuit"])
    first.record_veto("portfolio_dd_circuit", None)
    second = Diagnostics(DiagnosticsSettings(window_signals=3), clock)
    second.restore_state(json.loads(json.dumps(first.export_state())))  # through a file
    for d in (first, second):
        d.record_veto("cooldown", "ETHUSDT", ["symbol_cap"])
        d.record_veto("portfolio_dd_circuit", "ETHUSDT")
    assert second.snapshot() == first.snapshot()
    assert second.snapshot().veto_causes["sole"] == {
        "portfolio_dd_circuit": {"_portfolio": 1, "ETHUSDT": 1}
    }
    assert second.snapshot().veto_causes["window"]["vetoed"] == 3


def test_each_reason_keeps_the_value_and_limit_of_its_latest_veto_and_they_resume() -> None:
    with capture_diagnostics(clock=lambda: T0):
        _evaluate(SEQUENCE)
        state: dict[str, Any] = {}
        write_runtime_diagnostics_state(state)
        exported = dm.export_state()
    latest = state["runtime_diagnostics"]["veto_observed"]
    assert set(latest) == {"per_trade_nav_pct", "portfolio_dd_circuit", "cooldown"}
    decided = check_order(*build((R.PER_TRADE_NAV_PCT,)))
    assert latest["per_trade_nav_pct"]["observed"] == pytest.approx(decided.observed)
    assert latest["per_trade_nav_pct"]["limit"] == pytest.approx(decided.limit)
    assert latest["per_trade_nav_pct"]["symbol"] == "BTCUSDT"
    assert latest["cooldown"]["ts"] == "2024-01-01T00:00:00Z"
    with capture_diagnostics(clock=lambda: T0):
        dm.restore_state(json.loads(json.dumps(exported)))
        again: dict[str, Any] = {}
        write_runtime_diagnostics_state(again)
    assert again["runtime_diagnostics"]["veto_observed"] == latest
