"""AppTest smoke tests of dashboard/app.py: full, empty and corrupt state dirs, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apptest_helpers import assert_clean, metrics, page_text, run_app
from state_factory import NOW, REASONS, Shape, build_state_dir, intel, write_json

from dashboard.page import TABS, TITLE
from execution.state_v7 import STATE_FILES

SUBHEADERS = (
    "Exit health — are open positions protected?",
    "Veto heatmap — why is it not trading?",
    "Open positions",
    "NAV, drawdown, VaR / CVaR vs limits",
    "Stage liveness",
    "Gating — what blocks each symbol now",
    "Accounting — every signal ends somewhere",
    "State files",
)


def test_a_full_state_dir_shows_every_panel_with_its_numbers(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    at = run_app(monkeypatch, full_state_dir)
    assert_clean(at)
    assert at.title[0].value == TITLE and [h.value for h in at.header] == ["Risk Diagnostics"]
    assert set(SUBHEADERS) <= {s.value for s in at.subheader}
    assert [t.label for t in at.tabs] == list(TABS)
    counters = intel(Shape())["runtime_diagnostics"]["veto_counters"]
    shown = metrics(at)
    assert shown["Signals"] == f"{counters['total_signals']:,}"
    assert shown["Vetoes"] == f"{counters['total_vetoes']:,}"
    assert shown["Orders"] == f"{counters['total_orders']:,}"
    rate = counters["total_vetoes"] / counters["total_signals"] * 100
    assert shown["Veto rate"] == f"{rate:.1f} %"
    assert (shown["Open positions"], shown["TP/SL missing"], shown["Underwater without TP/SL"]) == (
        "4",
        "2",
        "1",
    )
    assert shown["Last exit scan"] == "30 s ago" and shown["NAV"] == "10,123.40 USDT"


def test_the_veto_tables_and_heatmaps_list_every_reason(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    at = run_app(monkeypatch, full_state_dir)
    window, since_start = (t.value for t in at.table)
    by_reason = intel(Shape())["runtime_diagnostics"]["veto_counters"]["by_reason"]
    assert dict(zip(since_start["Reason"], since_start["Count"], strict=True)) == by_reason
    assert set(window["Reason"]) <= set(REASONS[:6])
    assert since_start["Share of total vetoes (%)"].sum() == pytest.approx(100.0, abs=0.5)
    assert len(at.get("vega_lite_chart")) == 2  # reason x symbol, reason x time


def test_an_underwater_position_without_tp_sl_turns_exit_health_red(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    at = run_app(monkeypatch, full_state_dir)
    red = [e for e in at.error if "Exit pipeline" in e.value]
    assert red and red[0].proto.icon == "🔴"
    assert "1 underwater position(s) without TP/SL" in red[0].value
    assert any("ETHUSDT, XRPUSDT" in w.value for w in at.warning)


def test_a_fully_protected_book_is_green(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    data = json.loads((full_state_dir / "intel.json").read_text())
    data["runtime_diagnostics"]["exit_pipeline"].update(
        tp_sl_missing_count=0, underwater_without_tp_sl_count=0
    )
    write_json(full_state_dir / "intel.json", data)
    registry = json.loads((full_state_dir / "tp_sl_registry.json").read_text())
    for symbol, side, tp, sl in (
        ("ETHUSDT", "long", 3100.0, 2800.0),
        ("XRPUSDT", "long", 0.63, 0.58),
    ):
        registry["entries"][symbol] = {
            "symbol": symbol,
            "side": side,
            "tp_price": tp,
            "sl_price": sl,
        }
    write_json(full_state_dir / "tp_sl_registry.json", registry)
    at = run_app(monkeypatch, full_state_dir)
    green = [s for s in at.success if s.value.startswith("Exit pipeline healthy")]
    assert green and green[0].proto.icon == "🟢"


def test_engine_counts_saying_protected_stay_red_while_the_files_show_no_tp_sl(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    data = json.loads((full_state_dir / "intel.json").read_text())
    data["runtime_diagnostics"]["exit_pipeline"].update(
        tp_sl_missing_count=0, underwater_without_tp_sl_count=0
    )
    write_json(full_state_dir / "intel.json", data)
    at = run_app(monkeypatch, full_state_dir)
    assert not [s for s in at.success if s.value.startswith("Exit pipeline healthy")]
    red = [e for e in at.error if e.value.startswith("Exit pipeline needs attention")]
    assert red and "ETHUSDT, XRPUSDT" in red[0].value


def test_an_empty_dir_names_every_missing_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    at = run_app(monkeypatch, tmp_path)
    assert_clean(at)
    assert [h.value for h in at.header] == ["Risk Diagnostics"]
    banner = at.error[0].value
    assert str(tmp_path) in banner and all(name in banner for name in STATE_FILES)
    assert any("No veto diagnostics: intel.json: missing" in w.value for w in at.warning)


CORRUPTIONS = {
    "truncated intel": ("intel.json", '{"schema_version": 1, "runtime_diagnostics": {"veto_co'),
    "garbage intel": ("intel.json", "\x00\x01 not json at all"),
    "empty positions": ("positions_state.json", ""),
    "list for an object": ("risk_snapshot.json", "[1, 2, 3]"),
    "positions is a string": ("positions_state.json", '{"schema_version": 1, "positions": "x"}'),
    "ledger positions is a list": (
        "positions_ledger.json",
        '{"schema_version": 1, "positions": [1]}',
    ),
    "registry entries is a string": (
        "tp_sl_registry.json",
        '{"schema_version": 1, "entries": "x"}',
    ),
}


@pytest.mark.parametrize(("name", "content"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_corrupt_file_is_named_and_the_rest_still_renders(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path, name: str, content: str
) -> None:
    (full_state_dir / name).write_text(content)
    at = run_app(monkeypatch, full_state_dir)
    assert_clean(at)
    assert any(w.value.startswith(f"State file {name}: ") for w in at.warning)
    assert [h.value for h in at.header] == ["Risk Diagnostics"]
    assert "NAV, drawdown, VaR / CVaR vs limits" in {s.value for s in at.subheader}


WRONG_TYPES = {
    "diagnostics sections are lists": {
        "veto_counters": [],
        "exit_pipeline": [],
        "heatmap": [],
        "window": [],
        "liveness": [],
        "accounting": [],
    },  # fmt: skip
    "values are strings": {
        "veto_counters": {"by_reason": "x", "total_signals": "80"},
        "exit_pipeline": {"open_positions_count": "3", "last_exit_scan_ts": 5},
        "heatmap": {
            "by_reason_symbol": {"r": "x"},
            "by_reason_time": {"r": {"bad": 1}},
            "bucket_seconds": "x",
        },
        "liveness": {"stages": {"risk": "x"}, "gating": {"A": "x"}},
        "accounting": {"total_signals": None},
    },  # fmt: skip
    "nulls everywhere": {
        "veto_counters": None,
        "exit_pipeline": None,
        "heatmap": None,
        "liveness": None,
    },
}


@pytest.mark.parametrize("diag", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_wrong_types_inside_runtime_diagnostics_never_raise(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path, diag: dict[str, object]
) -> None:
    data = json.loads((full_state_dir / "intel.json").read_text())
    data["runtime_diagnostics"] = {"enabled": True, **diag}
    data["engine"] = {"mode": 7, "config": "x", "symbols": "x", "running": "yes"}
    data["bad_bars"] = "x"
    write_json(full_state_dir / "intel.json", data)
    positions = {
        "schema_version": 1,
        "positions": ["x", {"symbol": None, "entry_price": "1", "mark_price": 0}],
    }
    write_json(full_state_dir / "positions_state.json", positions)
    write_json(
        full_state_dir / "risk_snapshot.json",
        {"nav": 1, "limits": [], "var": "x", "drawdown_pct": None},
    )
    assert_clean(run_app(monkeypatch, full_state_dir))


def test_disabled_diagnostics_say_so(monkeypatch: pytest.MonkeyPatch, full_state_dir: Path) -> None:
    data = json.loads((full_state_dir / "intel.json").read_text())
    data["runtime_diagnostics"] = {"enabled": False}
    write_json(full_state_dir / "intel.json", data)
    at = run_app(monkeypatch, full_state_dir)
    assert_clean(at)
    assert any("diagnostics.enabled: false" in i.value for i in at.info)


def test_a_live_engine_that_stopped_publishing_is_flagged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state_dir = build_state_dir(tmp_path, Shape(mode="live", now=NOW))  # NOW is long past
    at = run_app(monkeypatch, state_dir)
    assert any("is the engine still alive?" in e.value for e in at.error)
    assert any("last exit scan" in e.value and e.proto.icon == "🔴" for e in at.error)


def test_nothing_that_looks_like_a_secret_reaches_the_page(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    monkeypatch.setenv("V7_API_KEY", "k3yValueThatMustNeverShow")
    at = run_app(monkeypatch, full_state_dir)
    text = page_text(at)
    assert "k3yValueThatMustNeverShow" not in text and "V7_API_KEY" not in text
    assert "ABCDEF0123456789" not in text  # the router's last_error carries apiKey=...


def test_the_spec_named_panel_functions_load_state_themselves(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("V7_STATE_DIR", str(full_state_dir))
    script = (
        "from dashboard.risk_panel import render_exit_pipeline_status, render_veto_heatmap\n"
        "render_veto_heatmap()\nrender_exit_pipeline_status()\n"
    )
    at = AppTest.from_string(script, default_timeout=30).run()
    assert not at.exception
    assert metrics(at)["Open positions"] == "4" and len(at.table) == 2


def test_the_time_heatmap_covers_the_whole_run_when_the_engine_publishes_its_timeline(
    monkeypatch: pytest.MonkeyPatch, full_state_dir: Path
) -> None:
    data = json.loads((full_state_dir / "intel.json").read_text())
    data["runtime_diagnostics"]["veto_timeline"] = {
        "bucket_seconds": 38_400.0,
        "by_reason_time": {
            "cooldown": {"2024-01-01T00:00:00Z": 3},
            "portfolio_dd_circuit": {"2024-01-09T10:40:00Z": 412, "2024-02-04T00:00:00Z": 9},
        },
    }
    write_json(full_state_dir / "intel.json", data)
    at = run_app(monkeypatch, full_state_dir)
    assert_clean(at)
    assert any("Every veto since the engine started" in c.value for c in at.caption)
    assert not any("The engine keeps the last" in c.value for c in at.caption)


def test_a_state_dir_an_interrupted_fresh_left_half_moved_says_so_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The engine refuses to start there, and the views left from before would not say why."""
    state = build_state_dir(tmp_path / "state", Shape())
    (state / "backup-20261207T094057Z.incomplete").mkdir()
    at = run_app(monkeypatch, state)
    assert_clean(at)
    first = at.error[0].value
    assert "backup-20261207T094057Z.incomplete" in first and "v7 run --fresh" in first
