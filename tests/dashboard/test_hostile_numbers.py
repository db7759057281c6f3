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
