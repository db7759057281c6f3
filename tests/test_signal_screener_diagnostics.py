"""Screener diagnostics (spec §8.4): every emitted signal is counted, exactly once."""

from __future__ import annotations

import math
from typing import Any

import pytest

from execution.config import StrategyConfig
from execution.diagnostics_metrics import (
    DiagnosticsSettings,
    build_runtime_diagnostics_snapshot,
    configure,
    get_veto_counters,
)
from execution.signal_screener import Signal, SignalScreener, build_strategy
from execution.types import Intent, Side

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


class EveryKthBar:
    """A pre-v1 strategy (one object, symbols by index): a signal on every k-th bar it sees
    (per symbol), alternating sides. Such plug-ins still run."""

    name = "every_kth_bar"

    def __init__(self, k: int) -> None:
        self.k = k
        self.seen: dict[int, int] = {}
        self.emitted = 0

    def update(self, idx: int, high: float, low: float, close: float) -> Signal | None:
        n = self.seen[idx] = self.seen.get(idx, 0) + 1
        if n % self.k:
            return None
        self.emitted += 1
        if self.emitted % 2:
            return Signal(Side.LONG, close * 1.02, close * 0.99)
        return Signal(Side.SHORT, close * 0.98, close * 1.01)

    def state(self) -> dict[str, Any]:
        return {"seen": dict(self.seen)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.seen = dict(state.get("seen", {}))


def screener(strategy: Any) -> SignalScreener:
    return SignalScreener(strategy, SYMBOLS, 0.05, lambda: 10_000.0)


def feed(s: SignalScreener, n_bars: int, price: Any = lambda t: 100.0) -> list[Intent]:
    intents = []
    for t in range(n_bars):
        for idx in range(len(SYMBOLS)):
            close = price(t) * (1 + idx)
            intent = s.on_bar((idx, T0 + 60 * t, close, close * 1.001, close * 0.999, close, 1.0))
            if intent is not None:
                intents.append(intent)
    return intents


@pytest.mark.parametrize(("k", "n_bars", "expected"), [(1, 10, 30), (4, 41, 30), (7, 6, 0)])
def test_total_signals_increments_by_exactly_the_number_emitted(
    k: int, n_bars: int, expected: int
) -> None:
    strategy = EveryKthBar(k)
    s = screener(strategy)

    intents = feed(s, n_bars)

    assert len(intents) == strategy.emitted == expected
    assert get_veto_counters().total_signals == expected


def test_the_count_adds_to_what_was_there_before() -> None:
    s = screener(EveryKthBar(2))
    feed(s, 4)  # 2 per symbol
    before = get_veto_counters().total_signals
    feed(s, 6)  # bars 5..10 of each symbol: 3 more per symbol
    assert (before, get_veto_counters().total_signals) == (6, 15)


def test_the_signal_timestamp_is_the_engine_time_of_the_last_signal() -> None:
    configure(DiagnosticsSettings(), clock=lambda: T0 + 3_600)
    feed(screener(EveryKthBar(3)), 3)
    assert get_veto_counters().last_signal_ts == "2024-01-01T01:00:00Z"


def test_no_signal_no_count() -> None:
    feed(screener(EveryKthBar(1_000)), 50)
    vc = get_veto_counters()
    assert (vc.total_signals, vc.last_signal_ts) == (0, None)


def test_signals_are_not_outcomes_until_risk_decides() -> None:
    feed(screener(EveryKthBar(1)), 2)
    snap = build_runtime_diagnostics_snapshot()
    assert snap.window["signals"] == 0  # no veto / order yet
    acc = snap.accounting
    assert (acc["total_signals"], acc["unaccounted"], acc["identity_ok"]) == (6, 6, False)


def test_the_builtin_ema_cross_strategy_counts_each_intent() -> None:
    cfg = StrategyConfig(fast=3, slow=8, atr_period=5)
    s = screener(build_strategy(cfg, len(SYMBOLS)))

    intents = feed(s, 400, lambda t: 100.0 + 10.0 * math.sin(t / 15.0))

    assert len(intents) > 10  # the sine wave crosses many times
    assert get_veto_counters().total_signals == len(intents)
    assert {i.symbol for i in intents} == set(SYMBOLS)


def test_disabled_diagnostics_count_nothing_and_change_no_intent() -> None:
    on = feed(screener(EveryKthBar(3)), 30)
    assert get_veto_counters().total_signals == len(on) == 30

    configure(DiagnosticsSettings(enabled=False))
    off = feed(screener(EveryKthBar(3)), 30)

    assert off == on
    assert get_veto_counters().total_signals == 0
