"""Diagnostics on a hand-driven clock, and the record sequences the diagnostics tests share."""

from __future__ import annotations

import dataclasses
from typing import Any

from execution.diagnostics_metrics import (
    DiagnosticsSettings,
    configure,
    record_order_placed,
    record_risk_passed,
    record_signal_emitted,
    record_veto,
)

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


class FakeClock:
    """The engine clock as diagnostics sees it: an epoch-seconds callable, moved by hand."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def fresh_clock() -> FakeClock:
    """Diagnostics on a hand-driven engine clock with the default settings."""
    c = FakeClock()
    configure(DiagnosticsSettings(), clock=c)
    return c


def use(clock: FakeClock, **overrides: Any) -> DiagnosticsSettings:
    settings = dataclasses.replace(DiagnosticsSettings(), **overrides)
    configure(settings, clock=clock)
    return settings


def signal_vetoed(reason: str, symbol: str | None = "BTCUSDT") -> None:
    record_signal_emitted(symbol)
    record_veto(reason, symbol)


def signal_ordered(symbol: str = "BTCUSDT") -> None:
    record_signal_emitted(symbol)
    record_risk_passed(symbol)
    record_order_placed("entry", symbol)
