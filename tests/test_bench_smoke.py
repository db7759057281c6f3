"""bench/ stays runnable: modules import, tiny runs give sane figures, run_all survives a missing
module, and the fill rules docs/performance.md states still hold (a few seconds in all)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("run_all", "common", "bench_replay", "bench_vs_backtesting", "bench_scaling")
OURS += ("bench_publish", "fill_rules", "same_trades", "vs_trades")


def _bench(name: str) -> ModuleType:
    if str(ROOT) not in sys.path:  # bench/ is not an installed package
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"bench.{name}")


@pytest.mark.parametrize("name", OURS)
def test_every_bench_module_imports(name: str) -> None:
    module = _bench(name)
    if name.startswith("bench_"):
        assert callable(module.run)


def test_a_small_replay_benchmark_reports_bars_per_second() -> None:
    result = _bench("bench_replay").run(small=True)
    assert result["bars"] == 20_000
    assert result["bars_per_s"] > 0
    assert result["strategy"] == "ema_cross_atr"
    row = result["headline"][0]
    assert row["unit"] == "bars/s" and row["figure"] == result["bars_per_s"]


def test_the_whole_publish_bench_publishes_a_replayed_engine_before_it_finishes() -> None:
    """The runner's final publish closes the store: the bench times publishes before it."""
    result = _bench("bench_publish").time_engine_publish(2, 20)
    assert result["calls"] == 2 and result["bars_replayed"] == 200 * 20
    assert result["p99_ms"] >= result["p50_ms"] > 0
    assert "paper_exchange.json" in result["file_bytes"]


def test_v7_and_backtesting_make_the_same_trades_on_synthetic_bars() -> None:
    result = _bench("bench_vs_backtesting").run(small=True)
    trades = result["trades"]
    assert result["v7_vetoes"] == 0
    assert trades["v7_trades"] > 20
    assert trades["matched"] == trades["v7_trades"] == trades["backtesting_trades"]
    assert result["v7_bars_per_s"] > 0 and result["backtesting_bars_per_s"] > 0


def test_each_documented_fill_rule_case_still_comes_out_as_documented() -> None:
    fill_rules = _bench("fill_rules")
    for name, case in fill_rules.CASES.items():
        outcome = fill_rules.run_case(case)
        assert outcome["same"] is case.expect_same, (name, outcome["v7"], outcome["backtesting"])


def test_run_all_skips_a_missing_module_and_prints_every_row() -> None:
    run_all = _bench("run_all")
    result, status = run_all.run_one("nope", "bench.bench_does_not_exist")
    assert result is None and status == "skipped: module not present"
    lines: list[str] = []
    rows = [
        {"name": "replay", "figure": 123456.0, "unit": "bars/s", "target": ">= 1", "ratio": 2.5},
        {"name": "nope: skipped", "figure": None, "target": "-"},
    ]
    run_all.print_table(rows, lines.append)
    assert len(lines) == 4 and "123,456 bars/s" in lines[2] and "2.50" in lines[2]
    check_order = {"cases": {"20": {"p50_us": 10.0, "p99_us": 20.0}}, "target_p99_us_at_20": 100}
    (row,) = run_all.headline_rows("check_order", check_order)
    assert row["ratio"] == pytest.approx(0.2)


def test_same_trades_reports_an_added_summary_key_as_a_note_and_a_changed_one_as_a_difference() -> (
    None
):
    from bench.same_trades import added_keys, differences

    before = {"case": {"summary": {"fills": 3, "pnl": 1.0}, "fills_sha256": "a"}}
    grown = {"case": {"summary": {"fills": 3, "pnl": 1.0, "report": {}}, "fills_sha256": "a"}}
    assert differences(before, grown) == []
    assert added_keys(before, grown) == ["case: summary gained report"]
    moved = {"case": {"summary": {"fills": 3, "pnl": 2.0}, "fills_sha256": "b"}}
    assert differences(before, moved) == [
        "case: summary differs (pnl)",
        "case: fills_sha256 differs",
    ]
    lost = {"case": {"summary": {"fills": 3}, "fills_sha256": "a"}}
    assert differences(before, lost) == ["case: summary differs (pnl)"]


def test_tiling_a_csv_gives_one_longer_valid_series_of_the_same_symbol(tmp_path: Path) -> None:
    from execution.market.bars import load_csv_dir

    source = tmp_path / "src" / "SYNTH-1m.csv"
    source.parent.mkdir()
    rows = [f"{60_000 * i},10,11,9,10.5,1" for i in range(5)]
    source.write_text("ts,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    out = tmp_path / "tiled"
    assert _bench("bench_length").tile_csv(source, out, 3) == 15
    series, rejects = load_csv_dir(out)
    assert len(series["SYNTH"]) == 15 and rejects.total == 0


def test_length_bench_child_replays_a_small_file_and_reports_its_own_peak_rss(
    tmp_path: Path,
) -> None:
    _bench("bench_vs_backtesting")._write_synthetic_csv(tmp_path, 400)
    child = _bench("bench_length").spawn(tmp_path)
    assert child["bars"] == 400
    assert child["peak_rss_mb"] >= child["rss_after_load_mb"] > 0


def test_a_speed_verdict_is_given_only_when_the_spread_is_on_one_side_of_one() -> None:
    pairs = _bench("pairs")
    assert pairs.verdict([1.2, 1.3, 1.1], "v7 faster", "bt faster") == "v7 faster (every pair)"
    assert pairs.verdict([0.9, 1.3, 1.2, 1.25, 1.4], "v7 faster", "bt faster") == "v7 faster (IQR)"
    assert pairs.verdict([0.8, 1.3, 1.0, 0.9], "v7 faster", "bt faster").startswith("no verdict")
    assert pairs.verdict([2.0], "v7 faster", "bt faster").startswith("no verdict")
    stats = pairs.ratio_stats([1.0, 2.0, 3.0], target=2.0)
    assert stats["median"] == 2.0 and stats["target_met"] is False


def test_a_cost_budget_is_kept_or_missed_only_when_the_pairs_spread_is_on_one_side_of_it() -> None:
    pairs = _bench("pairs")
    # The diagnostics pairs of one `make bench` run: a median of +4.9 % inside -1.7..+7.7.
    scattered = [1.064, 0.981, 0.948, 1.08, 1.25, 1.165, 1.135, 0.986, 0.985, 0.995]
    assert pairs.budget_verdict(scattered, 3.0) == "no verdict: the spread straddles 3%"
    assert pairs.budget_verdict([1.01, 1.02, 1.025, 1.03], 3.0) == "within 3% (IQR)"
    assert pairs.budget_verdict([1.1, 1.12, 1.2, 1.0], 5.0) == "over 5% (IQR)"
    assert pairs.budget_verdict([1.0, 1.0], 5.0).startswith("no verdict: 2 pair")
