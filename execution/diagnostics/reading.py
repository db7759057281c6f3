"""What diagnostics publish, built from a :class:`~execution.diagnostics.core.Diagnostics`.

Every function here reads the object while its caller holds the lock, and returns copies, so a
snapshot is consistent and nothing published aliases a live counter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution.clock import to_iso
from execution.diagnostics.model import STAGES, ExitPipelineStatus, VetoCounters
from execution.diagnostics.state import finite_or_none

if TYPE_CHECKING:
    from execution.diagnostics.core import Diagnostics
    from execution.diagnostics.window import Outcome

NO_EXIT_COUNTS = (0, 0, 0, 0)


def veto_counters(d: Diagnostics) -> VetoCounters:
    """The spec's veto counters."""
    return VetoCounters(
        by_reason=dict(d.vetoes_by_reason),
        total_signals=d.signals,
        total_orders=d.orders,
        total_vetoes=d.vetoes,
        last_veto_ts=to_iso(d.last_veto),
        last_order_ts=to_iso(d.last_order),
        last_signal_ts=to_iso(d.last_signal),
    )


def exit_status(d: Diagnostics) -> ExitPipelineStatus:
    """The spec's exit pipeline status (the last exit scan's counts)."""
    counts = d.exit_counts or NO_EXIT_COUNTS
    return ExitPipelineStatus(
        to_iso(d.last_exit_scan), to_iso(d.last_exit_trigger), *counts,
        d.liquidation_before_stop,
    )  # fmt: skip


def liveness(d: Diagnostics) -> dict[str, Any]:
    """Loop count, what the last loop counted, each stage's last success and error, gating."""
    stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        err = d.stage_error.get(stage)
        stages[stage] = {
            "last_success_ts": to_iso(d.last_success(stage)),
            "last_error": err[1] if err else None,
            "last_error_ts": to_iso(err[0]) if err else None,
            "error_count": d.stage_error_count.get(stage, 0),
        }
    last_loop: dict[str, int] = {}
    if d.loop_count:
        now = (d.signals, d.vetoes, d.orders, d.exit_triggers)
        grown = [a - b for a, b in zip(now, d.loop_base, strict=True)]
        last_loop = dict(zip(("signals", "vetoes", "orders", "exits"), grown, strict=True))
    return {
        "loop_count": d.loop_count,
        "last_loop": last_loop,
        "stages": stages,
        "gating": {symbol: list(r) for symbol, r in d.gating.items()},
    }


def accounting(d: Diagnostics) -> dict[str, Any]:
    """The accounting identity: every entry signal ends in exactly one outcome."""
    entry_orders = d.orders_by_kind.get("entry", 0)
    entry_failures = d.order_failures_by_kind.get("entry", 0)
    resolved = d.vetoes + entry_orders + entry_failures + d.in_flight
    unaccounted = d.signals - resolved
    return {
        "total_signals": d.signals,
        "total_vetoes": d.vetoes,
        "entry_orders": entry_orders,
        "order_failures": entry_failures,
        "in_flight": d.in_flight,
        "unaccounted": unaccounted,
        "identity_ok": unaccounted == 0,
        "orders_by_kind": dict(d.orders_by_kind),
        "order_failures_by_kind": dict(d.order_failures_by_kind),
        "order_failures_by_error": dict(d.order_failures_by_error),
    }


def veto_causes(d: Diagnostics, recent: list[Outcome]) -> dict[str, Any]:
    """Every failing check of the vetoed signals: since start, and over the ``recent`` outcomes
    of the window."""
    first = d.heatmap.by_reason_symbol()  # every veto, under its deciding check
    return {**d.causes.published(first), "window": d.window.causes(recent)}


def veto_observed(d: Diagnostics) -> dict[str, dict[str, Any]]:
    """reason -> the observed value, the limit, the symbol and the time of its latest veto."""
    return {
        reason: {
            "observed": finite_or_none(value),
            "limit": finite_or_none(limit),
            "symbol": symbol,
            "ts": to_iso(t),
        }  # fmt: skip
        for reason, (value, limit, symbol, t) in d.observed.items()
    }
