"""A testing helper shipped with diagnostics (as structlog ships ``capture_logs``).

    with capture_diagnostics(clock=lambda: T0) as diagnostics:
        record_veto("var_limit", "BTCUSDT")
        assert diagnostics.counts_by_reason() == {"var_limit": 1}

Inside the block the engine's diagnostics are fresh (the given settings and clock); afterwards
they are back as they were. The view reads only what diagnostics export, never their internals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from execution import diagnostics_metrics
from execution.clock import to_iso
from execution.diagnostics.core import Diagnostics
from execution.diagnostics.model import DiagnosticsSettings, RuntimeDiagnosticsSnapshot


class DiagnosticsView:
    """Read-only access to one Diagnostics instance: every call returns a fresh copy."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        self._diagnostics = diagnostics

    def state(self) -> dict[str, Any]:
        """The whole state, as :meth:`Diagnostics.export_state` gives it."""
        return self._diagnostics.export_state()

    def snapshot(self) -> RuntimeDiagnosticsSnapshot:
        return self._diagnostics.snapshot()

    def counts_by_reason(self) -> dict[str, int]:
        """Cumulative vetoes by reason."""
        counts: dict[str, int] = self.state()["vetoes_by_reason"]
        return counts

    def window(self) -> list[tuple[str, str | None, str | None]]:
        """Every outcome the window holds, oldest first, as (kind, reason, ISO time): the count
        bound applied, not the age bound (that one is applied when the window is published)."""
        return [(kind, reason, to_iso(t)) for kind, reason, t, _ in self.state()["window"]]

    def heatmap_buckets(self) -> dict[str, dict[str, int]]:
        """Every time bucket held, oldest first: its start (ISO) -> reason -> vetoes."""
        heatmap = self.state()["heatmap"]
        width = heatmap["bucket_seconds"]
        return {to_iso(b * width) or "": counts for b, counts in heatmap["buckets"]}

    def veto_causes(self) -> dict[str, Any]:
        """The published veto causes (all_failing, sole, and the window's)."""
        return self.snapshot().veto_causes

    def liveness(self) -> dict[str, Any]:
        """The published liveness block (loop count, last loop, stages, gating flags)."""
        return self.snapshot().liveness


@contextmanager
def capture_diagnostics(
    settings: DiagnosticsSettings | None = None, clock: Callable[[], float] | None = None
) -> Iterator[DiagnosticsView]:
    """Give the engine fresh diagnostics for the block and a view of them; restore the previous
    settings, clock and state afterwards."""
    diagnostics = diagnostics_metrics.get_diagnostics()
    before = (diagnostics.settings, diagnostics.clock, diagnostics.export_state())
    diagnostics.configure(settings or DiagnosticsSettings(), clock or time.time)
    try:
        yield DiagnosticsView(diagnostics)
    finally:
        diagnostics.configure(before[0], before[1])
        diagnostics.restore_state(before[2])
