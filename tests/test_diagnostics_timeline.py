"""The whole-run veto timeline: every veto since the start, in a bounded number of columns."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from execution.diagnostics.timeline import VetoTimeline

HOUR = 3600.0


def _total(timeline: VetoTimeline) -> dict[str, int]:
    out: dict[str, int] = {}
    for reason, per_time in timeline.to_dict()["by_reason_time"].items():
        out[reason] = sum(per_time.values())
    return out


def test_a_35_day_run_keeps_its_first_veto_and_stays_within_the_columns() -> None:
    timeline = VetoTimeline(300.0, max_columns=96)
    timeline.add("cooldown", 0.0)  # the first veto, on day one
    for day in range(35):
        timeline.add("portfolio_dd_circuit", day * 24 * HOUR + 12 * HOUR)
    published = timeline.to_dict()
    labels = {label for per in published["by_reason_time"].values() for label in per}
    assert len(labels) <= 96
    assert "1970-01-01T00:00:00Z" in published["by_reason_time"]["cooldown"]
    assert _total(timeline) == {"cooldown": 1, "portfolio_dd_circuit": 35}
    assert published["bucket_seconds"] >= 35 * 24 * HOUR / 96  # widened by doubling
    assert published["bucket_seconds"] / 300.0 in {2.0**k for k in range(20)}


def test_a_short_run_keeps_the_heatmap_s_own_bucket_width() -> None:
    timeline = VetoTimeline(300.0, max_columns=96)
    for minute in range(0, 60, 7):
        timeline.add("tier_block", minute * 60.0)
    assert timeline.to_dict()["bucket_seconds"] == 300.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["cooldown", "symbol_cap"]), st.floats(0, 1e8)),
        min_size=1,
        max_size=200,
    ),
    st.integers(2, 50),
)
def test_every_veto_is_counted_once_whatever_the_order_and_the_span(
    vetoes: list[tuple[str, float]], columns: int
) -> None:
    timeline = VetoTimeline(60.0, max_columns=columns)
    for reason, t in vetoes:
        timeline.add(reason, t)
    want: dict[str, int] = {}
    for reason, _ in vetoes:
        want[reason] = want.get(reason, 0) + 1
    assert _total(timeline) == want
    assert max(timeline.buckets) - min(timeline.buckets) < columns
    again = VetoTimeline(60.0, max_columns=columns)  # resume: the export comes back whole
    exported = timeline.export()
    again.replace([(i, c) for i, c in exported["buckets"]], exported["bucket_seconds"])
    assert again.to_dict() == timeline.to_dict()
