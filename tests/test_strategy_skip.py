"""A strategy's ``skip``: passing over its quiet bars leaves what ``on_bar`` on each would leave.

The oracle is the rule itself: for any bar stream and any place the engine offers a stretch,
``skip`` then ``on_bar`` emits the same signals on the same bars as ``on_bar`` all along, and
the strategy ends in the same state, bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.config import StrategyConfig
from execution.signal_screener import EmaCrossAtr, SmaCrossPct
from execution.strategy.testing import StrategyHarness

SMA = StrategyConfig(name="sma_cross_pct", fast=3, slow=7, tp_pct=0.01, sl_pct=0.004)
EMA = StrategyConfig(name="ema_cross_atr", fast=3, slow=8, atr_period=5)


def _bars(seed: int, n: int, tick: float) -> list[tuple[float, ...]]:
    """A random walk of OHLCV bars; ``tick`` rounds prices (ties make equal averages)."""
    rng = np.random.default_rng(seed)
    close = np.maximum(1.0, 100.0 + np.cumsum(rng.normal(0.0, 1.0, n)))
    if tick:
        close = np.maximum(tick, np.round(close / tick) * tick)
    spread = np.abs(rng.normal(0.0, 0.6, (2, n)))
    rows = []
    for i in range(n):
        o = close[i - 1] if i else close[0]
        high = max(o, close[i]) + spread[0, i]
        low = max(0.5, min(o, close[i]) - spread[1, i])
        rows.append((60.0 * i, float(o), float(high), float(low), float(close[i]), 1.0))
    return rows


def _emitted(strategy: Any, bars: list[tuple[float, ...]], window: int | None) -> list[Any]:
    harness = StrategyHarness(strategy)
    out = harness.feed(bars) if window is None else harness.feed_skipping(bars, window)
    return [(e.index, e.time, e.close, e.signal) for e in out]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    window=st.integers(1, 90),
    tick=st.sampled_from([0.0, 0.5, 1.0]),
    which=st.sampled_from(["sma", "ema"]),
)
def test_skip_then_on_bar_emits_and_leaves_what_on_bar_all_along_does(
    seed: int, n: int, window: int, tick: float, which: str
) -> None:
    make = (lambda: SmaCrossPct(SMA)) if which == "sma" else (lambda: EmaCrossAtr(EMA))
    bars = _bars(seed, n, tick)
    plain, skipping = make(), make()
    assert _emitted(skipping, bars, window) == _emitted(plain, bars, None)
    assert skipping.state() == plain.state()
    assert [type(v) for v in skipping.state().values()] == [type(v) for v in plain.state().values()]


def test_sma_skip_stops_before_the_crossing_bar_and_leaves_it_to_on_bar() -> None:
    strategy = SmaCrossPct(SMA)
    emitted = StrategyHarness(strategy).feed([100.0] * 7 + [101.0])  # warm, then a rise
    assert [e.index for e in emitted] == [7]  # the rise crossed: a long
    rising = [104.0, 105.0, 50.0, 106.0]  # two bars above, then a fall that crosses back
    assert strategy.skip(rising, rising, rising, rising, [1.0] * 4) == 2
    assert strategy.state()["count"] == 10
    assert strategy.skip([50.0], [50.0], [50.0], [50.0], [1.0]) == 0


def test_a_strategy_skips_nothing_while_it_warms_up() -> None:
    strategy = SmaCrossPct(SMA)
    StrategyHarness(strategy).feed([100.0] * 3)
    assert strategy.skip([1.0], [1.0], [1.0], [1.0], [1.0]) == 0
    assert EmaCrossAtr(EMA).skip([1.0], [1.0], [1.0], [1.0], [1.0]) == 0
