"""Exact resume of diagnostics: export_state -> restore_state into fresh diagnostics -> go on
recording publishes exactly what an uninterrupted run publishes, and a malformed state is refused
whole, naming its key.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution import diagnostics_metrics as dm
from execution.diagnostics import Diagnostics, DiagnosticsSettings
from execution.diagnostics.testing import capture_diagnostics
from execution.state_publish import write_runtime_diagnostics_state

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
# Small bounds, so that a short sequence already pushes outcomes and buckets out.
SMALL = DiagnosticsSettings(
    window_signals=5, window_seconds=120.0, heatmap_bucket_seconds=60.0, heatmap_max_buckets=3
)
SYMBOLS = ["BTCUSDT", "ETHUSDT", None]
REASONS = ["var_limit", "max_concurrent", "cooldown"]


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


op = st.one_of(
    st.tuples(st.just("advance"), st.integers(0, 90)),
    st.tuples(st.just("loop"), st.integers(0, 90)),
    st.tuples(st.just("end_loop")),
    st.tuples(st.just("signal"), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("passed"), st.sampled_from(SYMBOLS)),
    st.tuples(
        st.just("veto"),
        st.sampled_from(REASONS),
        st.sampled_from(SYMBOLS),
        st.lists(st.sampled_from(REASONS), max_size=2, unique=True),  # the other failing checks
    ),
    st.tuples(st.just("engine_loop"), st.integers(0, 90)),
    st.tuples(st.just("order"), st.sampled_from(["entry", "exit"]), st.sampled_from(SYMBOLS)),
    st.tuples(
        st.just("failed"),
        st.sampled_from(["timeout", "rejected"]),
        st.sampled_from(["entry", "exit"]),
    ),
    st.tuples(st.just("trigger"), st.sampled_from(["tp", "sl"])),
    st.tuples(st.just("scan"), st.tuples(*[st.integers(0, 3)] * 4)),
    st.tuples(st.just("stage_ok"), st.sampled_from(["state_publish", "risk"])),
    st.tuples(st.just("stage_error"), st.sampled_from(["router", "screener"])),
    st.tuples(st.just("gating"), st.sampled_from([{}, {"BTCUSDT": ["cooldown"]}])),
)


def apply(o: tuple[Any, ...], clock: Clock) -> None:
    kind = o[0]
    if kind == "advance":
        clock.t += o[1]
    elif kind == "loop":
        clock.t += o[1]
        dm.record_loop_start(clock.t)
    elif kind == "engine_loop":
        clock.t += o[1]
        dm.record_loop(clock.t)
    elif kind == "end_loop":
        dm.record_loop_end()
    elif kind == "signal":
        dm.record_signal_emitted(o[1])
    elif kind == "passed":
        dm.record_risk_passed(o[1])
    elif kind == "veto":
        dm.record_veto(o[1], o[2], o[3])
    elif kind == "order":
        dm.record_order_placed(o[1], o[2])
    elif kind == "failed":
        dm.record_order_failed(o[1], o[2], "BTCUSDT")
    elif kind == "trigger":
        dm.record_exit_trigger(o[1], "ETHUSDT")
    elif kind == "scan":
        dm.record_exit_scan_run()
        dm.update_exit_pipeline_status(*o[1])
    elif kind == "stage_ok":
        dm.record_stage_success(o[1])
    elif kind == "stage_error":
        dm.record_stage_error(o[1], RuntimeError("down"))
    else:
        dm.set_gating_flags(o[1])


def published() -> str:
    """The runtime_diagnostics block as state_publish writes it, as JSON text."""
    state: dict[str, Any] = {}
    write_runtime_diagnostics_state(state)
    return json.dumps(state["runtime_diagnostics"])


def run_through(ops: list[tuple[Any, ...]], cut: int | None) -> str:
    """Record ``ops`` (exporting and restoring into fresh diagnostics before ``ops[cut]``);
    return the final published block."""
    clock = Clock()
    with capture_diagnostics(SMALL, clock):
        for i, o in enumerate(ops):
            if i == cut:
                saved = json.loads(json.dumps(dm.export_state()))  # through a file, as a resume
                dm.configure(SMALL, clock)
                dm.restore_state(saved)
            apply(o, clock)
        return published()


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(op, max_size=60), data=st.data())
def test_export_restore_at_any_point_publishes_what_an_uninterrupted_run_does(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(ops)), label="cut")
    assert run_through(ops, cut) == run_through(ops, None)


def run_reading(ops: list[tuple[Any, ...]], reads: set[int]) -> str:
    """Record ``ops``, reading everything a reader can before each ``ops[i]`` with i in
    ``reads``; return the final published block."""
    clock = Clock()
    with capture_diagnostics(SMALL, clock) as diagnostics:
        for i, o in enumerate(ops):
            if i in reads:
                dm.get_veto_counters()
                diagnostics.snapshot()
                diagnostics.state()
            apply(o, clock)
        return published()


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(op, max_size=60), data=st.data())
def test_reading_at_any_point_changes_nothing_published_later(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    reads = data.draw(st.sets(st.integers(0, max(len(ops) - 1, 0))), label="reads")
    assert run_reading(ops, reads) == run_reading(ops, set())


def test_a_veto_is_in_every_published_count_as_soon_as_it_is_recorded() -> None:
    clock = Clock()
    with capture_diagnostics(SMALL, clock) as diagnostics:
        for symbol in ("BTCUSDT", "ETHUSDT", None):
            dm.record_veto("cooldown", symbol)
            snap = diagnostics.snapshot()
            n = snap.veto_counters.total_vetoes
            assert snap.veto_counters.by_reason == {"cooldown": n}
            assert sum(snap.heatmap["by_reason_symbol"]["cooldown"].values()) == n
            assert snap.heatmap["by_reason_time"] == {"cooldown": {"2024-01-01T00:00:00Z": n}}
            assert snap.veto_timeline["by_reason_time"] == {"cooldown": {"2024-01-01T00:00:00Z": n}}


def test_a_fresh_instance_restored_from_an_export_continues_it() -> None:
    clock = Clock()
    first = Diagnostics(SMALL, clock)
    first.record_loop_start(T0)
    first.record_signal_emitted("BTCUSDT")
    first.record_veto("cooldown", "BTCUSDT")
    second = Diagnostics(SMALL, clock)
    second.restore_state(first.export_state())
    for d in (first, second):
        d.record_signal_emitted("ETHUSDT")
        d.record_veto("var_limit", None)
    assert second.export_state() == first.export_state()
    assert second.snapshot() == first.snapshot()
    assert second.snapshot().liveness["last_loop"]["vetoes"] == 2


def valid_state() -> dict[str, Any]:
    clock = Clock()
    d = Diagnostics(SMALL, clock)
    d.record_loop_start(T0)
    d.record_signal_emitted("BTCUSDT")
    d.record_veto("cooldown", "BTCUSDT", ["var_limit"])
    d.record_stage_error("router", "down")
    d.set_gating_flags({"BTCUSDT": ["cooldown"]})
    return d.export_state()


def set_path(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def corrupt(state: dict[str, Any]) -> None:
        target: Any = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return corrupt


def drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda state: state.pop(key)


CORRUPTIONS = [
    ("signals", set_path(("signals",), -1)),
    ("vetoes", set_path(("vetoes",), True)),
    ("loop_count", drop("loop_count")),
    ("surprise", set_path(("surprise",), 1)),
    ("format", set_path(("format",), 99)),
    ("vetoes_by_reason.too_risky", set_path(("vetoes_by_reason", "too_risky"), 1)),
    ("last_veto", set_path(("last_veto",), "yesterday")),
    ("loop_base", set_path(("loop_base",), [1, 2])),
    ("exit_counts", set_path(("exit_counts",), "none")),
    ("stage_error.router", set_path(("stage_error", "router"), ["x", "down"])),
    ("gating.BTCUSDT", set_path(("gating", "BTCUSDT"), "cooldown")),
    ("window[0][2]", set_path(("window", 0, 2), "now")),
    ("window[0][1]", set_path(("window", 0, 1), "too_risky")),
    ("heatmap.buckets[0][0]", set_path(("heatmap", "buckets", 0, 0), 1.5)),
    ("heatmap.bucket_seconds", set_path(("heatmap", "bucket_seconds"), 0)),
    ("window[0][3][0]", set_path(("window", 0, 3), ["too_risky"])),
    ("veto_causes", set_path(("veto_causes",), {"also": {}})),
    (
        "veto_causes.not_sole.cooldown.BTCUSDT",
        set_path(("veto_causes", "not_sole", "cooldown"), {"BTCUSDT": -1}),
    ),
    (
        "veto_causes.also.too_risky",
        set_path(("veto_causes", "also", "too_risky"), {}),
    ),
]


@pytest.mark.parametrize(("key", "corrupt"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_a_malformed_state_is_refused_whole_naming_its_key(
    key: str, corrupt: Callable[[dict[str, Any]], None]
) -> None:
    state = valid_state()
    corrupt(state)
    target = Diagnostics(SMALL, Clock())
    target.record_veto("var_limit", "ETHUSDT")
    before = target.export_state()
    with pytest.raises(ValueError, match=re.escape(f"diagnostics state: {key}")):
        target.restore_state(state)
    assert target.export_state() == before  # nothing half-restored


def test_restoring_into_wider_buckets_merges_them() -> None:
    clock = Clock()
    source = Diagnostics(SMALL, clock)
    for minute in range(3):
        clock.t = T0 + 60 * minute
        source.record_veto("cooldown", "BTCUSDT")
    state = source.export_state()
    wider = Diagnostics(
        DiagnosticsSettings(heatmap_bucket_seconds=120.0, heatmap_max_buckets=3), clock
    )
    wider.restore_state(state)
    assert wider.snapshot().heatmap["by_reason_time"] == {
        "cooldown": {"2024-01-01T00:00:00Z": 2, "2024-01-01T00:02:00Z": 1}
    }


def test_restore_cumulative_continues_the_counters_of_a_published_block() -> None:
    clock = Clock()
    with capture_diagnostics(SMALL, clock):
        dm.record_signal_emitted("BTCUSDT")
        dm.record_veto("cooldown", "BTCUSDT")
        dm.record_exit_trigger("tp", "BTCUSDT")
        dm.record_order_placed("exit", "BTCUSDT")
        block = json.loads(published())
    clock.t += 60
    with capture_diagnostics(SMALL, clock) as diagnostics:
        dm.restore_cumulative(block)
        dm.record_veto("cooldown", "ETHUSDT")
        counters = dm.get_veto_counters()
        assert (counters.total_signals, counters.total_vetoes, counters.total_orders) == (1, 2, 1)
        assert diagnostics.counts_by_reason() == {"cooldown": 2}
        assert counters.last_signal_ts == "2024-01-01T00:00:00Z"
        assert counters.last_veto_ts == "2024-01-01T00:01:00Z"
        assert diagnostics.snapshot().exit_triggers_by_kind == {"tp": 1}
        # The window and the heatmap's buckets are not in a published block: they start afresh.
        assert [reason for _, reason, _ in diagnostics.window()] == ["cooldown"]


def test_capture_diagnostics_puts_the_previous_diagnostics_back() -> None:
    clock = Clock()
    dm.configure(SMALL, clock)
    dm.record_veto("var_limit", "BTCUSDT")
    before = copy.deepcopy(dm.export_state())
    with capture_diagnostics() as diagnostics:
        dm.record_veto("cooldown", None)
        assert diagnostics.counts_by_reason() == {"cooldown": 1}
        assert dm.get_settings() == DiagnosticsSettings()
    assert dm.export_state() == before
    assert (dm.get_settings(), dm.get_clock()) == (SMALL, clock)
