"""The heatmap's time buckets against the rule, whatever the clock does (DESIGN.md §5).

The rule: the buckets published are the newest ``heatmap_max_buckets`` ones, counted from the
newest bucket any veto opened; each holds every veto whose time falls in it. The oracle below
applies that rule to the list of veto times, independently of how the heatmap stores or drops
its buckets.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from execution.clock import to_iso
from execution.diagnostics.testing import capture_diagnostics
from execution.diagnostics_metrics import DiagnosticsSettings, record_veto

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
WIDTH = 60.0
REASONS = ("cooldown", "max_concurrent")


def published_by_rule(
    vetoes: list[tuple[float, str]], max_buckets: int
) -> dict[str, dict[str, int]]:
    """reason -> bucket start (ISO) -> vetoes, for the newest max_buckets buckets."""
    newest = max(int(t // WIDTH) for t, _ in vetoes)
    counts = Counter((int(t // WIDTH), reason) for t, reason in vetoes)
    published: dict[str, dict[str, int]] = {}
    for (bucket, reason), n in sorted(counts.items()):
        if bucket > newest - max_buckets:
            published.setdefault(reason, {})[to_iso(bucket * WIDTH) or ""] = n
    return published


# Steps in minutes between vetoes: mostly forward, sometimes a long gap, sometimes backwards
# (a live clock adjusted), so buckets open, fall out of the window and reopen.
steps = st.lists(
    st.tuples(st.integers(min_value=-6, max_value=40), st.sampled_from(REASONS)),
    min_size=1,
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(steps=steps, max_buckets=st.integers(min_value=1, max_value=6))
def test_published_buckets_are_the_newest_ones_whatever_the_clock_does(
    steps: list[tuple[int, str]], max_buckets: int
) -> None:
    vetoes: list[tuple[float, str]] = []
    t = T0
    for minutes, reason in steps:
        t += minutes * 60
        vetoes.append((t, reason))
    diagnostics_settings = DiagnosticsSettings(
        heatmap_bucket_seconds=WIDTH, heatmap_max_buckets=max_buckets
    )
    now = [T0]
    with capture_diagnostics(diagnostics_settings, clock=lambda: now[0]) as diagnostics:
        for when, reason in vetoes:
            now[0] = when
            record_veto(reason, "BTCUSDT")
        by_time = diagnostics.snapshot().heatmap["by_reason_time"]
        held = diagnostics.heatmap_buckets()

    expected = published_by_rule(vetoes, max_buckets)
    assert by_time == expected
    assert len(held) <= max_buckets
    assert sum(sum(c.values()) for c in held.values()) == sum(
        sum(c.values()) for c in expected.values()
    )
