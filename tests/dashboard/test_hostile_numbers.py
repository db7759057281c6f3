"""Numbers the engine never writes, inside well-typed intel.json sections: a count of 1e308 or
10**29, a bucket width of 1e308, a bucket time past pandas' year 2262. Each panel that reads one
still draws (the value reads as absent), so no panel is replaced by "could not be drawn"."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apptest_helpers import assert_clean, run_app
from state_factory import write_json

from dashboard import charts

Diag = dict[str, Any]


def _veto_count(diag: Diag, value: object) -> None:
    reason = next(iter(diag["veto_counters"]["by_reason"]))
    diag["veto_counters"]["by_reason"][reason] = value


def _stage_errors(diag: Diag, value: object) -> None:
    diag["liveness"]["stages"]["screener"]["error_count"] = value


def _bucket_width(diag: Diag, value: object) -> None:
    diag["heatmap"]["bucket_seconds"] = value
    diag.pop("veto_timeline", None)  # the heatmap's own buckets are drawn


def _bucket_time_past_2262(diag: Diag, value: object) -> None:
    reason = next(iter(diag["heatmap"]["by_reason_time"]))
    diag["heatmap"]["by_reason_time"][reason]["2999-01-01T00:00:00Z"] = 3
    diag.pop("veto_timeline", None)


CASES: dict[str, tuple[Callable[[Diag, object], None], object]] = {
    "veto_count_1e308": (_veto_count, 1e308),
    "veto_count_of_30_digits": (_veto_count, 10**29),
    "stage_error_count_1e308": (_stage_errors, 1e308),
    "bucket_seconds_1e308": (_bucket_width, 1e308),
    "bucket_seconds_minus_1e308": (_bucket_width, -1e308),
    "bucket_time_past_2262": (_bucket_time_past_2262, None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_number_the_engine_never_writes_leaves_every_panel_drawn(
    case: str, monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    data = json.loads((full_state_dir / "intel.json").read_text())
    damage, value = CASES[case]
    damage(data["runtime_diagnostics"], value)
    write_json(full_state_dir / "intel.json", data)
    assert_clean(run_app(monkeypatch, full_state_dir))


def test_thousands_of_reasons_fold_into_the_busiest_forty_and_one_other_row() -> None:
    matrix = {f"r{i:03d}": {"BTCUSDT": i + 1} for i in range(100)}
    folded = charts.fold_reasons(matrix)
    assert len(folded) == charts.MAX_REASONS + 1
    assert folded["other (60 reasons)"] == {"BTCUSDT": sum(range(1, 61))}
    assert sum(m["BTCUSDT"] for m in folded.values()) == sum(range(1, 101))
    table = charts.veto_table({r: m["BTCUSDT"] for r, m in matrix.items()})
    assert len(table) == charts.MAX_REASONS + 1 and table[charts.COUNT].sum() == sum(range(1, 101))


def test_an_intel_json_with_200000_veto_reasons_still_draws_the_risk_panel(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    """The engine writes about fifteen reasons; 200,000 took a minute to chart, then failed."""
    data = json.loads((full_state_dir / "intel.json").read_text())
    diag = data["runtime_diagnostics"]
    many = range(200_000)
    diag["veto_counters"]["by_reason"] = {f"r{i}": 1 for i in many}
    diag["heatmap"]["by_reason_symbol"] = {f"r{i}": {"BTCUSDT": 1} for i in many}
    write_json(full_state_dir / "intel.json", data)
    assert_clean(run_app(monkeypatch, full_state_dir))
