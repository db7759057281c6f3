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


def test_heatmap_charts_are_rect_marks_ordered_by_total() -> None:
    frame = charts.symbol_heatmap_frame({"a": {"X": 1, "Y": 9}, "b": {"X": 20}})
    spec = charts.symbol_heatmap_chart(frame).to_dict()
    assert spec["mark"]["type"] == "rect"
    assert spec["encoding"]["x"]["sort"] == ["X", "Y"]
    assert spec["encoding"]["y"]["sort"] == ["b", "a"]
    times = charts.time_heatmap_frame({"a": {"2024-01-01T00:00:00Z": 2}}, 300.0)
    time_spec = charts.time_heatmap_chart(times).to_dict()
    assert (
        time_spec["mark"]["type"] == "rect" and time_spec["encoding"]["x2"]["field"] == "bucket_end"
    )


def test_the_other_column_sorts_last() -> None:
    frame = pd.DataFrame(
        {"reason": ["r", "r"], "symbol": ["other (5 symbols)", "A"], "count": [99, 1]}
    )
    spec = charts.symbol_heatmap_chart(frame).to_dict()
    assert spec["encoding"]["x"]["sort"] == ["A", "other (5 symbols)"]
