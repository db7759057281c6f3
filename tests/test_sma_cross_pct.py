"""sma_cross_pct: the built-in SMA cross with fixed-percent TP/SL (the strategy bench/ compares
with backtesting.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execution.config import ConfigError, StrategyConfig, parse_config
from execution.signal_screener import SmaCrossPct, build_strategy
from execution.types import Side

CFG = StrategyConfig(name="sma_cross_pct", fast=5, slow=12, tp_pct=0.01, sl_pct=0.004)


def _closes(n: int, seed: int, integer: bool) -> np.ndarray:
    path = 1_000.0 + np.cumsum(np.random.default_rng(seed).normal(0.0, 2.0, n))
    return np.round(path) if integer else path


def _signals(strategy: SmaCrossPct, closes: np.ndarray) -> list[tuple[int, Side]]:
    out = []
    for i, c in enumerate(closes):
        sig = strategy.update(0, float(c), float(c), float(c))
        if sig is not None:
            out.append((i, sig.side))
    return out


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
    assert _signals(SmaCrossPct(1, CFG), closes) == expected


def test_levels_are_fixed_fractions_of_the_signal_close() -> None:
    s = SmaCrossPct(1, CFG)
    for c in [100.0] * CFG.slow:
        assert s.update(0, c, c, c) is None
    sig = s.update(0, 120.0, 120.0, 120.0)  # the fast mean jumps above the slow one
    assert sig is not None and sig.side is Side.LONG
    assert (sig.tp, sig.sl) == pytest.approx((121.2, 119.52))
    for c in [80.0] * 3:
        sig = s.update(0, c, c, c) or sig
    assert sig.side is Side.SHORT
    assert (sig.tp, sig.sl) == pytest.approx((79.2, 80.32))


def test_the_first_full_window_sets_the_side_without_a_signal() -> None:
    s = SmaCrossPct(1, CFG)
    rising = [float(100 + i) for i in range(CFG.slow)]
    assert [s.update(0, c, c, c) for c in rising] == [None] * CFG.slow


def test_symbols_are_independent_and_state_round_trips_exactly() -> None:
    a, b = _closes(400, seed=1, integer=False), _closes(400, seed=2, integer=False)
    whole = SmaCrossPct(2, CFG)
    first = SmaCrossPct(2, CFG)
    for i in range(200):
        for idx, series in ((0, a), (1, b)):
            whole.update(idx, series[i], series[i], series[i])
            first.update(idx, series[i], series[i], series[i])
    resumed = SmaCrossPct(2, CFG)
    resumed.load_state(first.state())
    for i in range(200, 400):
        for idx, series in ((0, a), (1, b)):
            x = series[i]
            assert resumed.update(idx, x, x, x) == whole.update(idx, x, x, x)
    assert resumed.state() == whole.state()


def test_build_strategy_knows_the_name_and_the_config_validates_the_percentages() -> None:
    assert isinstance(build_strategy(CFG, 3), SmaCrossPct)
    base = {"universe": [{"symbol": "BTCUSDT"}]}
    ok = parse_config({**base, "strategy": {"name": "sma_cross_pct", "tp_pct": 0.02}})
    assert ok.strategy.tp_pct == 0.02
    with pytest.raises(ConfigError, match=r"^strategy\.sl_pct"):
        parse_config({**base, "strategy": {"name": "sma_cross_pct", "sl_pct": 1.5}})
