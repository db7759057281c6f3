"""Diagnostics' whole state as plain data, and back: what lets a resumed engine continue exactly.

:func:`export_state` reads a :class:`~execution.diagnostics.core.Diagnostics` (its caller holds
the lock); :func:`parse_state` checks an exported dict key by key and returns the attribute
values to set, so a malformed state raises before anything is changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from execution.clock import from_iso
from execution.diagnostics.model import REASON_KEYS
from execution.diagnostics.window import NONE_OTHER, OUTCOME_KINDS, VETO, Outcome

if TYPE_CHECKING:
    from execution.diagnostics.core import Diagnostics

FORMAT = 1
COUNTS = ("signals", "vetoes", "orders", "exit_triggers", "in_flight", "loop_count")
COUNT_MAPS = (
    "vetoes_by_reason",
    "orders_by_kind",
    "order_failures_by_kind",
    "order_failures_by_error",
    "exit_triggers_by_kind",
    "stage_error_count",
)
TIMES = (
    "last_signal", "last_order", "last_veto", "last_exit_trigger", "last_exit_scan", "loop_t",
    "last_loop_t", "prev_loop_t",
)  # fmt: skip
KEYS = frozenset(
    {"format", *COUNTS, *COUNT_MAPS, *TIMES, "exit_counts", "loop_base", "stage_success"}
    | {"stage_error", "gating", "window", "heatmap"}
)
# Keys a state exported before they existed lacks: they start empty.
OPTIONAL_KEYS = frozenset({"veto_causes", "veto_timeline", "veto_observed"})


def export_state(d: Diagnostics) -> dict[str, Any]:
    """Return every value ``d`` holds, as JSON-ready plain types (caller holds its lock)."""
    state: dict[str, Any] = {"format": FORMAT}
    state.update({name: getattr(d, name) for name in COUNTS + TIMES})
    state.update({name: dict(getattr(d, name)) for name in COUNT_MAPS})
    state["exit_counts"] = list(d.exit_counts) if d.exit_counts is not None else None
    state["loop_base"] = list(d.loop_base)
    state["stage_success"] = dict(d.stage_success)
    state["stage_error"] = {stage: [t, text] for stage, (t, text) in d.stage_error.items()}
    state["gating"] = {symbol: list(reasons) for symbol, reasons in d.gating.items()}
    state["window"] = d.window.export()
    state["heatmap"] = d.heatmap.export()
    state["veto_causes"] = d.causes.export()
    state["veto_timeline"] = d.timeline.export()
    state["veto_observed"] = {
        reason: [*(finite_or_none(v) for v in (value, limit)), symbol, t]
        for reason, (value, limit, symbol, t) in d.observed.items()
    }
    return state


def apply_state(d: Diagnostics, values: dict[str, Any]) -> None:
    """Replace everything ``d`` holds with checked ``values`` (caller holds its lock)."""
    window, heatmap = values.pop("window"), values.pop("heatmap")
    causes, timeline = values.pop("veto_causes"), values.pop("veto_timeline")
    for name, value in values.items():
        setattr(d, name, value)
    d.window.replace(window)
    d.heatmap.replace(*heatmap)
    d.causes.replace(*causes)
    if timeline is not None:  # a state exported before the timeline existed: it starts afresh
        d.timeline.replace(*timeline)


def parse_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """Check an exported state; return {attribute: value} (``window`` and ``heatmap`` as the
    arguments of their ``replace``). Raises ValueError naming the first malformed key."""
    if not isinstance(state, Mapping):
        raise ValueError(f"diagnostics state: expected a mapping, got {type(state).__name__}")
    missing = sorted(KEYS - set(state))
    unknown = sorted(set(state) - KEYS - OPTIONAL_KEYS, key=str)
    if missing or unknown:
        key = (missing or unknown)[0]
        raise ValueError(f"diagnostics state: {key}: {'missing' if missing else 'unknown key'}")
    if state["format"] != FORMAT:
        raise ValueError(f"diagnostics state: format: expected {FORMAT}, got {state['format']!r}")
    values: dict[str, Any] = {name: count(state[name], name) for name in COUNTS}
    values.update({name: optional_time(state[name], name) for name in TIMES})
    values.update({name: count_map(state[name], name) for name in COUNT_MAPS})
    check_reasons(values["vetoes_by_reason"], "vetoes_by_reason")
    exit_counts = state["exit_counts"]
    values["exit_counts"] = None if exit_counts is None else counts(exit_counts, "exit_counts")
    values["loop_base"] = counts(state["loop_base"], "loop_base")
    values["stage_success"] = {
        k: time_value(v, f"stage_success.{k}")
        for k, v in str_map(state["stage_success"], "stage_success").items()
    }
    values["stage_error"] = {
        k: stage_error(v, f"stage_error.{k}")
        for k, v in str_map(state["stage_error"], "stage_error").items()
    }
    values["gating"] = {
        k: string_list(v, f"gating.{k}") for k, v in str_map(state["gating"], "gating").items()
    }
    values["window"] = window(state["window"])
    values["heatmap"] = heatmap(state["heatmap"])
    values["veto_causes"] = veto_causes(state.get("veto_causes"))
    values["veto_timeline"] = timeline(state.get("veto_timeline"))
    values["observed"] = observed(state.get("veto_observed"))
    return values


# --- one checker per shape; each names the key it was given ------------------------------------


def fail(key: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"diagnostics state: {key}: expected {expected}, got {value!r}")


def count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(key, "a count (an int >= 0)", value)
    return value


def finite_or_none(value: float | None) -> float | None:
    """The value when it is a finite number, else None (JSON has no inf or NaN)."""
    return value if value is not None and math.isfinite(value) else None


def time_value(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise fail(key, "epoch seconds (a number)", value)
    return float(value)


def optional_time(value: Any, key: str) -> float | None:
    return None if value is None else time_value(value, key)


def str_map(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise fail(key, "an object with string keys", value)
    return value


def count_map(value: Any, key: str) -> dict[str, int]:
    return {k: count(v, f"{key}.{k}") for k, v in str_map(value, key).items()}


def check_reasons(by_reason: Mapping[str, Any], key: str) -> None:
    for reason in by_reason:
        if reason not in REASON_KEYS:
            raise fail(f"{key}.{reason}", f"a veto reason ({', '.join(REASON_KEYS)})", reason)


def counts(value: Any, key: str) -> tuple[int, int, int, int]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise fail(key, "a list of 4 counts", value)
    a, b, c, d = (count(v, f"{key}[{i}]") for i, v in enumerate(value))
    return a, b, c, d


def stage_error(value: Any, key: str) -> tuple[float, str]:
    if not isinstance(value, list | tuple) or len(value) != 2 or not isinstance(value[1], str):
        raise fail(key, "[epoch seconds, error text]", value)
    return time_value(value[0], f"{key}[0]"), value[1]


def string_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise fail(key, "a list of strings", value)
    return list(value)


def window(value: Any) -> list[Outcome]:
    """The outcomes: [kind, reason, epoch seconds, other failing checks] (without the last
    item, as exported before veto causes existed: none)."""
    shape = f"[kind ({', '.join(OUTCOME_KINDS)}), reason, epoch seconds, other failing checks]"
    if not isinstance(value, list | tuple):
        raise fail("window", f"a list of {shape}", value)
    outcomes: list[Outcome] = []
    for i, item in enumerate(value):
        key = f"window[{i}]"
        if not isinstance(item, list | tuple) or len(item) not in (3, 4):
            raise fail(key, shape, item)
        kind, reason = item[0], item[1]
        if kind not in OUTCOME_KINDS:
            raise fail(key, shape, item)
        if (reason not in REASON_KEYS) if kind == VETO else (reason is not None):
            raise fail(f"{key}[1]", "a veto reason for a veto, else null", reason)
        others = tuple(string_list(item[3], f"{key}[3]")) if len(item) == 4 else NONE_OTHER
        for n, other in enumerate(others):
            if other not in REASON_KEYS or kind != VETO:
                raise fail(f"{key}[3][{n}]", "a veto reason (of a veto)", other)
        outcomes.append((kind, reason, time_value(item[2], f"{key}[2]"), others))
    return outcomes


def veto_causes(value: Any) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """(also, not_sole), each reason -> symbol -> n; empty when the state has none."""
    if value is None:
        return {}, {}
    if not isinstance(value, Mapping) or set(value) != {"also", "not_sole"}:
        raise fail("veto_causes", "{also, not_sole}", value)
    maps = []
    for part in ("also", "not_sole"):
        key = f"veto_causes.{part}"
        per_reason = str_map(value[part], key)
        check_reasons(per_reason, key)
        maps.append({r: count_map(s, f"{key}.{r}") for r, s in per_reason.items()})
    return maps[0], maps[1]


def heatmap(
    value: Any,
) -> tuple[dict[str, dict[str, int]], list[tuple[int, dict[str, int]]], float]:
    if not isinstance(value, Mapping) or set(value) != {
        "bucket_seconds",
        "by_reason_symbol",
        "buckets",
    }:
        raise fail("heatmap", "{bucket_seconds, by_reason_symbol, buckets}", value)
    bucket_seconds = time_value(value["bucket_seconds"], "heatmap.bucket_seconds")
    if bucket_seconds <= 0:
        raise fail("heatmap.bucket_seconds", "a positive number", bucket_seconds)
    per_symbol = str_map(value["by_reason_symbol"], "heatmap.by_reason_symbol")
    check_reasons(per_symbol, "heatmap.by_reason_symbol")
    by_reason_symbol = {
        r: count_map(s, f"heatmap.by_reason_symbol.{r}") for r, s in per_symbol.items()
    }
    return by_reason_symbol, indexed_buckets(value["buckets"], "heatmap.buckets"), bucket_seconds


def indexed_buckets(raw: Any, name: str) -> list[tuple[int, dict[str, int]]]:
    """A list of [bucket index, {reason: n}], checked item by item."""
    if not isinstance(raw, list | tuple):
        raise fail(name, "a list of [bucket index, {reason: n}]", raw)
    buckets: list[tuple[int, dict[str, int]]] = []
    for i, item in enumerate(raw):
        key = f"{name}[{i}]"
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise fail(key, "[bucket index, {reason: n}]", item)
        if isinstance(item[0], bool) or not isinstance(item[0], int):
            raise fail(f"{key}[0]", "a bucket index (an int)", item[0])
        by_reason = count_map(item[1], f"{key}[1]")
        check_reasons(by_reason, f"{key}[1]")
        buckets.append((item[0], by_reason))
    return buckets


def timeline(value: Any) -> tuple[list[tuple[int, dict[str, int]]], float] | None:
    """The exported timeline as VetoTimeline.replace's arguments; None when not exported."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"bucket_seconds", "buckets"}:
        raise fail("veto_timeline", "{bucket_seconds, buckets}", value)
    bucket_seconds = time_value(value["bucket_seconds"], "veto_timeline.bucket_seconds")
    if bucket_seconds <= 0:
        raise fail("veto_timeline.bucket_seconds", "a positive number", bucket_seconds)
    return indexed_buckets(value["buckets"], "veto_timeline.buckets"), bucket_seconds


