"""sma_cross_pct: the built-in SMA cross with fixed-percent TP/SL (the strategy bench/ compares
with backtesting.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execution.config import ConfigError, StrategyConfig, parse_config
from execution.signal_screener import SmaCrossPct, build_strategy
from execution.strategy.per_symbol import SymbolStrategies
from execution.strategy.testing import StrategyHarness
from execution.types import Side

CFG = StrategyConfig(name="sma_cross_pct", fast=5, slow=12, tp_pct=0.01, sl_pct=0.004)


def _closes(n: int, seed: int, integer: bool) -> np.ndarray:
    path = 1_000.0 + np.cumsum(np.random.default_rng(seed).normal(0.0, 2.0, n))
    return np.round(path) if integer else path


def _signals(strategy: SmaCrossPct, closes: np.ndarray) -> list[tuple[int, Side]]:
    return [(e.index, Side(e.signal.side)) for e in StrategyHarness(strategy).feed(closes)]


@pytest.mark.parametrize("integer", [True, False])
def test_signals_come_on_the_bars_where_rolling_means_cross(integer: bool) -> None:
    closes = _closes(3_000, seed=3, integer=integer)
    fast = pd.Series(closes).rolling(CFG.fast).mean().to_numpy()
    slow = pd.Series(closes).rolling(CFG.slow).mean().to_numpy()
    above = fast > slow
    expected = [
        (i, Side.LONG if above[i] else Side.SHORT)
        for i in range(CFG.slow, len(closes))
        if above[i] != above[i - 1]
    ]
    assert expected
    assert _signals(SmaCrossPct(CFG), closes) == expected


def test_levels_are_fixed_fractions_of_the_signal_close() -> None:
    h = StrategyHarness(SmaCrossPct(CFG))
    for c in [100.0] * CFG.slow:
        assert h.bar(c) is None
    sig = h.bar(120.0)  # the fast mean jumps above the slow one
    assert sig is not None and sig.side is Side.LONG
    assert (sig.tp, sig.sl) == pytest.approx((121.2, 119.52))
    for c in [80.0] * 3:
        sig = h.bar(c) or sig
    assert sig.side is Side.SHORT
    assert (sig.tp, sig.sl) == pytest.approx((79.2, 80.32))


def test_the_first_full_window_sets_the_side_without_a_signal() -> None:
    h = StrategyHarness(SmaCrossPct(CFG))
    rising = [float(100 + i) for i in range(CFG.slow)]
    assert [h.bar(c) for c in rising] == [None] * CFG.slow


def _bar(idx: int, x: float) -> tuple[int, float, float, float, float, float, float]:
    return (idx, 0.0, x, x, x, x, 0.0)


def test_symbols_are_independent_and_state_round_trips_exactly() -> None:
    a, b = _closes(400, seed=1, integer=False), _closes(400, seed=2, integer=False)
    whole = SymbolStrategies(SmaCrossPct, CFG, 2)
    first = SymbolStrategies(SmaCrossPct, CFG, 2)
    for i in range(200):
        for idx, series in ((0, a), (1, b)):
            whole.update_bar(*_bar(idx, series[i]))
            first.update_bar(*_bar(idx, series[i]))
    resumed = SymbolStrategies(SmaCrossPct, CFG, 2)
    resumed.load_state(first.state())
    for i in range(200, 400):
        for idx, series in ((0, a), (1, b)):
            x = series[i]
            assert resumed.update_bar(*_bar(idx, x)) == whole.update_bar(*_bar(idx, x))
    assert resumed.state() == whole.state()
    assert [len(v) for v in whole.state().values()] == [2] * 5  # index-keyed: one per symbol


def test_build_strategy_knows_the_name_and_the_config_validates_the_percentages() -> None:
    built = build_strategy(CFG, 3)
    assert isinstance(built, SymbolStrategies) and built.name == "sma_cross_pct"
    assert all(isinstance(s, SmaCrossPct) for s in built.instances)
    base = {"universe": [{"symbol": "BTCUSDT"}]}
    ok = parse_config({**base, "strategy": {"name": "sma_cross_pct", "tp_pct": 0.02}})
    assert ok.strategy.tp_pct == 0.02
    with pytest.raises(ConfigError, match=r"^strategy\.sl_pct"):
        parse_config({**base, "strategy": {"name": "sma_cross_pct", "sl_pct": 1.5}})
