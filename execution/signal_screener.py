"""Screener: strategies turn bars into entry intents (the first stage of the pipeline).

A strategy is anything with the :class:`Strategy` shape; the built-in ones are an EMA cross with
ATR-based TP/SL levels and an SMA cross with fixed-percent TP/SL levels. Indicators update in
O(1) per bar. Every intent the screener emits is counted by diagnostics
(``record_signal_emitted``) before it goes to risk.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from execution.config import StrategyConfig
from execution.diagnostics_metrics import record_signal_emitted
from execution.types import BarTuple as BarTuple
from execution.types import Intent, Side


@dataclass(frozen=True, slots=True)
class Signal:
    side: Side
    tp: float
    sl: float


class Strategy(Protocol):
    """Plug-in interface: one instance serves every symbol, addressed by index."""

    name: str

    def update(self, idx: int, high: float, low: float, close: float) -> Signal | None:
        """Feed one closed bar of symbol ``idx``; return a Signal when it wants an entry."""
        ...

    def state(self) -> dict[str, Any]:
        """Return the indicator state (JSON-ready) so a restart resumes exactly."""
        ...

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        ...


class EmaCrossAtr:
    """Long when the fast EMA crosses above the slow one, short when below; TP/SL at k x ATR."""

    name = "ema_cross_atr"

    def __init__(self, n_symbols: int, cfg: StrategyConfig) -> None:
        self.a_fast = 2.0 / (cfg.fast + 1)
        self.a_slow = 2.0 / (cfg.slow + 1)
        self.a_atr = 1.0 / cfg.atr_period  # Wilder smoothing
        self.warmup = max(cfg.slow, cfg.atr_period) + 1
        self.tp_atr = cfg.tp_atr
        self.sl_atr = cfg.sl_atr
        self.fast = [0.0] * n_symbols
        self.slow = [0.0] * n_symbols
        self.atr = [0.0] * n_symbols
        self.prev_close = [0.0] * n_symbols
        self.count = [0] * n_symbols
        self.above = [False] * n_symbols

    def update(self, idx: int, high: float, low: float, close: float) -> Signal | None:
        n = self.count[idx]
        self.count[idx] = n + 1
        if n == 0:
            self.fast[idx] = self.slow[idx] = self.prev_close[idx] = close
            self.atr[idx] = high - low
            return None
        pc = self.prev_close[idx]
        # max(high - low, |high - pc|, |low - pc|), unrolled: the same value (max keeps the
        # first of equals too), without building the argument tuple on every bar.
        tr = high - low
        gap = abs(high - pc)
        if gap > tr:
            tr = gap
        gap = abs(low - pc)
        if gap > tr:
            tr = gap
        self.prev_close[idx] = close
        atr = self.atr[idx] = self.atr[idx] + self.a_atr * (tr - self.atr[idx])
        fast = self.fast[idx] = self.fast[idx] + self.a_fast * (close - self.fast[idx])
        slow = self.slow[idx] = self.slow[idx] + self.a_slow * (close - self.slow[idx])
        above = fast > slow
        crossed = above != self.above[idx]
        self.above[idx] = above
        if not crossed or n < self.warmup or atr <= 0.0:
            return None
        if above:
            return Signal(Side.LONG, close + self.tp_atr * atr, close - self.sl_atr * atr)
        sl = close + self.sl_atr * atr
        tp = close - self.tp_atr * atr
        if tp <= 0.0:
            return None
        return Signal(Side.SHORT, tp, sl)

    def state(self) -> dict[str, Any]:
        return {
            "fast": list(self.fast),
            "slow": list(self.slow),
            "atr": list(self.atr),
            "prev_close": list(self.prev_close),
            "count": list(self.count),
            "above": list(self.above),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        n = len(self.fast)
        for key in ("fast", "slow", "atr", "prev_close", "count", "above"):
            values = state.get(key)
            if isinstance(values, list) and len(values) == n:
                setattr(self, key, list(values))


class SmaCrossPct:
    """Long when the fast SMA crosses above the slow one, short when below; TP/SL at a fixed
    fraction of the signal bar's close (``tp_pct``, ``sl_pct``).

    The SMAs are running sums over one ring buffer of the last ``slow`` closes per symbol, so an
    update is O(1). The first bar with a full slow window only sets the side; crosses count
    from the next bar on. This is the strategy ``bench/bench_vs_backtesting.py`` also runs in
    backtesting.py.
    """

    name = "sma_cross_pct"

    def __init__(self, n_symbols: int, cfg: StrategyConfig) -> None:
        self.n_fast = cfg.fast
        self.n_slow = cfg.slow
        self.tp_pct = cfg.tp_pct
        self.sl_pct = cfg.sl_pct
        self.ring = [[0.0] * cfg.slow for _ in range(n_symbols)]
        self.sum_fast = [0.0] * n_symbols
        self.sum_slow = [0.0] * n_symbols
        self.count = [0] * n_symbols
        self.above = [False] * n_symbols

    def update(self, idx: int, high: float, low: float, close: float) -> Signal | None:
        n = self.count[idx]
        self.count[idx] = n + 1
        n_fast, n_slow = self.n_fast, self.n_slow
        ring = self.ring[idx]
        pos = n % n_slow
        old_fast = ring[(n - n_fast) % n_slow] if n >= n_fast else 0.0
        old_slow = ring[pos] if n >= n_slow else 0.0
        ring[pos] = close
        sum_fast = self.sum_fast[idx] = self.sum_fast[idx] + (close - old_fast)
        sum_slow = self.sum_slow[idx] = self.sum_slow[idx] + (close - old_slow)
        if n < n_slow - 1:
            return None
        above = sum_fast / n_fast > sum_slow / n_slow
        crossed = above != self.above[idx]
        self.above[idx] = above
        if not crossed or n < n_slow:
            return None
        if above:
            return Signal(Side.LONG, close * (1.0 + self.tp_pct), close * (1.0 - self.sl_pct))
        return Signal(Side.SHORT, close * (1.0 - self.tp_pct), close * (1.0 + self.sl_pct))

    def state(self) -> dict[str, Any]:
        return {
            "ring": [list(r) for r in self.ring],
            "sum_fast": list(self.sum_fast),
            "sum_slow": list(self.sum_slow),
            "count": list(self.count),
            "above": list(self.above),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        n = len(self.count)
        ring = state.get("ring")
        if (
            isinstance(ring, list)
            and len(ring) == n
            and all(isinstance(r, list) and len(r) == self.n_slow for r in ring)
        ):
            self.ring = [[float(v) for v in r] for r in ring]
        for key in ("sum_fast", "sum_slow", "count", "above"):
            values = state.get(key)
            if isinstance(values, list) and len(values) == n:
                setattr(self, key, list(values))


_BUILT_IN: dict[str, Callable[[int, StrategyConfig], Strategy]] = {
    EmaCrossAtr.name: EmaCrossAtr,
    SmaCrossPct.name: SmaCrossPct,
}


def build_strategy(cfg: StrategyConfig, n_symbols: int) -> Strategy:
    """Return the configured strategy: a built-in name, or ``package.module:Class``.

    A plug-in class is called as ``Class(n_symbols, cfg)``.
    """
    built_in = _BUILT_IN.get(cfg.name)
    if built_in is not None:
        return built_in(n_symbols, cfg)
    module_name, _, class_name = cfg.name.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    strategy: Strategy = cls(n_symbols, cfg)
    return strategy


class SignalScreener:
    """Run the strategy on each bar and emit sized entry intents."""

    def __init__(
        self,
        strategy: Strategy,
        symbols: Sequence[str],
        notional_nav_pct: float,
        nav: Callable[[], float],
        risk_per_trade_nav_pct: float | None = None,
    ) -> None:
        self.strategy = strategy
        self.symbols = list(symbols)
        self.notional_nav_pct = notional_nav_pct
        self.risk_per_trade = risk_per_trade_nav_pct
        self._nav = nav

    def _size(self, price: float, sl: float) -> float:
        """Fixed fraction of NAV, or (risk sizing) the notional that loses `risk` NAV at the SL."""
        nav = self._nav()
        if self.risk_per_trade is None:
            return nav * self.notional_nav_pct
        stop_distance = abs(price - sl) / price
        return nav * self.risk_per_trade / stop_distance if stop_distance > 0 else 0.0

    def on_bar(self, idx: int, ts: float, high: float, low: float, close: float) -> Intent | None:
        """Update the strategy with one bar; return the intent it emits, if any."""
        sig = self.strategy.update(idx, high, low, close)
        if sig is None:
            return None
        return self.emit(idx, ts, close, sig)

    def on_bars(self, bars: Iterable[BarTuple]) -> list[Intent]:
        """Update the strategy with each bar of one loop; return the intents, in bar order.

        The same as :meth:`on_bar` per bar, in one call per loop (the executor's hot path).
        """
        update = self.strategy.update
        intents: list[Intent] = []
        for idx, ts, _o, high, low, close, _v in bars:
            sig = update(idx, high, low, close)
            if sig is not None:
                intents.append(self.emit(idx, ts, close, sig))
        return intents

    def emit(self, idx: int, ts: float, close: float, sig: Signal) -> Intent:
        """Turn a strategy signal on symbol ``idx`` into a sized intent and count it."""
        symbol = self.symbols[idx]
        intent = Intent(
            intent_id=f"{symbol}:{int(ts * 1000)}:{sig.side.value}",
            symbol=symbol,
            side=sig.side,
            notional=self._size(close, sig.sl),
            ref_price=close,
            tp=sig.tp,
            sl=sig.sl,
            ts=ts,
            strategy=self.strategy.name,
        )
        record_signal_emitted(symbol)
        return intent
