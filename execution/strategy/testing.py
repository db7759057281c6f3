"""A test kit for strategy authors: feed bars to one strategy, collect its checked signals.

    from execution.strategy.testing import StrategyHarness

    h = StrategyHarness(MyStrategy(cfg), symbol="BTCUSDT")
    emitted = h.feed([(t, o, h, l, c, v), ...])     # or plain closes: h.feed([100.0, 101.5])
    assert [e.signal.side for e in emitted] == [Side.LONG]

Signals go through the engine's own check (side, finite TP/SL on the right side of the close),
so a test fails with the same SignalError a replay would stop on. ``hold()`` / ``flat()`` set
what the strategy sees in ``bar.position``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from execution.strategy.api import (
    AccountView,
    BarContext,
    PositionView,
    Signal,
    checked_signal,
)
from execution.types import Side

BarInput = float | tuple[float, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class Emitted:
    """A signal and the bar it came on (``index`` counts the bars fed, from 0)."""

    index: int
    time: float
    close: float
    signal: Signal


@dataclass(slots=True)
class _HeldPosition:
    side: Side
    qty: float
    entry_price: float


class StrategyHarness:
    """One strategy instance on one symbol, fed bar by bar."""

    def __init__(
        self,
        strategy: Any,
        symbol: str = "BTCUSDT",
        nav: float = 10_000.0,
        start: float = 1_704_067_200.0,
        bar_seconds: float = 60.0,
    ) -> None:
        self.strategy = strategy
        self.name = str(getattr(strategy, "name", type(strategy).__name__))
        self.nav = nav
        self._held: _HeldPosition | None = None
        self._next_time = start
        self._step = bar_seconds
        self._count = 0
        position = PositionView(symbol, lambda _s: self._held)
        account = AccountView(lambda: self.nav, lambda: 0 if self._held is None else 1)
        self.context = BarContext(symbol, position, account)

    def hold(self, side: Side | str, qty: float, entry_price: float) -> None:
        """Make ``bar.position`` show an open position from now on."""
        self._held = _HeldPosition(Side(side), qty, entry_price)

    def flat(self) -> None:
        """Make ``bar.position`` show no position from now on."""
        self._held = None

    def bar(self, bar: BarInput) -> Signal | None:
        """Feed one bar: ``(time, open, high, low, close, volume)`` or a close alone (the other
        prices equal to it, volume 0, time one bar after the previous)."""
        if isinstance(bar, int | float):
            t, o, h, lo, c, v = self._next_time, bar, bar, bar, bar, 0.0
        else:
            t, o, h, lo, c, v = bar
        ctx = self.context
        ctx.time, ctx.open, ctx.high, ctx.low, ctx.close, ctx.volume = (
            float(t), float(o), float(h), float(lo), float(c), float(v),
        )  # fmt: skip
        self._next_time = float(t) + self._step
        self._count += 1
        sig = self.strategy.on_bar(ctx)
        return None if sig is None else checked_signal(sig, self.name, ctx)

    def feed(self, bars: Iterable[BarInput]) -> list[Emitted]:
        """Feed every bar in order; return the signals with the bar each came on."""
        out: list[Emitted] = []
        for bar in bars:
            index = self._count
            sig = self.bar(bar)
            if sig is not None:
                out.append(Emitted(index, self.context.time, self.context.close, sig))
        return out

    def feed_skipping(self, bars: Iterable[BarInput], window: int = 64) -> list[Emitted]:
        """:meth:`feed`, but first offer the strategy's ``skip`` the next ``window`` bars at
        every bar, as a replay does between the bars where something happens: a strategy whose
        ``skip`` keeps its promise emits what :meth:`feed` emits and ends in the same state."""
        rows = [self._row(bar) for bar in bars]
        out: list[Emitted] = []
        i = 0
        while i < len(rows):
            ahead = rows[i : i + window]
            done = self.strategy.skip(*(list(col) for col in list(zip(*ahead, strict=True))[1:]))
            if not 0 <= done <= len(ahead):
                raise AssertionError(f"skip returned {done} for {len(ahead)} bars")
            self._count += done
            i += done
            if i < len(rows):
                index = self._count
                sig = self.bar(rows[i])
                if sig is not None:
                    out.append(Emitted(index, self.context.time, self.context.close, sig))
                i += 1
        return out

    def _row(self, bar: BarInput) -> tuple[float, float, float, float, float, float]:
        if isinstance(bar, int | float):
            row = (self._next_time, bar, bar, bar, bar, 0.0)
            self._next_time += self._step
            return row
        t, o, h, lo, c, v = bar
        return (float(t), float(o), float(h), float(lo), float(c), float(v))


def run_strategy(strategy: Any, bars: Iterable[BarInput], symbol: str = "BTCUSDT") -> list[Emitted]:
    """Feed ``bars`` to a fresh harness around ``strategy``; return what it emitted."""
    return StrategyHarness(strategy, symbol).feed(bars)
