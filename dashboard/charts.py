"""Pure builders for the veto views: heatmap frames, Altair heatmaps, veto tables, totals.

Nothing here touches Streamlit or files: input is decoded ``runtime_diagnostics`` data, output
is a DataFrame, an Altair chart or a small dataclass, so every function is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import altair as alt
import pandas as pd

from dashboard.coerce import as_count, as_dict, count_map, nested_count_map, parse_ts

REASON = "Reason"
COUNT = "Count"
SHARE = "Share of total vetoes (%)"
VETO_TABLE_COLUMNS = [REASON, COUNT, SHARE]

# The symbol heatmap shows the busiest symbols; the rest are summed into one column so the
# chart stays readable (and fast) with 200 symbols.
DEFAULT_TOP_SYMBOLS = 40
PORTFOLIO_KEY = "_portfolio"
PORTFOLIO_LABEL = "(portfolio)"
# The time heatmap never shows more columns than this: buckets merge as the run grows.
MAX_TIME_COLUMNS = 48
# The engine's reasons are a closed set of about fifteen; a file with thousands was not written
# by it, and would take minutes to chart. Past this many, the rarest are summed into one row.
MAX_REASONS = 40


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
    counters = as_dict(veto_counters)
    signals = as_count(counters.get("total_signals"))
    vetoes = as_count(counters.get("total_vetoes"))
    return VetoTotals(
        signals, vetoes, as_count(counters.get("total_orders")), veto_rate(vetoes, signals)
    )


def _kept_reasons(totals: dict[str, int]) -> tuple[set[str], str]:
    """The :data:`MAX_REASONS` reasons with the most vetoes, and the row label of the others."""
    ranked = sorted(totals, key=lambda r: (-totals[r], r))
    return set(ranked[:MAX_REASONS]), f"other ({max(len(ranked) - MAX_REASONS, 0)} reasons)"


def fold_reasons(matrix: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """``{reason: {key: n}}`` with the reasons past :data:`MAX_REASONS` summed into one row."""
    if len(matrix) <= MAX_REASONS:
        return matrix
    kept, other = _kept_reasons({r: sum(m.values()) for r, m in matrix.items()})
    folded = {r: m for r, m in matrix.items() if r in kept}
    rest: dict[str, int] = folded.setdefault(other, {})
    for reason, per_key in matrix.items():
        if reason not in kept:
            for key, n in per_key.items():
                rest[key] = rest.get(key, 0) + n
    return folded


def veto_table(by_reason: Any) -> pd.DataFrame:
    """Build Reason / Count / Share of total vetoes (%), most frequent first."""
    counts = {reason: n for reason, n in count_map(by_reason).items() if n > 0}
    if len(counts) > MAX_REASONS:
        kept, other = _kept_reasons(counts)
        rest = sum(n for r, n in counts.items() if r not in kept)
        counts = {r: n for r, n in counts.items() if r in kept} | {other: rest}
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
    matrix = fold_reasons(nested_count_map(by_reason_symbol))
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

    Bucket keys are ISO times of the bucket start; unparsable keys, and buckets pandas cannot
    place in time (it stops in 2262), are dropped.
    """
    rows = []
    for reason, per_bucket in fold_reasons(nested_count_map(by_reason_time)).items():
        for key, n in per_bucket.items():
            start = parse_ts(key)
            if start is not None and n > 0 and _placeable(start, start + bucket_seconds):
                rows.append((reason, start, start + bucket_seconds, n))
    frame = pd.DataFrame(rows, columns=["reason", "bucket", "bucket_end", "count"])
    for column in ("bucket", "bucket_end"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame.astype({"count": "int64"}).sort_values(["bucket", "reason"], ignore_index=True)


_FIRST_TS, _LAST_TS = pd.Timestamp.min.timestamp(), pd.Timestamp.max.timestamp()


def _placeable(*times: float) -> bool:
    return all(_FIRST_TS < t < _LAST_TS for t in times)


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
    # A log scale: a cell of 3 stays visible beside a cell of 3,000 (cells hold counts >= 1).
    return alt.Color(
        "count:Q", title="Vetoes", scale=alt.Scale(scheme="orangered", type="log"), legend=None
    )


def _cell_text() -> alt.Text:
    return alt.Text("count:Q", format=",d")


def _with_counts(rect: alt.Chart) -> alt.LayerChart:
    """The rects with their count written in each cell (dark cells get light text)."""
    text = rect.mark_text(fontSize=10).encode(
        text=_cell_text(),
        color=alt.condition(
            "datum.count >= datum.max_count / 8", alt.value("white"), alt.value("black")
        ),
    )
    return cast(alt.LayerChart, alt.layer(rect, text))


def _max_count(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(max_count=int(frame["count"].max()) if len(frame) else 0)


def symbol_heatmap_chart(
    frame: pd.DataFrame, title: str = "Vetoes by reason x symbol"
) -> alt.LayerChart:
    """Altair mark_rect heatmap with counts: reasons (rows) x symbols (columns), busiest first."""
    rect = (
        alt.Chart(_max_count(frame), title=title)
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
    )
    return cast(alt.LayerChart, _with_counts(rect).properties(height=alt.Step(22)))


def merge_time_buckets(frame: pd.DataFrame, max_columns: int = MAX_TIME_COLUMNS) -> pd.DataFrame:
    """Merge neighbouring buckets so the frame spans at most ``max_columns`` columns.

    The merged width is a whole number of the engine's buckets, aligned on the epoch, so
    the same vetoes always land in the same column whatever the refresh.
    """
    if frame.empty:
        return frame
    width = (frame["bucket_end"] - frame["bucket"]).iloc[0]
    start, end = frame["bucket"].min(), frame["bucket_end"].max()
    factor = max(1, -(-int((end - start) / width) // max_columns))
    if factor == 1:
        return frame
    merged_width = width * factor
    epoch = pd.Timestamp(0, tz="UTC")
    merged = frame.assign(bucket=epoch + ((frame["bucket"] - epoch) // merged_width) * merged_width)
    merged = merged.groupby(["reason", "bucket"], as_index=False)["count"].sum()
    merged["bucket_end"] = merged["bucket"] + merged_width
    return merged[["reason", "bucket", "bucket_end", "count"]].sort_values(
        ["bucket", "reason"], ignore_index=True
    )


def time_heatmap_chart(
    frame: pd.DataFrame,
    domain: tuple[float, float] | None = None,
    stopped_at: float | None = None,
) -> alt.LayerChart:
    """Altair mark_rect heatmap: reasons x time (UTC), with counts and the stop marked.

    ``domain`` (epoch seconds) fixes the axis to the whole run; ``stopped_at`` draws a rule
    where trading stopped (the verdict's ``since``). Ticks are never closer than one column,
    so no label repeats.
    """
    frame = _max_count(frame)
    width_s = (
        (frame["bucket_end"] - frame["bucket"]).iloc[0].total_seconds() if len(frame) else 60.0
    )
    scale = alt.Scale(domain=[v * 1000 for v in domain]) if domain else alt.Undefined
    axis = alt.Axis(format="%m-%d %H:%M", tickMinStep=max(60.0, width_s) * 1000, labelOverlap=True)
    rect = (
        alt.Chart(frame, title="Vetoes by reason x time (UTC)")
        .mark_rect()
        .encode(
            x=alt.X("bucket:T", title="Time (UTC)", axis=axis, scale=scale),
            x2="bucket_end:T",
            y=_reason_axis(frame),
            color=_color(),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("bucket:T", title="From", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("bucket_end:T", title="To", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("count:Q", title="Vetoes"),
            ],
        )
    )
    layers: list[Any] = [rect, _time_text(frame, _reason_axis(frame), scale)]
    if stopped_at is not None:
        layers.append(_stop_rule(stopped_at))
    return cast(alt.LayerChart, alt.layer(*layers).properties(height=alt.Step(22)))


def _time_text(frame: pd.DataFrame, y: alt.Y, x_scale: Any) -> alt.Chart:
    """Counts at each cell's centre (the rect spans bucket..bucket_end)."""
    mid = frame["bucket"] + (frame["bucket_end"] - frame["bucket"]) / 2
    return (
        alt.Chart(frame.assign(mid=mid))
        .mark_text(fontSize=10)
        .encode(
            x=alt.X("mid:T", scale=x_scale),
            y=y,
            text=_cell_text(),
            color=alt.condition(
                "datum.count >= datum.max_count / 8", alt.value("white"), alt.value("black")
            ),
        )
    )


def _stop_rule(stopped_at: float) -> alt.LayerChart:
    stop = pd.DataFrame(
        {"t": [pd.Timestamp(stopped_at, unit="s", tz="UTC")], "label": ["trading stopped"]}
    )
    base = alt.Chart(stop)
    rule = base.mark_rule(color="black", strokeDash=[4, 3], strokeWidth=2).encode(x="t:T")
    label = base.mark_text(align="left", dx=4, dy=-6, fontWeight="bold").encode(
        x="t:T", y=alt.value(0), text="label:N"
    )
    return cast(alt.LayerChart, alt.layer(rule, label))
