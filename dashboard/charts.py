"""Pure builders for the veto views: heatmap frames, Altair heatmaps, veto tables, totals.

Nothing here touches Streamlit or files: input is decoded ``runtime_diagnostics`` data, output
is a DataFrame, an Altair chart or a small dataclass, so every function is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd

from dashboard.coerce import as_count, as_dict, count_map, nested_count_map, parse_ts

REASON = "Reason"
COUNT = "Count"
SHARE = "Share of total vetoes (%)"
VETO_TABLE_COLUMNS = [REASON, COUNT, SHARE]

# The symbol heatmap shows the busiest symbols; the rest are summed into one column so the
# chart stays readable (and fast) with 200 symbols. Tables are never truncated.
DEFAULT_TOP_SYMBOLS = 40
PORTFOLIO_KEY = "_portfolio"
PORTFOLIO_LABEL = "(portfolio)"


@dataclass(frozen=True)
class VetoTotals:
    """Cumulative counters since the engine started (spec §5.1 veto_counters)."""

    signals: int
    vetoes: int
    orders: int
    veto_rate: float | None  # vetoes / signals; None before the first signal


def veto_rate(vetoes: int, signals: int) -> float | None:
    """Return vetoes / signals, or None when there were no signals."""
    return vetoes / signals if signals > 0 else None


def veto_totals(veto_counters: Any) -> VetoTotals:
    """Read total_signals / total_vetoes / total_orders and derive the veto rate."""
    vc = as_dict(veto_counters)
    signals = as_count(vc.get("total_signals"))
    vetoes = as_count(vc.get("total_vetoes"))
    return VetoTotals(signals, vetoes, as_count(vc.get("total_orders")), veto_rate(vetoes, signals))


def veto_table(by_reason: Any) -> pd.DataFrame:
    """Build Reason / Count / Share of total vetoes (%), most frequent first."""
    counts = {reason: n for reason, n in count_map(by_reason).items() if n > 0}
    total = sum(counts.values())
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    frame = pd.DataFrame(rows, columns=[REASON, COUNT])
    frame[SHARE] = (frame[COUNT] * 100.0 / total).round(1) if total else []
    return frame.astype({COUNT: "int64", SHARE: "float64"}).reset_index(drop=True)


def dominant_reason(by_reason: Any) -> tuple[str, float] | None:
    """Return the most frequent veto reason and its share (0..1), or None with no vetoes."""
    table = veto_table(by_reason)
    if table.empty:
        return None
    return str(table[REASON].iloc[0]), float(table[SHARE].iloc[0]) / 100.0


def _symbol_label(symbol: str) -> str:
    return PORTFOLIO_LABEL if symbol == PORTFOLIO_KEY else symbol


def symbol_heatmap_frame(by_reason_symbol: Any, top_n: int = DEFAULT_TOP_SYMBOLS) -> pd.DataFrame:
    """Long frame (reason, symbol, count) of vetoes by reason x symbol.

    Symbols beyond the ``top_n`` busiest are summed into one "other (K symbols)" column.
    """
    matrix = nested_count_map(by_reason_symbol)
    totals: dict[str, int] = {}
    for per_symbol in matrix.values():
        for symbol, n in per_symbol.items():
            totals[symbol] = totals.get(symbol, 0) + n
    ranked = sorted((s for s, n in totals.items() if n > 0), key=lambda s: (-totals[s], s))
    kept = set(ranked[:top_n])
    other = f"other ({len(ranked) - len(kept)} symbols)"
    cells: dict[tuple[str, str], int] = {}
    for reason, per_symbol in matrix.items():
        for symbol, n in per_symbol.items():
            if n <= 0:
                continue
            column = _symbol_label(symbol) if symbol in kept else other
            cells[(reason, column)] = cells.get((reason, column), 0) + n
    rows = [(reason, symbol, n) for (reason, symbol), n in cells.items()]
    return pd.DataFrame(rows, columns=["reason", "symbol", "count"]).astype({"count": "int64"})


def time_heatmap_frame(by_reason_time: Any, bucket_seconds: float) -> pd.DataFrame:
    """Long frame (reason, bucket, bucket_end, count) of vetoes by reason x time bucket.

    Bucket keys are ISO times of the bucket start; unparsable keys are dropped.
    """
    rows = []
    for reason, per_bucket in nested_count_map(by_reason_time).items():
        for key, n in per_bucket.items():
            start = parse_ts(key)
            if start is not None and n > 0:
                rows.append((reason, start, start + bucket_seconds, n))
    frame = pd.DataFrame(rows, columns=["reason", "bucket", "bucket_end", "count"])
    for column in ("bucket", "bucket_end"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame.astype({"count": "int64"}).sort_values(["bucket", "reason"], ignore_index=True)


def _order_by_total(frame: pd.DataFrame, column: str) -> list[str]:
    totals = frame.groupby(column, sort=False)["count"].sum()
    ordered = sorted(totals.index, key=lambda k: (str(k).startswith("other ("), -totals[k], k))
    return [str(k) for k in ordered]


def _reason_axis(frame: pd.DataFrame) -> alt.Y:
    return alt.Y(
        "reason:N",
        title="Veto reason",
        sort=_order_by_total(frame, "reason"),
        axis=alt.Axis(labelLimit=240),
    )


def _color() -> alt.Color:
    return alt.Color(
        "count:Q", title="Vetoes", scale=alt.Scale(scheme="orangered", type="sqrt", zero=True)
    )


def symbol_heatmap_chart(frame: pd.DataFrame) -> alt.Chart:
    """Altair mark_rect heatmap: reasons (rows) x symbols (columns), busiest first."""
    return (
        alt.Chart(frame, title="Vetoes by reason x symbol")
        .mark_rect()
        .encode(
            x=alt.X(
                "symbol:N",
                title="Symbol",
                sort=_order_by_total(frame, "symbol"),
                axis=alt.Axis(labelAngle=-45, labelLimit=160),
            ),
            y=_reason_axis(frame),
            color=_color(),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("symbol:N", title="Symbol"),
                alt.Tooltip("count:Q", title="Vetoes"),
            ],
        )
        .properties(height=alt.Step(22))
    )


def time_heatmap_chart(frame: pd.DataFrame) -> alt.Chart:
    """Altair mark_rect heatmap: reasons (rows) x time buckets (UTC), one rect per bucket."""
    return (
        alt.Chart(frame, title="Vetoes by reason x time (UTC)")
        .mark_rect()
        .encode(
            x=alt.X("bucket:T", title="Time bucket (UTC)", axis=alt.Axis(format="%m-%d %H:%M")),
            x2="bucket_end:T",
            y=_reason_axis(frame),
            color=_color(),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("bucket:T", title="Bucket start", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("count:Q", title="Vetoes"),
            ],
        )
        .properties(height=alt.Step(22))
    )
