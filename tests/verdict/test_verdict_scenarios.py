"""The scenario suite: state dirs whose answer is known, each read on the three surfaces
(`v7 doctor`, the dashboard in AppTest, /metrics), plus one test that all three agree on
every dir, hand-made and from real engine runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from apptest_helpers import page_text, run_app
from verdict_scenarios import BY_NAME, SCENARIOS, Expected
from verdict_surfaces import Answer, dashboard_answer, doctor_answer, metrics_answer

from doctor.verdict import read_verdict

ROOT = Path(__file__).resolve().parents[2]
SURFACES: dict[str, Callable[[Path], Answer]] = {
    "doctor": doctor_answer,
    "dashboard": dashboard_answer,
    "metrics": metrics_answer,
}


@pytest.fixture(scope="module")
def scenario_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("scenarios")
    return {s.name: s.build(base / s.name) for s in SCENARIOS}


@pytest.fixture(scope="module")
def answers(scenario_dirs: dict[str, Path]) -> dict[tuple[str, str], Answer]:
    """Each surface's answer for each scenario, read once (AppTest is the slow one)."""
    return {
        (name, surface): read(directory)
        for name, directory in scenario_dirs.items()
        for surface, read in SURFACES.items()
    }


def _expected(expected: Expected) -> Answer:
    return {
        "trading": expected.trading,
        "protection": expected.protection,
        "unprotected": expected.unprotected,
    }


def _check(name: str, answers: dict[tuple[str, str], Answer], dirs: dict[str, Path]) -> None:
    scenario = BY_NAME[name]
    want = _expected(scenario.expected)
    for surface in SURFACES:
        assert answers[(name, surface)] == want, f"{surface} on {name}"
    verdict = read_verdict(dirs[name])
    for text in scenario.detail_has:
        assert text in verdict.trading.detail
    for text in scenario.protection_has:
        assert text in verdict.protection.detail


def _scenario_test(name: str) -> Callable[..., None]:
    def test(answers: dict[tuple[str, str], Answer], scenario_dirs: dict[str, Path]) -> None:
        _check(name, answers, scenario_dirs)

    test.__name__ = f"test_{name}"
    test.__doc__ = f"Scenario {name}: doctor, dashboard and /metrics give the known answer."
    return test


# One test per scenario, named after it (test_halt_file_present, test_lost_registry_entry, ...).
for _scenario in SCENARIOS:
    globals()[f"test_{_scenario.name}"] = _scenario_test(_scenario.name)


def test_there_are_at_least_twenty_scenarios() -> None:
    assert len(SCENARIOS) >= 20


# --- dirs from real engine runs -----------------------------------------------------------------


def _v7_run(state_dir: Path, *args: str) -> None:
    exe = shutil.which("v7", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "execution.cli"]
    run = subprocess.run(
        [*cmd, "run", "--fast", "--no-progress", "--state-dir", str(state_dir), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr


@pytest.fixture(scope="module")
def engine_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A short default replay, and one whose sizing is bold enough for the circuit to trip."""
    base = tmp_path_factory.mktemp("engine")
    dirs = {"short_replay": base / "short", "circuit_replay": base / "circuit"}
    _v7_run(dirs["short_replay"], "--max-bars", "3000")
    bold = json.loads((ROOT / "config" / "strategy_config.json").read_text(encoding="utf-8"))
    bold["strategy"]["risk_per_trade_nav_pct"] = 0.0005  # five times the shipped risk per trade
    (base / "bold.json").write_text(json.dumps(bold), encoding="utf-8")
    _v7_run(dirs["circuit_replay"], "--max-bars", "100000", "--config", str(base / "bold.json"))
    return dirs


def test_a_replay_that_trips_the_circuit_says_so_on_every_surface(
    engine_dirs: dict[str, Path],
) -> None:
    directory = engine_dirs["circuit_replay"]
    for surface, read in SURFACES.items():
        answer = read(directory)
        assert answer["trading"] == ("not_trading", "portfolio_dd_circuit", "critical"), surface
    detail = read_verdict(directory).trading.detail
    assert "≥ circuit 8.00%" in detail


def test_the_three_surfaces_agree_on_every_state_dir(
    answers: dict[tuple[str, str], Answer],
    scenario_dirs: dict[str, Path],
    engine_dirs: dict[str, Path],
) -> None:
    every = {**{(n, s): a for (n, s), a in answers.items()}}
    for name, directory in engine_dirs.items():
        for surface, read in SURFACES.items():
            every[(name, surface)] = read(directory)
    names = {name for name, _ in every}
    assert len(names) >= len(SCENARIOS) + 2
    for name in sorted(names):
        doctor = every[(name, "doctor")]
        for surface in ("dashboard", "metrics"):
            assert every[(name, surface)] == doctor, f"{surface} disagrees with doctor on {name}"


def test_the_dashboard_names_the_position_liquidated_before_its_stop_in_its_table(
    scenario_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(monkeypatch, scenario_dirs["liquidation_price_before_the_stop"])
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "Liq. price" in d.value.columns)
    btc = table.set_index("Symbol").loc["BTCUSDT"]
    assert btc["Protection"] == "🔴 liquidation before SL" and btc["Liq. price"] == "59,100.00"
    assert btc["Leverage"] == 50.0 and btc["Funding"] == -0.42
    text = page_text(at)
    assert "liquidated before its stop: BTCUSDT long liquidates at 59,100, stop 58,800" in text
