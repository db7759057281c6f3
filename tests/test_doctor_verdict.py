"""The verdict's pure parts: exact figures, the root cause, the sample it is measured on."""

from __future__ import annotations

import json
from pathlib import Path

import doctor_state_factory as f

from doctor.cli import run_doctor
from doctor.verdict_causes import VetoSample, exact_pcts, root_cause, veto_sample


def _sample(first: dict[str, int], sole: dict[str, int], every: dict[str, int]) -> VetoSample:
    n = sum(first.values())
    return VetoSample("window", n, n, 0, first, sole, every)


def test_a_drawdown_just_under_the_circuit_never_prints_as_the_limit() -> None:
    assert exact_pcts(0.0797, 0.08) == ("7.97%", "8.00%")
    value, limit = exact_pcts(0.079999, 0.08)
    assert value != limit and value.startswith("7.9999")
    assert exact_pcts(0.08, 0.08) == ("8.00%", "8.00%")


def test_a_sole_blocker_beats_a_co_blocker_that_failed_first_more_often() -> None:
    sample = _sample(
        {"per_trade_nav_pct": 30, "portfolio_dd_circuit": 10},
        {"portfolio_dd_circuit": 10},
        {"per_trade_nav_pct": 30, "portfolio_dd_circuit": 40},
    )
    assert root_cause(sample) == "portfolio_dd_circuit"


def test_without_recorded_causes_the_most_frequent_first_failing_reason_is_the_cause() -> None:
    assert root_cause(_sample({"cooldown": 3, "symbol_cap": 9}, {}, {})) == "symbol_cap"
    assert root_cause(_sample({}, {}, {})) is None


def test_a_window_of_four_signals_falls_back_to_the_counts_since_start() -> None:
    diag = f.healthy_state()["intel.json"]["runtime_diagnostics"]
    diag["window"].update(signals=4, vetoes=4, orders=0, by_reason={"cooldown": 4})
    sample = veto_sample(diag, min_signals=10)
    assert sample.source == "since start" and sample.signals == 40
    assert veto_sample(diag, min_signals=4).source == "window"


def test_the_doctor_prints_both_answers_before_the_findings(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, f.underwater_without_tp_sl)
    code, text = run_doctor(state_dir, as_json=False, config_path=None)
    lines = text.splitlines()
    assert lines[1].startswith("OK        trading: trading")
    protection = next(i for i, line in enumerate(lines) if "protection:" in line)
    assert lines[protection].startswith("CRITICAL  protection: unprotected")
    assert protection < next(i for i, line in enumerate(lines) if line.startswith("STATUS"))
    assert code == 2
    _, as_json = run_doctor(state_dir, as_json=True, config_path=None)
    assert json.loads(as_json)["verdict"]["protection"]["unprotected"] == ["SOLUSDT"]


def test_a_sizing_veto_quotes_what_the_strategy_asked_against_the_cap() -> None:
    from doctor.verdict_causes import explain

    risk = {"limits": {"per_trade_nav_pct": 0.10}}
    diag = {
        "veto_observed": {
            "per_trade_nav_pct": {
                "observed": 0.2731,
                "limit": 0.10,
                "symbol": "BTC-PERP",
                "ts": "2024-01-05T10:00:00Z",
            }
        }
    }
    detail, hint = explain("per_trade_nav_pct", risk, diag)
    assert detail == (
        "the strategy asks 27.31% of NAV per trade (BTC-PERP, latest at 2024-01-05T10:00:00Z),"
        " the cap is 10%"
    )
    assert "risk_per_trade_nav_pct" in hint
    old_engine, _ = explain("per_trade_nav_pct", risk, {})  # no observed values published
    assert old_engine == "the strategy asks more than 10% of NAV per trade, the cap is 10%"


def test_a_cooldown_says_when_it_ends() -> None:
    from doctor.verdict_causes import explain

    diag = {
        "veto_observed": {
            "cooldown": {
                "observed": 900.0,
                "limit": 0.0,
                "symbol": "ETHUSDT",
                "ts": "2024-01-05T10:00:00Z",
            }
        }
    }
    detail, _ = explain("cooldown", {"limits": {}}, diag)
    assert detail.endswith("ends at 2024-01-05T10:15:00Z")
