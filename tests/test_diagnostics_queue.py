"""The record queue (diagnostics_codes / diagnostics_metrics): whatever the order of records,
loops, reads and queue-full folds, the published counters equal a plain recount of the records.

The queue stores one time per run of records that share it and carries the last time across
folds; these properties would catch a record that took the wrong time or a fold that lost or
doubled a record.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from execution import diagnostics_metrics as dm
from execution.clock import to_iso
from execution.diagnostics_codes import RecordCodes, decode

T0 = 1_704_067_200.0
SYMBOLS = ["BTCUSDT", "ETHUSDT", None]
REASONS = ["var_limit", "max_concurrent", "cooldown"]

op = st.one_of(
    st.tuples(st.just("loop"), st.integers(0, 7_200)),
    st.tuples(st.just("end_loop"), st.integers(0, 600)),
    st.tuples(st.just("signal"), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("veto"), st.sampled_from(REASONS), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("order"), st.sampled_from(["entry", "exit"]), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("failed"), st.sampled_from(["timeout", "rejected"])),
    st.tuples(st.just("trigger"), st.sampled_from(["tp", "sl"]), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("read")),
)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def run(ops: list[tuple[Any, ...]], queue_max: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply ``ops``; return (the snapshot's figures, the same figures recounted by hand)."""
    clock = Clock()
    dm.configure(dm.DiagnosticsSettings(heatmap_bucket_seconds=3_600.0), clock)
    old_max, dm.H.queue_max = dm.H.queue_max, queue_max
    recs: list[tuple[str, Any, Any, float]] = []
    loop_t: float | None = None
    try:
        for o in ops:
            now = loop_t if loop_t is not None else clock.t
            if o[0] == "loop":
                clock.t += o[1]
                loop_t = clock.t
                dm.record_loop_start(loop_t)
            elif o[0] == "end_loop":
                dm.record_loop_end()
                loop_t = None
                clock.t += o[1]
            elif o[0] == "signal":
                dm.record_signal_emitted(o[1])
                recs.append(("signal", o[1], o[1], now))
            elif o[0] == "veto":
                dm.record_veto(o[1], o[2])
                recs.append(("veto", o[1], o[2], now))
            elif o[0] == "order":
                dm.record_order_placed(o[1], o[2])
                recs.append(("order", o[1], o[2], now))
            elif o[0] == "failed":
                dm.record_order_failed(o[1], "entry", "BTCUSDT")
                recs.append(("failed", o[1], "BTCUSDT", now))
            elif o[0] == "trigger":
                dm.record_exit_trigger(o[1], o[2])
                recs.append(("trigger", o[1], o[2], now))
            else:
                dm.get_veto_counters()
        snap = dm.build_runtime_diagnostics_snapshot()
    finally:
        dm.H.queue_max = old_max
        dm.reset_diagnostics()

    def last(kind: str) -> str | None:
        times = [r[3] for r in recs if r[0] == kind]
        return to_iso(max(times)) if times else None

    vetoes = [r for r in recs if r[0] == "veto"]
    by_time: dict[str, dict[str, int]] = {}
    newest_bucket = max((int(r[3] // 3_600) for r in vetoes), default=0)
    for r in vetoes:
        bucket = int(r[3] // 3_600)
        if bucket > newest_bucket - 24:
            label = to_iso(bucket * 3_600.0) or ""
            by_time.setdefault(r[1], {})
            by_time[r[1]][label] = by_time[r[1]].get(label, 0) + 1
    orders = Counter(r[1] for r in recs if r[0] == "order")
    got = {
        "signals": snap.veto_counters.total_signals,
        "by_reason": snap.veto_counters.by_reason,
        "orders": snap.accounting["orders_by_kind"],
        "failures": snap.accounting["order_failures_by_error"],
        "triggers": snap.exit_triggers_by_kind,
        "last": (
            snap.veto_counters.last_signal_ts,
            snap.veto_counters.last_veto_ts,
            snap.veto_counters.last_order_ts,
            snap.exit_pipeline_status.last_exit_trigger_ts,
        ),
        "by_reason_time": snap.heatmap["by_reason_time"],
        "by_reason_symbol": snap.heatmap["by_reason_symbol"],
    }
    want = {
        "signals": sum(r[0] == "signal" for r in recs),
        "by_reason": dict(Counter(r[1] for r in vetoes)),
        "orders": {"entry": orders["entry"], "exit": orders["exit"]},
        "failures": dict(Counter(r[1] for r in recs if r[0] == "failed")),
        "triggers": dict(Counter(r[1] for r in recs if r[0] == "trigger")),
        "last": (last("signal"), last("veto"), last("order"), last("trigger")),
        "by_reason_time": by_time,
        "by_reason_symbol": {
            reason: dict(Counter((r[2] or "_portfolio") for r in vetoes if r[1] == reason))
            for reason in {r[1] for r in vetoes}
        },
    }
    return got, want


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(op, max_size=120), queue_max=st.sampled_from([4, 9, 65_536]))
def test_the_counters_equal_a_recount_of_the_records(ops: list[Any], queue_max: int) -> None:
    got, want = run(ops, queue_max)
    assert got == want


def test_decode_gives_each_record_the_time_queued_before_it_and_carries_it_over() -> None:
    from array import array

    codes, times, last = decode(array("d", [-1.0, 100.0, -2.0, -3.0, 160.0, -1.0]), 40.0, Clock())
    assert codes.tolist() == [0, 1, 2, 0]
    assert times.tolist() == [40.0, 100.0, 100.0, 160.0]  # the head takes the carried time
    assert last == 160.0
    codes, times, last = decode(array("d", [-2.0]), last, Clock())
    assert (codes.tolist(), times.tolist(), last) == ([1], [160.0], 160.0)
    codes, times, last = decode(array("d", [7.0]), last, Clock())  # a time alone
    assert (codes.size, last) == (0, 7.0)


def test_codes_are_interned_once_and_tell_what_they_stand_for() -> None:
    codes = RecordCodes()
    a = codes.intern(1, "var_limit", "BTCUSDT")
    assert codes.intern(1, "var_limit", "BTCUSDT") == a < 0
    b = codes.intern(1, "cooldown", None)
    # Signals are counted, not broken down by symbol: one code; orders by their kind only.
    assert codes.intern(0, None, "BTCUSDT") == codes.intern(0, None, "ETHUSDT")
    assert codes.intern(2, "entry", "BTCUSDT") == codes.intern(2, "entry", "ETHUSDT")
    kinds, reasons = codes.arrays()
    assert codes.meta[int(-1 - b)].key == "cooldown"
    assert kinds.tolist() == [1, 1, 0, 2]
    assert [codes.reasons[i] for i in reasons[:2]] == ["var_limit", "cooldown"]
    assert reasons[2:].tolist() == [-1, -1]


def test_a_loop_queues_its_time_once_per_queue_and_a_record_between_loops_its_own() -> None:
    """The records compare the loop's time object by identity (compiled too: a float that
    was unboxed and boxed again would be a new object, and every record would queue a time)."""
    dm.configure(dm.DiagnosticsSettings(), lambda: 1_000.0)
    try:
        dm.record_loop_start(1_000.0)
        for _ in range(10):
            dm.record_veto("max_concurrent", "BTCUSDT")
        for _ in range(3):
            dm.record_exit_trigger("tp", "BTCUSDT")
        assert dm.queued() == (1 + 10) + (1 + 3)
        dm.record_loop_end()
        for _ in range(3):
            dm.record_signal_emitted("BTCUSDT")
        assert dm.queued() == 15 + 3 * 2  # between loops each record reads the clock
        assert dm.get_veto_counters().total_vetoes == 10
    finally:
        dm.reset_diagnostics()