def observed(value: Any) -> dict[str, tuple[float | None, float | None, str | None, float]]:
    """reason -> [observed, limit, symbol, time] of its latest veto; {} when not exported."""
    if value is None:
        return {}
    per_reason = str_map(value, "veto_observed")
    check_reasons(per_reason, "veto_observed")
    out = {}
    for reason, item in per_reason.items():
        key = f"veto_observed.{reason}"
        if not isinstance(item, list | tuple) or len(item) != 4:
            raise fail(key, "[observed, limit, symbol, time]", item)
        numbers = [None if v is None else time_value(v, key) for v in item[:2]]
        if item[2] is not None and not isinstance(item[2], str):
            raise fail(f"{key}[2]", "a symbol or null", item[2])
        out[reason] = (numbers[0], numbers[1], item[2], time_value(item[3], f"{key}[3]"))
    return out


def published_counters(block: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cumulative counters of a published ``runtime_diagnostics`` block, as attribute values
    (the maps to merge are under ``merge``); None if the block has none. Lenient, as a restart
    from an older or damaged file must still start: what does not parse is left out."""
    if not isinstance(block, Mapping):
        return None
    counters, accounting = block.get("veto_counters"), block.get("accounting")
    if not isinstance(counters, Mapping) or not isinstance(accounting, Mapping):
        return None
    values: dict[str, Any] = {}
    by_reason = counters.get("by_reason")
    if isinstance(by_reason, Mapping):
        values["vetoes_by_reason"] = {
            str(k): v for k, v in by_reason.items() if _is_count(v) and k in REASON_KEYS
        }
    for key, name in (("total_signals", "signals"), ("total_orders", "orders")):
        if _is_count(counters.get(key)):
            values[name] = counters[key]
    if _is_count(counters.get("total_vetoes")):
        values["vetoes"] = counters["total_vetoes"]
    for key, name in (
        ("last_signal_ts", "last_signal"),
        ("last_order_ts", "last_order"),
        ("last_veto_ts", "last_veto"),
    ):
        t = from_iso(counters.get(key))
        if t is not None:
            values[name] = t
    merge: dict[str, dict[str, int]] = {}
    for name in ("orders_by_kind", "order_failures_by_kind", "order_failures_by_error"):
        if isinstance(accounting.get(name), Mapping):
            merge[name] = {str(k): v for k, v in accounting[name].items() if _is_count(v)}
    triggers = block.get("exit_triggers_by_kind")
    if isinstance(triggers, Mapping):
        merge["exit_triggers_by_kind"] = {str(k): v for k, v in triggers.items() if _is_count(v)}
    values["merge"] = merge
    return values


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
