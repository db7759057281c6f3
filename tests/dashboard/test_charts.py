"""Veto tables, totals and the heatmap builders."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import charts


def test_veto_table_gives_reason_count_and_share_most_frequent_first() -> None:
    table = charts.veto_table({"symbol_cap": 12, "max_concurrent": 40, "var_limit": 0})
    assert list(table.columns) == ["Reason", "Count", "Share of total vetoes (%)"]
    assert table.to_dict("records") == [
        {"Reason": "max_concurrent", "Count": 40, "Share of total vetoes (%)": 76.9},
        {"Reason": "symbol_cap", "Count": 12, "Share of total vetoes (%)": 23.1},
    ]


def test_veto_table_ties_are_alphabetical_and_bad_counts_are_dropped() -> None:
    table = charts.veto_table({"b": 5, "a": 5, "junk": "x", "neg": -3})
    assert table["Reason"].tolist() == ["a", "b"]
    assert table["Share of total vetoes (%)"].tolist() == [50.0, 50.0]


@pytest.mark.parametrize("by_reason", [{}, None, "x", [1, 2], {"a": 0}])
def test_veto_table_is_empty_without_vetoes(by_reason: object) -> None:
    table = charts.veto_table(by_reason)
    assert table.empty and list(table.columns) == charts.VETO_TABLE_COLUMNS


def test_veto_rate_is_vetoes_over_signals() -> None:
    assert charts.veto_rate(52, 80) == 0.65
    assert charts.veto_rate(0, 0) is None


def test_totals_read_the_spec_counters() -> None:
    totals = charts.veto_totals({"total_signals": 80, "total_vetoes": 52, "total_orders": 50})
    assert (totals.signals, totals.vetoes, totals.orders, totals.veto_rate) == (80, 52, 50, 0.65)
    assert charts.veto_totals("garbage") == charts.VetoTotals(0, 0, 0, None)


def test_dominant_reason_and_its_share() -> None:
    assert charts.dominant_reason({"max_concurrent": 80, "symbol_cap": 20}) == (
        "max_concurrent",
        0.8,
    )
    assert charts.dominant_reason({}) is None


def test_symbol_heatmap_frame_is_long_form_with_portfolio_label() -> None:
    frame = charts.symbol_heatmap_frame(
        {"max_concurrent": {"BTCUSDT": 10, "_portfolio": 3, "ETHUSDT": 0}}
    )
    assert sorted(frame.itertuples(index=False, name=None)) == [
        ("max_concurrent", "(portfolio)", 3),
        ("max_concurrent", "BTCUSDT", 10),
    ]


def test_symbols_beyond_the_top_n_are_summed_into_one_column() -> None:
    matrix = {"r1": {f"S{i}": i + 1 for i in range(10)}, "r2": {"S0": 5}}
    frame = charts.symbol_heatmap_frame(matrix, top_n=3)
    assert set(frame["symbol"]) == {"S9", "S8", "S7", "other (7 symbols)"}
    other = frame[frame["symbol"] == "other (7 symbols)"].set_index("reason")["count"]
    assert other.to_dict() == {"r1": sum(range(1, 8)), "r2": 5}
    assert frame["count"].sum() == sum(range(1, 11)) + 5  # nothing is lost


def test_time_heatmap_frame_has_bucket_bounds_and_drops_bad_keys() -> None:
    frame = charts.time_heatmap_frame(
        {
            "max_concurrent": {
                "2024-01-01T10:00:00Z": 28,
                "2024-01-01T09:00:00Z": 12,
                "not a time": 5,
            }
        },
        bucket_seconds=3600.0,
    )
    assert frame["count"].tolist() == [12, 28]
    assert frame["bucket"].iloc[0] == pd.Timestamp("2024-01-01T09:00:00Z")
    assert frame["bucket_end"].iloc[0] == pd.Timestamp("2024-01-01T10:00:00Z")


def test_empty_heatmap_frames_keep_their_columns() -> None:
    assert list(charts.symbol_heatmap_frame({}).columns) == ["reason", "symbol", "count"]
    assert list(charts.time_heatmap_frame(None, 60.0).columns) == [
        "reason",
        "bucket",
        "bucket_end",
        "count",
    ]


def test_heatmap_charts_are_rect_marks_ordered_by_total_with_counts_in_cells() -> None:
    frame = charts.symbol_heatmap_frame({"a": {"X": 1, "Y": 9}, "b": {"X": 20}})
    rect, text = charts.symbol_heatmap_chart(frame).to_dict()["layer"]
    assert rect["mark"]["type"] == "rect" and text["mark"]["type"] == "text"
    assert rect["encoding"]["x"]["sort"] == ["X", "Y"]
    assert rect["encoding"]["y"]["sort"] == ["b", "a"]
    assert text["encoding"]["text"]["field"] == "count"
    assert rect["encoding"]["color"]["scale"]["type"] == "log"
    times = charts.time_heatmap_frame({"a": {"2024-01-01T00:00:00Z": 2}}, 300.0)
    time_rect = charts.time_heatmap_chart(times).to_dict()["layer"][0]
    assert (
        time_rect["mark"]["type"] == "rect" and time_rect["encoding"]["x2"]["field"] == "bucket_end"
    )


def _hourly(n: int) -> pd.DataFrame:
    start = 1_704_067_200
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    keys = {
        pd.Timestamp(start + 3600 * i, unit="s", tz="UTC").strftime(stamp): i + 1 for i in range(n)
    }
    return charts.time_heatmap_frame(
        {"cooldown": keys, "tier_block": {next(iter(keys)): 5}}, 3600.0
    )


def test_a_long_run_is_merged_into_a_bounded_number_of_columns_keeping_every_veto() -> None:
    frame = _hourly(24 * 35)
    merged = charts.merge_time_buckets(frame, max_columns=48)
    assert merged["bucket"].nunique() <= 48
    assert merged["count"].sum() == frame["count"].sum()
    widths = (merged["bucket_end"] - merged["bucket"]).unique()
    assert len(widths) == 1 and widths[0].total_seconds() % 3600 == 0
    assert charts.merge_time_buckets(_hourly(10), max_columns=48)["bucket"].nunique() == 10


def test_the_time_axis_spans_the_whole_run_marks_the_stop_and_ticks_no_closer_than_a_column() -> (
    None
):
    merged = charts.merge_time_buckets(_hourly(24 * 35), max_columns=48)
    span = (1_704_067_200.0, 1_704_067_200.0 + 35 * 86400)
    spec = charts.time_heatmap_chart(merged, span, stopped_at=1_704_067_200.0 + 9 * 86400).to_dict()
    rect, _text, stop = spec["layer"]
    assert rect["encoding"]["x"]["scale"]["domain"] == [span[0] * 1000, span[1] * 1000]
    column_ms = (merged["bucket_end"] - merged["bucket"]).iloc[0].total_seconds() * 1000
    assert rect["encoding"]["x"]["axis"]["tickMinStep"] >= column_ms
    assert [layer["mark"]["type"] for layer in stop["layer"]] == ["rule", "text"]


def test_the_other_column_sorts_last() -> None:
    frame = pd.DataFrame(
        {"reason": ["r", "r"], "symbol": ["other (5 symbols)", "A"], "count": [99, 1]}
    )
    spec = charts.symbol_heatmap_chart(frame).to_dict()["layer"][0]
    assert spec["encoding"]["x"]["sort"] == ["A", "other (5 symbols)"]
